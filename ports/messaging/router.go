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

	"github.com/acme/notifier/app"
)

// Defaults of RouterConfig. Five attempts of at most 10 s with 0.25, 0.5,
// 1 and 2 s between them (±20 %) take at most about 52 s, well inside the
// Redis bus's MaxIdleTime (5 min), which must exceed three times this (see
// adapters/bus): otherwise a message in a long retry is claimed by another
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

// SubscriberFactory gives the subscriber of one handler (adapters/bus:
// Redis.Subscriber or InProcess.Subscriber).
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
	// CloseTimeout is how long Close waits for handlers in progress.
	CloseTimeout time.Duration

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

// Router runs the handlers.
type Router struct {
	cfg    RouterConfig
	log    *slog.Logger
	router *message.Router

	mu    sync.Mutex
	names map[string]bool
}

// NewRouter builds a router with the shared middleware; add handlers with
// Handle, then Run it.
func NewRouter(cfg RouterConfig) (*Router, error) {
	if cfg.Subscribers == nil || cfg.DeadLetters == nil {
		return nil, errors.New("messaging: a subscriber factory and a dead-letter store are required")
	}
	cfg.setDefaults()
	log := slog.New(LogHandler(cfg.Logger.Handler()))
	wr, err := message.NewRouter(message.RouterConfig{CloseTimeout: cfg.CloseTimeout},
		watermill.NewSlogLoggerWithLevelMapping(log, map[slog.Level]slog.Level{slog.LevelInfo: slog.LevelDebug}))
	if err != nil {
		return nil, fmt.Errorf("messaging: %w", err)
	}
	r := &Router{cfg: cfg, log: log, router: wr, names: map[string]bool{}}
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
	wr.AddMiddleware(correlate, poison, r.retry, middleware.Recoverer)
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
	timeout := r.cfg.AttemptTimeout
	r.router.AddConsumerHandler(name, topic, sub, func(msg *message.Message) error {
		ctx, cancel := context.WithTimeout(msg.Context(), timeout)
		defer cancel()
		return fn(ctx, toBusMessage(msg))
	})
	return nil
}

// Run runs the handlers until ctx ends or Close is called, then waits for
// the handlers in progress (at most CloseTimeout).
func (r *Router) Run(ctx context.Context) error {
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
			if err := r.router.Close(); err != nil {
				r.log.Warn("closing the message router", "err", err)
			}
		case <-done:
		}
	}()
	if err := r.router.Run(ctx); err != nil {
		return fmt.Errorf("messaging: %w", err)
	}
	return nil
}

// Running is closed once every handler is subscribed: a message published
// after that reaches its handler, also on the in-process bus.
func (r *Router) Running() <-chan struct{} { return r.router.Running() }

// Close stops the handlers and waits for those in progress.
func (r *Router) Close() error { return r.router.Close() }

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
		log := r.log.With("handler", message.HandlerNameFromCtx(ctx),
			"topic", message.SubscribeTopicFromCtx(ctx), "message_id", msg.UUID)
		var err error
		stackLogged := false
		for n := 1; ; n++ {
			if _, err = h(msg); err == nil {
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
			err = r.explain(ctx, log, err, &stackLogged)
			if IsPermanent(err) || n >= r.cfg.MaxAttempts {
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
			}
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
