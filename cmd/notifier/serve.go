package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/acme/notifier/adapters/rulesfile"
	"github.com/acme/notifier/domain"
	"github.com/acme/notifier/ports/messaging"
)

func newLogger(cfg Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel)) // validated by LoadConfig
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if cfg.LogFormat == "json" {
		h = slog.NewJSONHandler(w, opts)
	}
	// Every line logged with a handler's context carries its correlation id.
	return slog.New(messaging.LogHandler(h))
}

func loadRules(cfg Config) ([]domain.Rule, error) {
	if cfg.RulesFile == "" {
		return domain.DefaultRules(cfg.ProgressWindow), nil
	}
	rules, err := rulesfile.Load(cfg.RulesFile, cfg.ProgressWindow)
	if err != nil {
		return nil, &ConfigError{Var: "NOTIFIER_RULES_FILE", Msg: err.Error()}
	}
	return rules, nil
}

func migrate(ctx context.Context, cfg Config, stdout io.Writer) error {
	store, where, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	fmt.Fprintf(stdout, "migrations applied (%s)\n", where)
	return nil
}

func serve(ctx context.Context, cfg Config, stdout io.Writer) error {
	log := newLogger(cfg, os.Stderr)
	if _, err := loadRules(cfg); err != nil {
		return err // a bad rules file is a configuration error: say so before opening anything
	}
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return &ConfigError{Var: "NOTIFIER_HTTP_ADDR", Msg: err.Error()}
	}
	defer ln.Close()
	s, err := newService(ctx, cfg, log, overrides{timing: linkedTiming()})
	if err != nil {
		return err
	}
	defer s.Close()
	printBanner(stdout, s, ln.Addr().String())
	if err = s.run(ctx, ln); err != nil {
		log.Error("notifier stopped", "err", err)
		return err
	}
	log.Info("notifier stopped")
	return nil
}

// testTiming is set only when the tests that run the binary build it
// (-ldflags "-X main.testTiming=fast"): recovery after a crash then takes
// seconds instead of minutes. It is no configuration: a binary built
// otherwise always runs on productionTiming.
var testTiming string

// linkedTiming is the timing testTiming asks for, or nil for production.
func linkedTiming() *timing {
	if testTiming != "fast" {
		return nil
	}
	return &timing{
		sendSweepEvery: 100 * time.Millisecond, staleClaimAfter: 3 * time.Second,
		schedulerEvery: 100 * time.Millisecond, recoverEvery: 500 * time.Millisecond, recoverAfter: 2 * time.Second,
	}
}
