package main

// These tests run the messaging port's router (ports/messaging) on the real
// buses (Redis Streams and the in-process GoChannel) and the real dead-letter
// stores (PostgreSQL with Redis, SQLite with the in-process bus, as the
// service pairs them). They are component tests of the messaging path and
// live here, where every piece is known: ports/messaging imports no adapter,
// not even in its tests.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/notifier/adapters/bus"
	"github.com/acme/notifier/adapters/postgres"
	"github.com/acme/notifier/adapters/sqlite"
	"github.com/acme/notifier/app"
	"github.com/acme/notifier/internal/testenv"
	"github.com/acme/notifier/ports/messaging"
)

// pipelineBus is what both buses offer.
type pipelineBus interface {
	app.Bus
	Subscriber(handlerName string) (message.Subscriber, error)
	Ping(ctx context.Context) error
	Close() error
}

type pipelineStore interface {
	app.DeadLetterStore
	app.InboundStore
	Close() error
}

// pipeline is one bus mode with its store; open* may be called again to
// "restart" on the same database and Redis.
type pipeline struct {
	redisURL  string // "" for the in-process bus
	openStore func(t *testing.T) pipelineStore
	// openBus opens a bus; consumers 0 keeps the default.
	openBus func(t *testing.T, opts pipelineBusOpts) pipelineBus
}

type pipelineBusOpts struct {
	consumerName string
	consumers    int
	maxIdle      time.Duration
}

func redisPipeline(t *testing.T) pipeline {
	r := testenv.RedisServer(t)
	url := testenv.PostgresURL(t)
	require.NoError(t, postgres.Migrate(t.Context(), url))
	return pipeline{
		redisURL: r.URL,
		openStore: func(t *testing.T) pipelineStore {
			s, err := postgres.Open(t.Context(), url)
			require.NoError(t, err)
			t.Cleanup(func() { _ = s.Close() })
			return s
		},
		openBus: func(t *testing.T, o pipelineBusOpts) pipelineBus {
			b, err := bus.NewRedis(t.Context(), bus.Config{
				URL: r.URL, Prefix: r.Prefix, ConsumerName: o.consumerName, Consumers: o.consumers,
				NackResendSleep: 50 * time.Millisecond, BlockTime: 100 * time.Millisecond,
				MaxIdleTime: o.maxIdle, ClaimInterval: 200 * time.Millisecond,
			}, quietLogger())
			require.NoError(t, err)
			t.Cleanup(func() { _ = b.Close() })
			return b
		},
	}
}

func inProcessPipeline(t *testing.T) pipeline {
	path := filepath.Join(t.TempDir(), "notifier.db")
	return pipeline{
		openStore: func(t *testing.T) pipelineStore {
			s, err := sqlite.Open(t.Context(), path)
			require.NoError(t, err)
			t.Cleanup(func() { _ = s.Close() })
			return s
		},
		openBus: func(t *testing.T, o pipelineBusOpts) pipelineBus {
			b := bus.NewInProcessWith(bus.InProcessConfig{Workers: o.consumers, NackResendSleep: 50 * time.Millisecond},
				quietLogger())
			t.Cleanup(func() { _ = b.Close() })
			return b
		},
	}
}

// bothPipelines runs fn once per bus mode, in parallel.
func bothPipelines(t *testing.T, fn func(t *testing.T, e pipeline)) {
	t.Run("redis", func(t *testing.T) {
		t.Parallel()
		fn(t, redisPipeline(t))
	})
	t.Run("inprocess", func(t *testing.T) {
		t.Parallel()
		fn(t, inProcessPipeline(t))
	})
}

func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelError + 4}))
}

// fastRouterConfig is fast: three attempts, milliseconds apart.
func fastRouterConfig(b pipelineBus, s app.DeadLetterStore) messaging.RouterConfig {
	return messaging.RouterConfig{
		Logger:          quietLogger(),
		Subscribers:     b.Subscriber,
		DeadLetters:     s,
		MaxAttempts:     3,
		InitialInterval: 10 * time.Millisecond,
		MaxInterval:     40 * time.Millisecond,
		AttemptTimeout:  5 * time.Second,
		CloseTimeout:    10 * time.Second,
	}
}

// start runs r until the test ends and waits until it is subscribed.
func startRouter(t *testing.T, r *messaging.Router) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	select {
	case <-r.Running():
	case err := <-done:
		t.Fatalf("router stopped at start: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("router not running after 10 s")
	}
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			assert.NoError(t, err)
		case <-time.After(20 * time.Second):
			t.Error("router did not stop")
		}
	})
}

// stop stops r now and waits for it.
func stopRouter(t *testing.T, r *messaging.Router) {
	t.Helper()
	require.NoError(t, r.Close())
}

// receivedMessages collects what a handler got.
// startRecordingRouter starts a router whose moodle-event handler records
// every message it gets, and returns the record.
func startRecordingRouter(t *testing.T, b pipelineBus, s app.DeadLetterStore) *receivedMessages {
	t.Helper()
	r, err := messaging.NewRouter(fastRouterConfig(b, s))
	require.NoError(t, err)
	got := &receivedMessages{}
	require.NoError(t, r.Handle("moodle-event", app.TopicMoodleEvents, func(ctx context.Context, m app.BusMessage) error {
		got.add(ctx, m)
		return nil
	}))
	startRouter(t, r)
	return got
}

type receivedMessages struct {
	mu   sync.Mutex
	msgs []app.BusMessage
	cids []string
}

func (r *receivedMessages) add(ctx context.Context, m app.BusMessage) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, m)
	r.cids = append(r.cids, messaging.CorrelationID(ctx))
}

func (r *receivedMessages) all() ([]app.BusMessage, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]app.BusMessage(nil), r.msgs...), append([]string(nil), r.cids...)
}

func (r *receivedMessages) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.msgs)
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	require.Eventually(t, cond, 15*time.Second, 10*time.Millisecond, what)
}

func listDeadLetters(t *testing.T, s app.DeadLetterStore) []app.DeadLetter {
	t.Helper()
	list, err := s.ListDeadLetters(context.Background(), 0, 500)
	require.NoError(t, err)
	return list
}

func TestPublishReachesTheHandlerWithItsMetadata(t *testing.T) {
	bothPipelines(t, func(t *testing.T, e pipeline) {
		s, b := e.openStore(t), e.openBus(t, pipelineBusOpts{})
		got := startRecordingRouter(t, b, s)

		require.NoError(t, b.Publish(t.Context(), app.TopicMoodleEvents,
			app.BusMessage{ID: "ev-1", Payload: []byte(`{"id":"ev-1"}`),
				Metadata: map[string]string{"correlation_id": "ev-1", "event": "course_updated"}},
			app.BusMessage{Payload: []byte("no id, no metadata")},
		))
		waitUntil(t, "both messages handled", func() bool { return got.count() == 2 })
		msgs, cids := got.all()
		byPayload := map[string]int{}
		for i, m := range msgs {
			byPayload[string(m.Payload)] = i
		}
		first := byPayload[`{"id":"ev-1"}`]
		assert.Equal(t, "ev-1", msgs[first].ID)
		assert.Equal(t, map[string]string{"correlation_id": "ev-1", "event": "course_updated"}, msgs[first].Metadata)
		assert.Equal(t, "ev-1", cids[first], "the correlation id is in the handler's context")
		second := byPayload["no id, no metadata"]
		assert.NotEmpty(t, msgs[second].ID, "a message without an id gets one")
		assert.Empty(t, cids[second])
		assert.Empty(t, listDeadLetters(t, s))
		require.NoError(t, b.Ping(t.Context()))
	})
}

func TestFailingHandlerIsDeadLetteredThenReplayed(t *testing.T) {
	bothPipelines(t, func(t *testing.T, e pipeline) {
		s, b := e.openStore(t), e.openBus(t, pipelineBusOpts{})
		var hooked atomic.Int32
		cfg := fastRouterConfig(b, s)
		cfg.OnDeadLetter = func(ctx context.Context, d app.DeadLetter) {
			assert.NoError(t, ctx.Err(), "the hook gets a live context")
			hooked.Add(1)
		}
		r, err := messaging.NewRouter(cfg)
		require.NoError(t, err)
		var attempts atomic.Int32
		var fixed atomic.Bool
		var got receivedMessages
		require.NoError(t, r.Handle("moodle-event", app.TopicMoodleEvents, func(ctx context.Context, m app.BusMessage) error {
			if !fixed.Load() {
				attempts.Add(1)
				return fmt.Errorf("moodle unavailable: %w", app.ErrUnavailable)
			}
			got.add(ctx, m)
			return nil
		}))
		startRouter(t, r)

		started := time.Now()
		msg := app.BusMessage{ID: "ev-9", Payload: []byte(`{"id":"ev-9"}`),
			Metadata: map[string]string{"correlation_id": "ev-9", "event": "user_enrolment_created"}}
		require.NoError(t, b.Publish(t.Context(), app.TopicMoodleEvents, msg))
		waitUntil(t, "dead-lettered", func() bool { return len(listDeadLetters(t, s)) == 1 })
		time.Sleep(100 * time.Millisecond) // a fourth attempt would show now
		assert.Equal(t, int32(3), attempts.Load(), "MaxAttempts in all")
		assert.Equal(t, int32(1), hooked.Load())

		d := listDeadLetters(t, s)[0]
		assert.Equal(t, "ev-9", d.MessageID)
		assert.Equal(t, app.TopicMoodleEvents, d.Topic, "the original topic, not the stream")
		assert.Equal(t, "moodle-event", d.Handler)
		assert.Equal(t, msg.Payload, d.Payload)
		assert.Equal(t, msg.Metadata, d.Metadata, "the metadata as published, nothing added")
		assert.Contains(t, d.Reason, "moodle unavailable")
		assert.Equal(t, 3, d.Attempts)
		assert.WithinRange(t, d.FirstFailedAt, started.Add(-time.Second), d.LastFailedAt)
		assert.WithinRange(t, d.LastFailedAt, started, time.Now().Add(time.Second))

		// The cause is fixed: the replay hands it to the handler and
		// removes the row.
		fixed.Store(true)
		dl, err := app.NewDeadLetters(app.DeadLettersDeps{Store: s, Bus: b, Logger: quietLogger()})
		require.NoError(t, err)
		res, err := dl.Replay(t.Context(), []int64{d.ID})
		require.NoError(t, err)
		assert.Equal(t, []int64{d.ID}, res.Moved)
		waitUntil(t, "replayed message handled", func() bool { return got.count() == 1 })
		msgs, cids := got.all()
		assert.Equal(t, msg.Payload, msgs[0].Payload)
		assert.Equal(t, "ev-9", cids[0], "the correlation id survives the replay")
		assert.Equal(t, "user_enrolment_created", msgs[0].Metadata["event"])
		assert.Empty(t, listDeadLetters(t, s))
	})
}

func TestPermanentErrorSkipsTheRetries(t *testing.T) {
	bothPipelines(t, func(t *testing.T, e pipeline) {
		s, b := e.openStore(t), e.openBus(t, pipelineBusOpts{})
		r, err := messaging.NewRouter(fastRouterConfig(b, s))
		require.NoError(t, err)
		var attempts atomic.Int32
		require.NoError(t, r.Handle("scan-item", app.TopicScanItems, func(context.Context, app.BusMessage) error {
			attempts.Add(1)
			return fmt.Errorf("decode: %w", messaging.Permanent(errors.New("not JSON")))
		}))
		startRouter(t, r)
		require.NoError(t, b.Publish(t.Context(), app.TopicScanItems, app.BusMessage{ID: "scan-1-1", Payload: []byte("x")}))
		waitUntil(t, "dead-lettered", func() bool { return len(listDeadLetters(t, s)) == 1 })
		d := listDeadLetters(t, s)[0]
		assert.Equal(t, 1, d.Attempts)
		assert.Equal(t, int32(1), attempts.Load())
		assert.Equal(t, "decode: not JSON", d.Reason)
	})
}

func TestPanickingHandlerIsDeadLetteredAndTheRouterKeepsRunning(t *testing.T) {
	bothPipelines(t, func(t *testing.T, e pipeline) {
		s, b := e.openStore(t), e.openBus(t, pipelineBusOpts{})
		r, err := messaging.NewRouter(fastRouterConfig(b, s))
		require.NoError(t, err)
		var got receivedMessages
		var panics atomic.Int32
		require.NoError(t, r.Handle("moodle-event", app.TopicMoodleEvents, func(ctx context.Context, m app.BusMessage) error {
			if string(m.Payload) == "boom" {
				panics.Add(1)
				var nilMap map[string]int
				nilMap["x"]++ // a real runtime panic
			}
			got.add(ctx, m)
			return nil
		}))
		startRouter(t, r)
		require.NoError(t, b.Publish(t.Context(), app.TopicMoodleEvents, app.BusMessage{ID: "p-1", Payload: []byte("boom")}))
		waitUntil(t, "dead-lettered", func() bool { return len(listDeadLetters(t, s)) == 1 })
		d := listDeadLetters(t, s)[0]
		assert.Equal(t, 3, d.Attempts, "a panic is retried like an error")
		assert.Equal(t, int32(3), panics.Load())
		assert.Contains(t, d.Reason, "panic: assignment to entry in nil map")
		assert.NotContains(t, d.Reason, "goroutine", "the stack goes to the log, not the reason")

		require.NoError(t, b.Publish(t.Context(), app.TopicMoodleEvents, app.BusMessage{ID: "ok-1", Payload: []byte("fine")}))
		waitUntil(t, "the next message is handled", func() bool { return got.count() == 1 })
	})
}

func TestDeadLettersSurviveARestart(t *testing.T) {
	bothPipelines(t, func(t *testing.T, e pipeline) {
		s1, b1 := e.openStore(t), e.openBus(t, pipelineBusOpts{consumerName: "first"})
		r1, err := messaging.NewRouter(fastRouterConfig(b1, s1))
		require.NoError(t, err)
		require.NoError(t, r1.Handle("moodle-event", app.TopicMoodleEvents, func(context.Context, app.BusMessage) error {
			return errors.New("broken")
		}))
		startRouter(t, r1)
		require.NoError(t, b1.Publish(t.Context(), app.TopicMoodleEvents,
			app.BusMessage{ID: "ev-1", Payload: []byte(`{"n":1}`), Metadata: map[string]string{"correlation_id": "ev-1"}}))
		waitUntil(t, "dead-lettered", func() bool { return len(listDeadLetters(t, s1)) == 1 })
		stopRouter(t, r1)
		require.NoError(t, b1.Close())
		require.NoError(t, s1.Close())

		// A new process: new store, bus and router on the same database and
		// Redis.
		s2, b2 := e.openStore(t), e.openBus(t, pipelineBusOpts{consumerName: "second"})
		list := listDeadLetters(t, s2)
		require.Len(t, list, 1)
		assert.Equal(t, "ev-1", list[0].MessageID)
		got := startRecordingRouter(t, b2, s2)
		dl, err := app.NewDeadLetters(app.DeadLettersDeps{Store: s2, Bus: b2, Logger: quietLogger()})
		require.NoError(t, err)
		res, err := dl.ReplayAll(t.Context())
		require.NoError(t, err)
		assert.Equal(t, []int64{list[0].ID}, res.Moved)
		waitUntil(t, "replayed after the restart", func() bool { return got.count() == 1 })
		msgs, _ := got.all()
		assert.Equal(t, []byte(`{"n":1}`), msgs[0].Payload)
		assert.Empty(t, listDeadLetters(t, s2))
	})
}

// A Moodle event whose handler gives up is marked failed in the inbound
// store, so recovery leaves it alone; one never handled is published again
// by recovery and processed.
func TestInboundEventsAreMarkedFailedOrRecovered(t *testing.T) {
	bothPipelines(t, func(t *testing.T, e pipeline) {
		ctx := t.Context()
		s, b := e.openStore(t), e.openBus(t, pipelineBusOpts{})
		dl, err := app.NewDeadLetters(app.DeadLettersDeps{Store: s, Bus: b, Inbound: s, Logger: quietLogger()})
		require.NoError(t, err)
		cfg := fastRouterConfig(b, s)
		cfg.OnDeadLetter = dl.OnDeadLetter
		r, err := messaging.NewRouter(cfg)
		require.NoError(t, err)
		var got receivedMessages
		require.NoError(t, r.Handle("moodle-event", app.TopicMoodleEvents, func(ctx context.Context, m app.BusMessage) error {
			if string(m.Payload) == "bad" {
				return messaging.Permanent(errors.New("bad payload"))
			}
			got.add(ctx, m)
			return s.MarkInboundProcessed(ctx, time.Now(), m.Metadata["correlation_id"])
		}))
		startRouter(t, r)

		old := time.Now().Add(-time.Hour)
		for _, ev := range []app.InboundEvent{
			{ID: "ev-bad", Source: "moodle", Name: "course_updated", Payload: []byte("bad"), ReceivedAt: old, State: app.InboundReceived},
			{ID: "ev-lost", Source: "moodle", Name: "course_updated", Payload: []byte("lost"), ReceivedAt: old, State: app.InboundReceived},
		} {
			isNew, err := s.InsertInbound(ctx, ev)
			require.NoError(t, err)
			require.Equal(t, []bool{true}, isNew)
		}
		// ev-bad went on the bus and fails; ev-lost never reached it.
		require.NoError(t, b.Publish(ctx, app.TopicMoodleEvents, app.BusMessage{ID: "ev-bad", Payload: []byte("bad"),
			Metadata: map[string]string{"correlation_id": "ev-bad"}}))
		waitUntil(t, "ev-bad marked failed", func() bool {
			ev, err := s.GetInbound(ctx, "ev-bad")
			return err == nil && ev.State == app.InboundFailed
		})

		rec, err := app.NewRecovery(s, b, nil, quietLogger())
		require.NoError(t, err)
		n, err := rec.RecoverInbound(ctx, time.Minute, 100)
		require.NoError(t, err)
		assert.Equal(t, 1, n, "only the event never processed")
		waitUntil(t, "ev-lost processed", func() bool {
			ev, err := s.GetInbound(ctx, "ev-lost")
			return err == nil && ev.State == app.InboundProcessed
		})
		msgs, cids := got.all()
		require.Len(t, msgs, 1)
		assert.Equal(t, "ev-lost", cids[0])
		n, err = rec.RecoverInbound(ctx, time.Minute, 100)
		require.NoError(t, err)
		assert.Zero(t, n, "nothing left to recover")
	})
}

// When the dead-letter store refuses the write, the message is not lost:
// it is handled again after NackResendSleep, and its attempts add up.
func TestFailedDeadLetterWriteRetriesTheMessage(t *testing.T) {
	bothPipelines(t, func(t *testing.T, e pipeline) {
		s, b := e.openStore(t), e.openBus(t, pipelineBusOpts{})
		flaky := &flakyDeadLetters{DeadLetterStore: s, failures: 1}
		r, err := messaging.NewRouter(fastRouterConfig(b, flaky))
		require.NoError(t, err)
		var attempts atomic.Int32
		require.NoError(t, r.Handle("moodle-event", app.TopicMoodleEvents, func(context.Context, app.BusMessage) error {
			attempts.Add(1)
			return errors.New("broken")
		}))
		startRouter(t, r)
		require.NoError(t, b.Publish(t.Context(), app.TopicMoodleEvents, app.BusMessage{ID: "ev-1", Payload: []byte("x")}))
		waitUntil(t, "dead-lettered at the second try", func() bool { return len(listDeadLetters(t, s)) == 1 })
		d := listDeadLetters(t, s)[0]
		assert.Equal(t, 6, d.Attempts, "two rounds of three attempts")
		assert.Equal(t, int32(6), attempts.Load())
	})
}

type flakyDeadLetters struct {
	app.DeadLetterStore
	mu       sync.Mutex
	failures int
}

func (f *flakyDeadLetters) AddDeadLetter(ctx context.Context, d app.DeadLetter) (app.DeadLetter, error) {
	f.mu.Lock()
	fail := f.failures > 0
	f.failures--
	f.mu.Unlock()
	if fail {
		return app.DeadLetter{}, fmt.Errorf("db: %w", app.ErrUnavailable)
	}
	return f.DeadLetterStore.AddDeadLetter(ctx, d)
}

// A router that closes while a message waits for its next attempt leaves
// it for redelivery instead of dead-lettering it.
func TestClosingDoesNotDeadLetter(t *testing.T) {
	bothPipelines(t, func(t *testing.T, e pipeline) {
		s, b := e.openStore(t), e.openBus(t, pipelineBusOpts{})
		cfg := fastRouterConfig(b, s)
		cfg.InitialInterval = time.Minute
		cfg.MaxInterval = time.Minute
		r, err := messaging.NewRouter(cfg)
		require.NoError(t, err)
		var attempts atomic.Int32
		require.NoError(t, r.Handle("moodle-event", app.TopicMoodleEvents, func(context.Context, app.BusMessage) error {
			attempts.Add(1)
			return errors.New("broken")
		}))
		startRouter(t, r)
		require.NoError(t, b.Publish(t.Context(), app.TopicMoodleEvents, app.BusMessage{ID: "ev-1", Payload: []byte("x")}))
		waitUntil(t, "first attempt", func() bool { return attempts.Load() == 1 })
		began := time.Now()
		stopRouter(t, r)
		assert.Less(t, time.Since(began), 5*time.Second, "the back-off does not hold the close")
		assert.Empty(t, listDeadLetters(t, s))
		assert.Equal(t, int32(1), attempts.Load())
	})
}

func TestHandlerConcurrencyIsBounded(t *testing.T) {
	bothPipelines(t, func(t *testing.T, e pipeline) {
		s, b := e.openStore(t), e.openBus(t, pipelineBusOpts{consumers: 3})
		r, err := messaging.NewRouter(fastRouterConfig(b, s))
		require.NoError(t, err)
		var inFlight, peak, done atomic.Int32
		release := make(chan struct{})
		require.NoError(t, r.Handle("scan-item", app.TopicScanItems, func(ctx context.Context, _ app.BusMessage) error {
			n := inFlight.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			<-release
			inFlight.Add(-1)
			done.Add(1)
			return nil
		}))
		startRouter(t, r)
		msgs := make([]app.BusMessage, 12)
		for i := range msgs {
			msgs[i] = app.BusMessage{ID: fmt.Sprintf("m-%d", i), Payload: []byte("x")}
		}
		require.NoError(t, b.Publish(t.Context(), app.TopicScanItems, msgs...))
		waitUntil(t, "three in the handler", func() bool { return inFlight.Load() == 3 })
		time.Sleep(200 * time.Millisecond)
		assert.Equal(t, int32(3), peak.Load(), "never more than the consumers")
		close(release)
		waitUntil(t, "all handled", func() bool { return done.Load() == 12 })
		assert.Equal(t, int32(3), peak.Load())
	})
}
