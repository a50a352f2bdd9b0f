package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/sync/errgroup"

	"github.com/acme/notifier/adapters/postgres"
	"github.com/acme/notifier/adapters/rulesfile"
	"github.com/acme/notifier/adapters/sqlite"
	"github.com/acme/notifier/adapters/whatsapp"
	"github.com/acme/notifier/app"
	"github.com/acme/notifier/domain"
	"github.com/acme/notifier/ports/httpapi"
)

const (
	// sendSweepEvery is how often PENDING rows that are due are sent.
	sendSweepEvery = 5 * time.Second
	// staleClaimAfter is how long a claimed row may wait for its outcome
	// before it is declared unknown: far beyond the sender's HTTP timeout.
	staleClaimAfter = 5 * time.Minute
	shutdownGrace   = 25 * time.Second
)

func newLogger(cfg Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel)) // validated by LoadConfig
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// openStore opens (and migrates) PostgreSQL when DATABASE_URL is set, the
// embedded SQLite file in NOTIFIER_DATA_DIR otherwise.
func openStore(ctx context.Context, cfg Config) (app.Store, string, error) {
	if cfg.DatabaseURL != "" {
		if err := postgres.Migrate(ctx, cfg.DatabaseURL); err != nil {
			return nil, "", err
		}
		s, err := postgres.Open(ctx, cfg.DatabaseURL)
		return s, "postgres", err
	}
	path := filepath.Join(cfg.DataDir, "notifier.db")
	s, err := sqlite.Open(ctx, path)
	return s, "sqlite " + path, err
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
	rules, err := loadRules(cfg)
	if err != nil {
		return err
	}
	store, where, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()

	var sender app.Sender = whatsapp.DryRun{}
	application, err := app.New(
		app.Settings{Rules: rules, Location: cfg.Location, PhoneRegion: cfg.PhoneRegion},
		app.Deps{Store: store, Sender: sender, Logger: log},
	)
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return &ConfigError{Var: "NOTIFIER_HTTP_ADDR", Msg: err.Error()}
	}
	gin.SetMode(gin.ReleaseMode)
	srv := &http.Server{
		Handler: httpapi.NewRouter(httpapi.Options{
			Logger: log,
			Checks: map[string]httpapi.Check{"store": store.Ping},
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	printBanner(stdout, cfg, ln.Addr().String(), where)

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http server: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-gctx.Done()
		shutCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		defer cancel()
		return srv.Shutdown(shutCtx)
	})
	if cfg.Role == "all" || cfg.Role == "worker" {
		g.Go(func() error { return sweepSends(gctx, application.Send, log) })
	}
	err = g.Wait()
	log.Info("notifier stopped")
	return err
}

// sweepSends sends due PENDING rows and settles claims whose outcome was
// never recorded, until ctx ends.
func sweepSends(ctx context.Context, send *app.SendHandler, log *slog.Logger) error {
	t := time.NewTicker(sendSweepEvery)
	defer t.Stop()
	for {
		if n, err := send.SettleStale(ctx, staleClaimAfter); err != nil {
			log.WarnContext(ctx, "settle stale sends", "err", err)
		} else if n > 0 {
			log.WarnContext(ctx, "sends with unknown outcome marked FAILED", "count", n)
		}
		if _, err := send.SendDue(ctx, 100); err != nil {
			log.WarnContext(ctx, "send due messages", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func printBanner(w io.Writer, cfg Config, addr, store string) {
	bus := "in-process"
	if cfg.RedisURL != "" {
		bus = "redis streams"
	}
	mode := "dry run (no WHATSAPP_TOKEN)"
	if !cfg.WhatsApp.DryRun() {
		mode = "WhatsApp Cloud API " + cfg.WhatsApp.APIURL
	}
	fmt.Fprintf(w, "notifier %s listening on http://%s (role %s, %s)\n", version, addr, cfg.Role, cfg.Env)
	fmt.Fprintf(w, "  store: %s; bus: %s; sends: %s; timezone %s; daily scan %s\n",
		store, bus, mode, cfg.Location, cfg.ScanAt)
	fmt.Fprintf(w, "  Moodle webhooks: POST http://%s/webhooks/moodle\n", addr)
	fmt.Fprintf(w, "  admin API:       http://%s/api/v1 (Authorization: Bearer <token>)\n", addr)
	if len(cfg.Generated) > 0 {
		fmt.Fprintf(w, "  generated development secrets (kept in %s):\n", filepath.Join(cfg.DataDir, devSecretsFile))
		for _, g := range cfg.Generated {
			fmt.Fprintf(w, "    %s\n", g)
		}
	}
}
