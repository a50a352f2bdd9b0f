// Package messaging drives the use cases from the bus: a Watermill router
// whose handlers receive app.BusMessage values, with the failure handling
// every handler shares. Around each handler, from the outside in:
//
//  1. correlation: metadata "correlation_id" into the context (CorrelationID)
//     and onto the logs (LogHandler);
//  2. dead letters: a message that fails for good is stored in the
//     database's dead-letter store (app.DeadLetterStore) and acknowledged;
//  3. retries: an error is retried with exponential back-off, up to
//     MaxAttempts in all, each attempt bounded by AttemptTimeout; an error
//     marked Permanent goes to the dead letters at once;
//  4. panic recovery: a panic is an error like any other, retried and then
//     dead-lettered; the router keeps running.
//
// When the router is closing, a message whose handling was cut short is not
// dead-lettered: it stays unacknowledged and the bus delivers it again.
//
// Closing drains first: no new message is let in, a handler pausing between
// attempts stops there, and attempts in progress run to their end with
// their context intact (a WhatsApp request cut off mid-flight would have an
// unknown outcome and never be sent again), for at most CloseTimeout. Only
// then are the subscribers closed and what still runs cancelled.
package messaging

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/acme/notifier/app"
)

// Defaults of RouterConfig. Five attempts of at most 10 s with 0.25, 0.5,
// 1 and 2 s between them (±20 %) take at most about 52 s, well inside the
// Redis bus's MaxIdleTime (5 min), which must exceed three times this (see
// the bus package's Config defaults): otherwise a message in a long retry is claimed by another
// consumer and handled twice.
const (
	DefaultMaxAttempts       = 5
	DefaultInitialInterval   = 250 * time.Millisecond
	DefaultMaxInterval       = 5 * time.Second
	DefaultMultiplier        = 2.0
	DefaultAttemptTimeout    = 10 * time.Second
	DefaultDeadLetterTimeout = 10 * time.Second
	DefaultCloseTimeout      = 20 * time.Second
)

// SubscriberFactory gives the subscriber of one handler (in the bus
// package: Redis.Subscriber or InProcess.Subscriber).
type SubscriberFactory func(handlerName string) (message.Subscriber, error)

// RouterConfig configures the router. Zero values take the defaults above.
type RouterConfig struct {
	Logger *slog.Logger
	// Subscribers gives each handler its subscriber. Required.
	Subscribers SubscriberFactory
	// DeadLetters stores messages whose handler gave up. Required.
	DeadLetters app.DeadLetterStore
	// OnDeadLetter, when set, runs after a dead letter is stored, with a
	// live context (app.DeadLetters.OnDeadLetter marks the inbound event
	// failed).
	OnDeadLetter func(ctx context.Context, d app.DeadLetter)

	// MaxAttempts is how many times a handler runs for one message, the
	// first attempt included.
	MaxAttempts int
	// InitialInterval is the pause after the first failure; each next pause
	// is Multiplier times longer, at most MaxInterval, randomised ±20 %.
	InitialInterval time.Duration
	MaxInterval     time.Duration
	Multiplier      float64
	// AttemptTimeout bounds one run of a handler.
	AttemptTimeout time.Duration
	// DeadLetterTimeout bounds storing a dead letter and running
	// OnDeadLetter.
	DeadLetterTimeout time.Duration
	// CloseTimeout is how long Close waits for the attempts in progress to
	// finish before it cancels them.
	CloseTimeout time.Duration

	// Metrics, when set, receives the handlers' metrics (processed,
	// failed and retried messages; see metrics.go) and Watermill's own
	// router metrics.
	Metrics prometheus.Registerer

	Now func() time.Time
}

func (c *RouterConfig) setDefaults() {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.InitialInterval <= 0 {
		c.InitialInterval = DefaultInitialInterval
	}
	if c.MaxInterval <= 0 {
		c.MaxInterval = DefaultMaxInterval
	}
	if c.Multiplier < 1 {
		c.Multiplier = DefaultMultiplier
	}
	if c.AttemptTimeout <= 0 {
		c.AttemptTimeout = DefaultAttemptTimeout
	}
	if c.DeadLetterTimeout <= 0 {
		c.DeadLetterTimeout = DefaultDeadLetterTimeout
	}
	if c.CloseTimeout <= 0 {
		c.CloseTimeout = DefaultCloseTimeout
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// WorstCase is the longest one message can spend in its handler and the
// retries: every attempt running to AttemptTimeout, every pause at its
// upper bound. The Redis bus's MaxIdleTime must stay well above it.
func (c RouterConfig) WorstCase() time.Duration {
	c.setDefaults()
	total := time.Duration(c.MaxAttempts) * c.AttemptTimeout
	for i := 1; i < c.MaxAttempts; i++ {
		total += time.Duration(float64(c.backoff(i)) * (1 + jitter))
	}
	return total
}

// jitter is the relative spread of the pauses between attempts.
const jitter = 0.2

// backoff is the pause after the n-th failed attempt, before jitter.
func (c RouterConfig) backoff(n int) time.Duration {
	d := float64(c.InitialInterval) * math.Pow(c.Multiplier, float64(n-1))
	return time.Duration(math.Min(d, float64(c.MaxInterval)))
}

// HandlerFunc handles one message. An error is retried, unless it is
// Permanent; ctx ends when the attempt times out or the router closes.
type HandlerFunc func(ctx context.Context, msg app.BusMessage) error

// cancelledCloseTimeout bounds how long Watermill waits, after the drain,
// for handlers whose context was just cancelled: they return at once
// unless something ignores its context.
const cancelledCloseTimeout = 5 * time.Second

// ackFlush is the pause between the drain's last attempt and closing the
// subscribers. Watermill acknowledges a message after its handler returned,
// and the Redis subscriber sends that acknowledgement from a goroutine of
// its own, which gives up once the subscriber is closed: without the pause
// the last messages of a drain may be handled again after a restart
// (harmless, the handlers are idempotent, but wasted).
const ackFlush = 250 * time.Millisecond

// Router runs the handlers.
type Router struct {
	cfg     RouterConfig
	log     *slog.Logger
	router  *message.Router
	metrics *handlerMetrics // nil without RouterConfig.Metrics

	mu    sync.Mutex
	names map[string]bool

	// draining is closed when Close begins; inFlight counts the messages
	// let in, so that the drain knows when they are done. Both are guarded
	// by mu, so that no message is let in once the drain waits.
	draining  chan struct{}
	inFlight  sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// NewRouter builds a router with the shared middleware; add handlers with
// Handle, then Run it.
func NewRouter(cfg RouterConfig) (*Router, error) {
	if cfg.Subscribers == nil || cfg.DeadLetters == nil {
		return nil, errors.New("messaging: a subscriber factory and a dead-letter store are required")
	}
	cfg.setDefaults()
	log := slog.New(LogHandler(cfg.Logger.Handler()))
	wr, err := message.NewRouter(message.RouterConfig{CloseTimeout: cancelledCloseTimeout},
		watermill.NewSlogLoggerWithLevelMapping(log, map[slog.Level]slog.Level{slog.LevelInfo: slog.LevelDebug}))
	if err != nil {
		return nil, fmt.Errorf("messaging: %w", err)
	}
	r := &Router{cfg: cfg, log: log, router: wr, names: map[string]bool{}, draining: make(chan struct{})}
	poison, err := middleware.PoisonQueueWithFilter(
		&deadLetterPublisher{store: cfg.DeadLetters, onDead: cfg.OnDeadLetter, log: log,
			timeout: cfg.DeadLetterTimeout, now: cfg.Now},
		deadLetterTopic,
		func(err error) bool { return !errors.As(err, new(interruptedError)) },
	)
	if err != nil {
		return nil, fmt.Errorf("messaging: %w", err)
	}
	// The first added runs outermost.
	wr.AddMiddleware(r.admit, correlate, poison)
	if cfg.Metrics != nil {
		if r.metrics, err = newHandlerMetrics(cfg.Metrics); err != nil {
			return nil, err
		}
		wm, err := watermillMetrics(cfg.Metrics, wr)
		if err != nil {
			return nil, err
		}
		// Inside the poison queue: a message that ends dead-lettered
		// counts as a failure, its retries included in its time.
		wr.AddMiddleware(wm)
	}
	wr.AddMiddleware(r.retry, middleware.Recoverer)
	return r, nil
}

// Handle registers fn as the handler name of topic. The name is the
// handler's consumer group with Redis and is recorded with its dead
// letters: keep it stable.
func (r *Router) Handle(name, topic string, fn HandlerFunc) error {
	if name == "" || topic == "" || fn == nil {
		return errors.New("messaging: a handler needs a name, a topic and a function")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.names[name] {
		return fmt.Errorf("messaging: a handler named %q already exists", name)
	}
	sub, err := r.cfg.Subscribers(name)
	if err != nil {
		return fmt.Errorf("messaging: subscriber of %s: %w", name, err)
	}
	r.names[name] = true
	r.metrics.init(name)
	timeout := r.cfg.AttemptTimeout
	r.router.AddConsumerHandler(name, topic, sub, func(msg *message.Message) error {
		ctx, cancel := context.WithTimeout(msg.Context(), timeout)
		defer cancel()
		return fn(ctx, toBusMessage(msg))
	})
	return nil
}

// Run runs the handlers until ctx ends or Close is called, then drains
// (see the package comment) and returns.
func (r *Router) Run(ctx context.Context) error {
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
			if err := r.Close(); err != nil {
				r.log.Warn("closing the message router", "err", err)
			}
		case <-done:
		}
	}()
	// Watermill hands its context to every message: the caller's
	// cancellation must not reach attempts in progress before the drain
	// lets them finish. Close cancels it afterwards.
	if err := r.router.Run(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("messaging: %w", err)
	}
	return nil
}

// Running is closed once every handler is subscribed: a message published
// after that reaches its handler, also on the in-process bus.
func (r *Router) Running() <-chan struct{} { return r.router.Running() }

// Close drains the router: it lets no new message in, waits at most
// CloseTimeout for the attempts in progress, then closes the subscribers
// and cancels what still runs. Messages not handled stay unacknowledged and
// the bus delivers them again. It is safe to call more than once.
func (r *Router) Close() error {
	r.closeOnce.Do(func() {
		r.mu.Lock()
		close(r.draining)
		r.mu.Unlock()
		idle := make(chan struct{})
		go func() {
			r.inFlight.Wait()
			close(idle)
		}()
		t := time.NewTimer(r.cfg.CloseTimeout)
		defer t.Stop()
		select {
		case <-idle:
			time.Sleep(ackFlush)
		case <-t.C:
			r.log.Warn("handlers still running after the close timeout are cancelled",
				"close_timeout", r.cfg.CloseTimeout)
		}
		r.closeErr = r.router.Close()
	})
	return r.closeErr
}

// errDraining refuses a message that arrives while the router closes. It is
// a cancellation, which Watermill does not log as a handler error: the
// message is merely left for later.
var errDraining = fmt.Errorf("the router is closing: %w", context.Canceled)

func (r *Router) isDraining() bool {
	select {
	case <-r.draining:
		return true
	default:
		return false
	}
}

// admit lets a message in unless the router is draining; one refused stays
// unacknowledged (interrupted errors are not dead-lettered) and the bus
// delivers it again, to another consumer or after a restart.
func (r *Router) admit(h message.HandlerFunc) message.HandlerFunc {
	return func(msg *message.Message) ([]*message.Message, error) {
		r.mu.Lock()
		if r.isDraining() {
			r.mu.Unlock()
			return nil, interruptedError{errDraining}
		}
		r.inFlight.Add(1)
		r.mu.Unlock()
		defer r.inFlight.Done()
		return h(msg)
	}
}

// toBusMessage is the app's view of msg; the metadata is a copy.
func toBusMessage(msg *message.Message) app.BusMessage {
	md := make(map[string]string, len(msg.Metadata))
	for k, v := range msg.Metadata {
		if !internalMetadata(k) {
			md[k] = v
		}
	}
	return app.BusMessage{ID: msg.UUID, Payload: msg.Payload, Metadata: md}
}

// correlate puts the message's correlation id into its context.
func correlate(h message.HandlerFunc) message.HandlerFunc {
	return func(msg *message.Message) ([]*message.Message, error) {
		if id := msg.Metadata.Get(CorrelationIDKey); id != "" {
			msg.SetContext(WithCorrelationID(msg.Context(), id))
		}
		return h(msg)
	}
}

// Metadata the retries leave on a message for the dead-letter publisher;
// they survive a redelivery within the process (after a failed dead-letter
// write), so attempts add up.
const (
	attemptsKey    = "_notifier_attempts"
	firstFailedKey = "_notifier_first_failed_at"
)

func internalMetadata(k string) bool {
	switch k {
	case attemptsKey, firstFailedKey, middleware.ReasonForPoisonedKey, middleware.PoisonedTopicKey,
		middleware.PoisonedHandlerKey, middleware.PoisonedSubscriberKey:
		return true
	}
	return false
}

// retry runs h until it succeeds, fails with a Permanent error, or has run
// MaxAttempts times, pausing with exponential back-off in between. It
// counts attempts and keeps the first failure's time for the dead letter.
//
// Watermill's middleware.Retry is not used: its ShouldRetry (the only way
// to stop on a permanent error) draws from the back-off, so every retry
// skips one step of it, and it keeps no count for the dead letter.
func (r *Router) retry(h message.HandlerFunc) message.HandlerFunc {
	return func(msg *message.Message) ([]*message.Message, error) {
		ctx := msg.Context()
		attempts := atoi(msg.Metadata.Get(attemptsKey))
		first, _ := time.Parse(time.RFC3339Nano, msg.Metadata.Get(firstFailedKey))
		// Made at the first failure: formatting these attributes for every
		// message cost a few percent of a scan's CPU, for nothing.
		var log *slog.Logger
		var err error
		stackLogged := false
		for n := 1; ; n++ {
			if _, err = h(msg); err == nil {
				r.metrics.processed(msg)
				return nil, nil
			}
			if ctx.Err() != nil {
				// The router is closing: the bus delivers it again.
				return nil, interruptedError{err}
			}
			attempts++
			if first.IsZero() {
				first = r.cfg.Now()
			}
			if log == nil {
				log = r.log.With("handler", message.HandlerNameFromCtx(ctx),
					"topic", message.SubscribeTopicFromCtx(ctx), "message_id", msg.UUID)
			}
			err = r.explain(ctx, log, err, &stackLogged)
			if IsPermanent(err) || n >= r.cfg.MaxAttempts {
				r.metrics.failed(msg)
				break
			}
			pause := r.cfg.backoff(n)
			pause = time.Duration(float64(pause) * (1 + jitter*(2*rand.Float64()-1)))
			log.WarnContext(ctx, "handler failed, retrying", "attempt", n, "of", r.cfg.MaxAttempts,
				"retry_in", pause.Round(time.Millisecond), "err", err)
			t := time.NewTimer(pause)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return nil, interruptedError{err}
			case <-r.draining:
				// A pause is no work in progress: the drain does not wait
				// for it, the bus delivers the message again.
				t.Stop()
				return nil, interruptedError{err}
			}
			r.metrics.retried(msg)
		}
		msg.Metadata.Set(attemptsKey, fmt.Sprint(attempts))
		msg.Metadata.Set(firstFailedKey, first.UTC().Format(time.RFC3339Nano))
		return nil, err
	}
}

// explain turns a recovered panic into a short error, logging its stack
// the first time; other errors pass unchanged.
func (r *Router) explain(ctx context.Context, log *slog.Logger, err error, stackLogged *bool) error {
	var p middleware.RecoveredPanicError
	if !errors.As(err, &p) {
		return err
	}
	if !*stackLogged {
		log.ErrorContext(ctx, "handler panicked", "panic", fmt.Sprint(p.V), "stack", p.Stacktrace)
		*stackLogged = true
	}
	return fmt.Errorf("panic: %v", p.V)
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// interruptedError is a failure cut short by the router closing: it is
// not dead-lettered.
type interruptedError struct{ err error }

func (e interruptedError) Error() string { return "interrupted: " + e.err.Error() }
func (e interruptedError) Unwrap() error { return e.err }

// Permanent marks err as one that no retry can fix (a payload that cannot
// be decoded, a reference that will never exist): the message goes to the
// dead letters after this attempt.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// IsPermanent reports whether err, or an error it wraps, is Permanent.
func IsPermanent(err error) bool { return errors.As(err, new(permanentError)) }

type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }
