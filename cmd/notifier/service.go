package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/sync/errgroup"

	"github.com/acme/notifier/adapters/moodle"
	"github.com/acme/notifier/adapters/postgres"
	"github.com/acme/notifier/adapters/sqlite"
	"github.com/acme/notifier/adapters/whatsapp"
	"github.com/acme/notifier/app"
	"github.com/acme/notifier/ports/httpapi"
	"github.com/acme/notifier/ports/messaging"
)

// storage is every store port; both adapters implement all of them.
type storage interface {
	app.Store
	app.InboundStore
	app.DeadLetterStore
	app.ScanStore
	app.WhatsAppStore
	app.AdminStore
	metricsStore
}

var (
	_ storage = (*postgres.Store)(nil)
	_ storage = (*sqlite.Store)(nil)
)

// timing holds the service's periods; tests shorten them.
type timing struct {
	// sendSweepEvery is how often PENDING rows that are due are sent.
	sendSweepEvery time.Duration
	// staleClaimAfter is how long a claimed row may wait for its outcome
	// before it is declared unknown: far beyond the sender's HTTP timeout.
	staleClaimAfter time.Duration
	// schedulerEvery is how often the scheduler starts due scans,
	// dispatches new ones and closes finished ones.
	schedulerEvery time.Duration
	// recoverEvery and recoverAfter: stored events still unprocessed this
	// long after they arrived are published again.
	recoverEvery time.Duration
	recoverAfter time.Duration
}

var productionTiming = timing{
	sendSweepEvery: 5 * time.Second, staleClaimAfter: 5 * time.Minute, schedulerEvery: 2 * time.Second,
	recoverEvery: 30 * time.Second, recoverAfter: 2 * time.Minute,
}

// idempotencyPurgeEvery spaces the scheduler's purges of the Idempotency-Keys
// older than app.IdempotencyKeyLifetime: they expire by the week, so once an
// hour (and at start) is plenty.
const idempotencyPurgeEvery = time.Hour

// shutdownGrace bounds how long, after SIGTERM, requests, handlers and sends
// in progress may take to finish before they are cut. With the closing
// that follows it stays under the 30 s that container runtimes wait
// before SIGKILL (and main's own exit deadline).
const shutdownGrace = 20 * time.Second

// sendBatch is how many due rows one sweep sends before it looks whether
// the service is stopping: it stops between rows, never during one.
const sendBatch = 10

// overrides replace production parts in component tests; the zero value
// changes nothing.
type overrides struct {
	sender   app.Sender
	progress app.ProgressSource
	timing   *timing
	now      func() time.Time
}

// service is the whole notifier wired together: what serve runs, and what
// component tests start.
type service struct {
	cfg      Config
	log      *slog.Logger
	store    storage
	bus      eventBus
	where    string // the store, for the banner
	busName  string
	app      *app.Application
	scans    *app.ScanHandler
	dead     *app.DeadLetters
	admin    *app.Admin
	recovery *app.Recovery
	router   *messaging.Router // nil for the api and scheduler roles
	handler  http.Handler
	metrics  *metrics
	poke     chan struct{}
	timing   timing
}

// openStore opens (and migrates) PostgreSQL when DATABASE_URL is set, the
// embedded SQLite file in NOTIFIER_DATA_DIR otherwise.
func openStore(ctx context.Context, cfg Config) (storage, string, error) {
	if cfg.DatabaseURL != "" {
		if err := postgres.Migrate(ctx, cfg.DatabaseURL); err != nil {
			return nil, "", err
		}
		s, err := postgres.Open(ctx, cfg.DatabaseURL)
		if err != nil {
			return nil, "", err
		}
		return s, "postgres", nil
	}
	path := filepath.Join(cfg.DataDir, "notifier.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		return nil, "", err
	}
	return s, "sqlite " + path, nil
}

func newSender(cfg Config, log *slog.Logger, m *whatsapp.Metrics) (app.Sender, error) {
	if cfg.WhatsApp.DryRun() {
		return whatsapp.DryRun{}, nil
	}
	return whatsapp.NewClient(whatsapp.ClientConfig{
		Token: cfg.WhatsApp.Token, PhoneID: cfg.WhatsApp.PhoneID, APIURL: cfg.WhatsApp.APIURL,
		Version: version, RatePerSecond: float64(cfg.WhatsApp.RatePerSecond),
		RedisURL: cfg.RedisURL, RedisPrefix: cfg.StreamPrefix, Logger: log, Metrics: m,
	})
}

// newMoodle is the Moodle web-services client, or nil without MOODLE_URL.
func newMoodle(cfg Config, log *slog.Logger) (*moodle.Client, error) {
	if cfg.MoodleURL == "" {
		return nil, nil
	}
	c, err := moodle.New(moodle.Config{BaseURL: cfg.MoodleURL, Token: cfg.MoodleToken, Logger: log})
	if err != nil {
		return nil, &ConfigError{Var: "MOODLE_URL", Msg: err.Error()}
	}
	return c, nil
}

// newService opens the store and the bus and builds every use case, port and
// handler. Close releases what it opened.
func newService(ctx context.Context, cfg Config, log *slog.Logger, over overrides) (_ *service, err error) {
	s := &service{cfg: cfg, log: log, poke: make(chan struct{}, 1), timing: productionTiming}
	if over.timing != nil {
		s.timing = *over.timing
	}
	defer func() {
		if err != nil {
			_ = s.Close()
		}
	}()
	rules, err := loadRules(cfg)
	if err != nil {
		return nil, err
	}
	if s.store, s.where, err = openStore(ctx, cfg); err != nil {
		return nil, err
	}
	if s.bus, s.busName, err = openBus(ctx, cfg, log); err != nil {
		return nil, err
	}
	if s.metrics, err = newMetrics(s.store); err != nil {
		return nil, err
	}
	sender := over.sender
	if sender == nil {
		if sender, err = newSender(cfg, log, s.metrics.whatsapp); err != nil {
			return nil, err
		}
	}
	settings := app.Settings{Rules: rules, Location: cfg.Location, PhoneRegion: cfg.PhoneRegion}
	if s.app, err = app.New(settings, app.Deps{Store: s.store, Sender: sender, Logger: log, Now: over.now}); err != nil {
		return nil, err
	}
	moodleClient, err := newMoodle(cfg, log)
	if err != nil {
		return nil, err
	}
	progress := over.progress
	if progress == nil && moodleClient != nil {
		progress = moodleClient
	}
	if s.scans, err = app.NewScanHandler(s.app, s.store, s.bus, progress); err != nil {
		return nil, err
	}
	s.scans.ObserveScans(s.metrics.scans)
	s.dead, err = app.NewDeadLetters(app.DeadLettersDeps{
		Store: s.store, Bus: s.bus, Inbound: s.store, Logger: log,
		Hooks: map[string]app.DeadLetterHook{app.TopicScanItems: messaging.ScanItemDeadLettered(s.scans)},
	})
	if err != nil {
		return nil, err
	}
	if s.recovery, err = app.NewRecovery(s.store, s.bus, time.Now, log); err != nil {
		return nil, err
	}
	wa, err := app.NewWhatsAppWebhooks(settings, app.WhatsAppWebhookDeps{
		Store: s.store, WhatsApp: s.store, Inbound: s.store, Bus: s.bus, Logger: log})
	if err != nil {
		return nil, err
	}
	if s.admin, err = newAdmin(ctx, s.app, s.store, moodleClient); err != nil {
		return nil, err
	}
	if cfg.Role == "all" || cfg.Role == "worker" {
		if err := s.buildRouter(wa); err != nil {
			return nil, err
		}
	}
	if s.handler, err = s.buildHTTP(wa); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *service) buildRouter(wa *app.WhatsAppWebhooks) error {
	events, err := app.NewMoodleEventProcessor(s.app, s.store)
	if err != nil {
		return err
	}
	s.router, err = messaging.NewRouter(messaging.RouterConfig{
		Logger: s.log, Subscribers: s.bus.Subscriber, DeadLetters: s.store, OnDeadLetter: s.dead.OnDeadLetter,
		Metrics: s.metrics.registry, CloseTimeout: shutdownGrace,
	})
	if err != nil {
		return err
	}
	return messaging.Handlers{MoodleEvents: events, Scans: s.scans, WhatsApp: wa.Process.Handle}.Register(s.router)
}

func (s *service) buildHTTP(wa *app.WhatsAppWebhooks) (http.Handler, error) {
	ingest, err := app.NewIngestHandler(s.store, s.bus, time.Now, s.log)
	if err != nil {
		return nil, err
	}
	moodleHook, err := httpapi.NewMoodleWebhook(s.cfg.WebhookSecrets, ingest, time.Now)
	if err != nil {
		return nil, err
	}
	waHook, err := httpapi.NewWhatsAppWebhook(httpapi.WhatsAppWebhookConfig{
		AppSecret: s.cfg.WhatsApp.AppSecret, VerifyToken: s.cfg.WhatsApp.VerifyToken,
		Receiver: wa.Receive, Logger: s.log,
	})
	if err != nil {
		return nil, err
	}
	gin.SetMode(gin.ReleaseMode)
	return httpapi.NewRouter(httpapi.Options{
		Logger:         s.log,
		Checks:         map[string]httpapi.Check{"store": s.store.Ping, "bus": s.bus.Ping},
		Metrics:        s.metrics.http,
		MetricsHandler: s.metrics.handler(s.log),
		AdminTokens:    s.cfg.AdminTokens,
		Routes:         []func(gin.IRoutes){moodleHook.Register, waHook.Register, httpapi.RegisterOpenAPI},
		AdminRoutes: append([]func(gin.IRoutes){
			httpapi.MessageRoutes{Queries: s.app.Queries}.Register,
			httpapi.ScanRoutes{Scans: s.scans, Poke: s.wake}.Register,
			httpapi.DeadLetterRoutes{DeadLetters: s.dead}.Register,
		}, adminRoutes(s.app, s.admin)...),
	}), nil
}

// wake makes the scheduler loop run now (a new manual scan).
func (s *service) wake() {
	select {
	case s.poke <- struct{}{}:
	default:
	}
}

// Close releases the bus and the store.
func (s *service) Close() error {
	var errs []error
	if s.bus != nil {
		errs = append(errs, s.bus.Close())
	}
	if s.store != nil {
		errs = append(errs, s.store.Close())
	}
	return errors.Join(errs...)
}

// run serves HTTP on ln and runs the parts of the role until ctx ends. Then
// it shuts down gracefully: it stops taking requests and bus messages at
// once, lets the requests, handler attempts and sends in progress finish
// (for at most shutdownGrace), and returns. Nothing in progress is lost
// either way: events are stored before they are acknowledged, a message
// not acknowledged comes back, and recovery republishes what was stored
// and never processed; but a WhatsApp request cut off mid-flight has an
// unknown outcome and is never sent again, hence the wait.
func (s *service) run(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second}
	g, gctx := errgroup.WithContext(ctx)
	// work carries what is in progress when gctx ends: it lives
	// shutdownGrace longer.
	work, abort := context.WithCancel(context.WithoutCancel(ctx))
	defer abort()
	stopGrace := context.AfterFunc(gctx, func() {
		s.log.Info("shutting down: no new requests or messages; waiting for those in progress",
			"grace", shutdownGrace)
		time.AfterFunc(shutdownGrace, abort)
	})
	defer stopGrace()
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
		if err := srv.Shutdown(shutCtx); err != nil {
			_ = srv.Close() // requests still running after the grace are cut
			return fmt.Errorf("http shutdown: %w", err)
		}
		return nil
	})
	if s.router != nil {
		// The router drains by itself when gctx ends (messaging.Router.Close).
		g.Go(func() error { return s.router.Run(gctx) })
		g.Go(func() error {
			// The in-process bus drops messages published before their
			// handler subscribed: recover once the router runs.
			select {
			case <-s.router.Running():
			case <-gctx.Done():
				return nil
			}
			if err := s.scans.Recover(gctx); err != nil && gctx.Err() == nil {
				s.log.WarnContext(gctx, "republish pending scan items", "err", err)
			}
			s.recovery.RunRecovery(gctx, app.RecoveryLoop{Every: s.timing.recoverEvery, OlderThan: s.timing.recoverAfter})
			return nil
		})
		g.Go(func() error { return s.sweepSends(gctx, work) })
	}
	if s.cfg.Role == "all" || s.cfg.Role == "scheduler" {
		g.Go(func() error { return s.schedule(gctx) })
	}
	return g.Wait()
}

// schedule runs the scheduler until ctx ends.
func (s *service) schedule(ctx context.Context) error {
	// A sync whose process died while running it would show running for
	// ever: declare it failed so that staff start it again.
	if n, err := s.admin.Sync.FailAbandoned(ctx); err != nil && ctx.Err() == nil {
		s.log.WarnContext(ctx, "fail abandoned syncs", "err", err)
	} else if n > 0 {
		s.log.WarnContext(ctx, "abandoned syncs marked failed", "count", n)
	}
	t := time.NewTicker(s.timing.schedulerEvery)
	defer t.Stop()
	at := s.cfg.ScanAt
	var purged time.Time // the last purge of Idempotency-Keys
	for {
		purged = s.purgeIdempotencyKeys(ctx, purged)
		if err := s.scans.Tick(ctx, !at.Off, at.Hour, at.Minute); err != nil && ctx.Err() == nil {
			s.log.WarnContext(ctx, "scheduler", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-s.poke:
		}
	}
}

// purgeIdempotencyKeys deletes the expired Idempotency-Keys unless the last
// purge, at last (zero: none yet), is less than idempotencyPurgeEvery old,
// and returns when the last purge was. A failed purge waits for the next
// turn like any other.
func (s *service) purgeIdempotencyKeys(ctx context.Context, last time.Time) time.Time {
	if !last.IsZero() && time.Since(last) < idempotencyPurgeEvery {
		return last
	}
	n, err := s.admin.Idempotency.Purge(ctx)
	switch {
	case err != nil && ctx.Err() == nil:
		s.log.WarnContext(ctx, "purge expired Idempotency-Keys", "err", err, "count", n)
	case n > 0:
		s.log.InfoContext(ctx, "expired Idempotency-Keys purged", "count", n)
	}
	return time.Now()
}

// sweepSends sends due PENDING rows and settles claims whose outcome was
// never recorded, until stop ends. The sends run on work, which outlives
// stop by the shutdown grace: a sweep stops between rows, never during one.
func (s *service) sweepSends(stop, work context.Context) error {
	t := time.NewTicker(s.timing.sendSweepEvery)
	defer t.Stop()
	send := s.app.Send
	for {
		if n, err := send.SettleStale(stop, s.timing.staleClaimAfter); err != nil && stop.Err() == nil {
			s.log.WarnContext(stop, "settle stale sends", "err", err)
		} else if n > 0 {
			s.log.WarnContext(stop, "sends with unknown outcome marked FAILED", "count", n)
		}
		for stop.Err() == nil {
			n, err := send.SendDue(work, sendBatch)
			if err != nil && work.Err() == nil {
				s.log.WarnContext(stop, "send due messages", "err", err)
			}
			if err != nil || n < sendBatch {
				break
			}
		}
		select {
		case <-stop.Done():
			return nil
		case <-t.C:
		}
	}
}

func printBanner(w io.Writer, s *service, addr string) {
	cfg := s.cfg
	mode := "dry run (no WHATSAPP_TOKEN)"
	if !cfg.WhatsApp.DryRun() {
		mode = "WhatsApp Cloud API " + cfg.WhatsApp.APIURL
	}
	fmt.Fprintf(w, "notifier %s listening on http://%s (role %s, %s)\n", version, addr, cfg.Role, cfg.Env)
	fmt.Fprintf(w, "  store: %s; bus: %s; sends: %s; timezone %s; daily scan %s\n",
		s.where, s.busName, mode, cfg.Location, cfg.ScanAt)
	fmt.Fprintf(w, "  Moodle webhooks: POST http://%s/webhooks/moodle\n", addr)
	fmt.Fprintf(w, "  admin API:       http://%s/api/v1 (Authorization: Bearer <token>)\n", addr)
	if len(cfg.Generated) > 0 {
		fmt.Fprintf(w, "  generated development secrets (kept in %s):\n", filepath.Join(cfg.DataDir, devSecretsFile))
		for _, g := range cfg.Generated {
			fmt.Fprintf(w, "    %s\n", g)
		}
	}
}
