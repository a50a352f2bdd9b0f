package main

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/notifier/app"
	"github.com/acme/notifier/ports/messaging"
)

// Closing lets the attempt in progress finish with its context intact and
// acknowledged, lets nothing new in, and leaves what was not handled to the
// bus: a router started afterwards gets it, and not the finished one.
func TestCloseDrainsAttemptsInProgress(t *testing.T) {
	bothPipelines(t, func(t *testing.T, e pipeline) {
		s := e.openStore(t)
		b := e.openBus(t, pipelineBusOpts{consumerName: "first", consumers: 1, maxIdle: 300 * time.Millisecond})
		r, err := messaging.NewRouter(fastRouterConfig(b, s))
		require.NoError(t, err)
		started := make(chan struct{}, 10)
		release := make(chan struct{})
		var handled receivedMessages
		var ctxErr atomic.Value
		require.NoError(t, r.Handle("moodle-event", app.TopicMoodleEvents, func(ctx context.Context, m app.BusMessage) error {
			started <- struct{}{}
			select {
			case <-release:
			case <-ctx.Done():
			}
			if ctx.Err() != nil {
				ctxErr.Store(ctx.Err())
			}
			handled.add(ctx, m)
			return nil
		}))
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- r.Run(ctx) }()
		<-r.Running()
		require.NoError(t, b.Publish(t.Context(), app.TopicMoodleEvents, app.BusMessage{ID: "ev-1", Payload: []byte("x")}))
		<-started

		began := time.Now()
		cancel() // as SIGTERM does
		require.NoError(t, b.Publish(t.Context(), app.TopicMoodleEvents, app.BusMessage{ID: "ev-2", Payload: []byte("x")}))
		select {
		case err := <-done:
			t.Fatalf("the router stopped with an attempt in progress: %v", err)
		case <-time.After(300 * time.Millisecond):
		}
		close(release)
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(10 * time.Second):
			t.Fatal("the router did not stop after its last attempt finished")
		}
		assert.Less(t, time.Since(began), 5*time.Second)
		msgs, _ := handled.all()
		require.Len(t, msgs, 1, "nothing is let in while draining")
		assert.Equal(t, "ev-1", msgs[0].ID)
		assert.Nil(t, ctxErr.Load(), "the attempt in progress kept a live context")
		assert.Empty(t, listDeadLetters(t, s))

		if e.redisURL == "" {
			return // the in-process bus forgets with the process; recovery republishes
		}
		// Another process: ev-2 comes back (claimed from the stopped
		// consumer), ev-1 was acknowledged and does not.
		b2 := e.openBus(t, pipelineBusOpts{consumerName: "second", consumers: 1, maxIdle: 300 * time.Millisecond})
		got := startRecordingRouter(t, b2, s)
		waitUntil(t, "ev-2 handled by the next process", func() bool { return got.count() >= 1 })
		time.Sleep(time.Second) // a wrongful redelivery of ev-1 would show now
		msgs, _ = got.all()
		require.Len(t, msgs, 1)
		assert.Equal(t, "ev-2", msgs[0].ID)
	})
}

func TestRouterMetrics(t *testing.T) {
	e := inProcessPipeline(t)
	s, b := e.openStore(t), e.openBus(t, pipelineBusOpts{})
	reg := prometheus.NewRegistry()
	cfg := fastRouterConfig(b, s)
	cfg.Metrics = reg
	r, err := messaging.NewRouter(cfg)
	require.NoError(t, err)
	var calls atomic.Int32
	require.NoError(t, r.Handle("moodle-events", app.TopicMoodleEvents, func(_ context.Context, m app.BusMessage) error {
		if m.ID == "ok" {
			return nil
		}
		calls.Add(1)
		if m.ID == "flaky" && calls.Load() >= 2 {
			return nil
		}
		return errors.New("broken")
	}))
	startRouter(t, r)
	for _, id := range []string{"ok", "flaky"} {
		require.NoError(t, b.Publish(t.Context(), app.TopicMoodleEvents, app.BusMessage{ID: id, Payload: []byte("x")}))
	}
	waitUntil(t, "two processed", func() bool {
		return counterSum(t, reg, "notifier_events_processed_total") == 2
	})
	require.NoError(t, b.Publish(t.Context(), app.TopicMoodleEvents, app.BusMessage{ID: "bad", Payload: []byte("x")}))
	waitUntil(t, "one dead letter", func() bool { return len(listDeadLetters(t, s)) == 1 })

	assert.Equal(t, 1.0, counterSum(t, reg, "notifier_events_failed_total"))
	assert.Equal(t, 3.0, counterSum(t, reg, "notifier_event_retries_total"),
		"one retry of flaky, two of bad")
	n, err := testutil.GatherAndCount(reg, "notifier_watermill_handler_execution_time_seconds",
		"notifier_watermill_subscriber_messages_received_total")
	require.NoError(t, err)
	assert.GreaterOrEqual(t, n, 2, "Watermill's router metrics are registered")
}

// counterSum sums the series of the counter name in reg.
func counterSum(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	sum := 0.0
	for _, f := range families {
		if f.GetName() == name {
			for _, m := range f.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}
