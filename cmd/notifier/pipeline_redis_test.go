package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/notifier/adapters/bus"
	"github.com/acme/notifier/app"
	"github.com/acme/notifier/ports/messaging"
)

// Two processes (two buses, two routers) in one consumer group share the
// work: each message is handled once, by one of them.
func TestRedisConsumersInOneGroupShareTheWork(t *testing.T) {
	t.Parallel()
	e := redisPipeline(t)
	s := e.openStore(t)
	var mu sync.Mutex
	handledBy := map[string][]string{}
	for _, name := range []string{"replica-a", "replica-b"} {
		b := e.openBus(t, pipelineBusOpts{consumerName: name, consumers: 2})
		r, err := messaging.NewRouter(fastRouterConfig(b, s))
		require.NoError(t, err)
		require.NoError(t, r.Handle("moodle-event", app.TopicMoodleEvents, func(_ context.Context, m app.BusMessage) error {
			time.Sleep(5 * time.Millisecond) // some work, so that both get a share
			mu.Lock()
			handledBy[m.ID] = append(handledBy[m.ID], name)
			mu.Unlock()
			return nil
		}))
		startRouter(t, r)
	}
	pub := e.openBus(t, pipelineBusOpts{consumerName: "publisher"})
	const n = 60
	for i := range n {
		require.NoError(t, pub.Publish(t.Context(), app.TopicMoodleEvents, app.BusMessage{ID: fmt.Sprintf("ev-%d", i)}))
	}
	waitUntil(t, "all handled", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(handledBy) == n
	})
	time.Sleep(200 * time.Millisecond) // a duplicate would show now
	mu.Lock()
	defer mu.Unlock()
	perReplica := map[string]int{}
	for id, by := range handledBy {
		assert.Len(t, by, 1, "message %s handled once", id)
		perReplica[by[0]]++
	}
	assert.Positive(t, perReplica["replica-a"], "replica-a got a share: %v", perReplica)
	assert.Positive(t, perReplica["replica-b"], "replica-b got a share: %v", perReplica)
}

// A consumer that died with a message delivered but not acknowledged loses
// it to a live consumer of the group once it has been idle MaxIdleTime.
func TestRedisDeadConsumersPendingMessagesAreClaimed(t *testing.T) {
	t.Parallel()
	e := redisPipeline(t)
	s := e.openStore(t)
	b := e.openBus(t, pipelineBusOpts{consumerName: "live", maxIdle: 700 * time.Millisecond})
	rb := b.(*bus.Redis)
	stream, group := rb.Stream(app.TopicMoodleEvents), rb.Group("moodle-event")
	opt, err := redis.ParseURL(e.redisURL)
	require.NoError(t, err)
	raw := redis.NewClient(opt)
	defer raw.Close()
	ctx := t.Context()

	// The dead consumer: it joined the group, read one message and died.
	require.NoError(t, raw.XGroupCreateMkStream(ctx, stream, group, "0").Err())
	require.NoError(t, b.Publish(ctx, app.TopicMoodleEvents, app.BusMessage{ID: "orphan", Payload: []byte("x"),
		Metadata: map[string]string{"correlation_id": "orphan"}}))
	res, err := raw.XReadGroup(ctx, &redis.XReadGroupArgs{Group: group, Consumer: "dead", Streams: []string{stream, ">"},
		Count: 1, Block: time.Second}).Result()
	require.NoError(t, err)
	require.Len(t, res[0].Messages, 1)
	pending, err := raw.XPending(ctx, stream, group).Result()
	require.NoError(t, err)
	require.Equal(t, map[string]int64{"dead": 1}, pending.Consumers)

	r, err := messaging.NewRouter(fastRouterConfig(b, s))
	require.NoError(t, err)
	var got receivedMessages
	require.NoError(t, r.Handle("moodle-event", app.TopicMoodleEvents, func(ctx context.Context, m app.BusMessage) error {
		got.add(ctx, m)
		return nil
	}))
	began := time.Now()
	startRouter(t, r)
	waitUntil(t, "the orphan is claimed and handled", func() bool { return got.count() == 1 })
	msgs, cids := got.all()
	assert.Equal(t, "orphan", msgs[0].ID)
	assert.Equal(t, "orphan", cids[0])
	assert.Less(t, time.Since(began), 5*time.Second)
	waitUntil(t, "acknowledged", func() bool {
		p, err := raw.XPending(ctx, stream, group).Result()
		return err == nil && p.Count == 0
	})
}

// TestRedisConsumersHandleMessagesConcurrently runs one handler with 1 and
// with 8 consumers.
// A redisstream consumer holds one message at a time: the handler's
// consumers are what lets it work on several at once. Each handler run waits
// until as many runs as there are consumers are in flight (or a deadline
// passes), so the peak shows the concurrency without timing anything.
func TestRedisConsumersHandleMessagesConcurrently(t *testing.T) {
	t.Parallel()
	for _, consumers := range []int{1, 8} {
		e := redisPipeline(t)
		s := e.openStore(t)
		b := e.openBus(t, pipelineBusOpts{consumers: consumers})
		r, err := messaging.NewRouter(fastRouterConfig(b, s))
		require.NoError(t, err)
		var inFlight, peak, done atomic.Int32
		require.NoError(t, r.Handle("scan-item", app.TopicScanItems, func(context.Context, app.BusMessage) error {
			now := inFlight.Add(1)
			defer inFlight.Add(-1)
			for old := peak.Load(); now > old && !peak.CompareAndSwap(old, now); old = peak.Load() {
			}
			deadline := time.Now().Add(3 * time.Second)
			for inFlight.Load() < int32(consumers) && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			done.Add(1)
			return nil
		}))
		startRouter(t, r)
		n := 4 * consumers
		msgs := make([]app.BusMessage, n)
		for i := range msgs {
			msgs[i] = app.BusMessage{ID: fmt.Sprint(i), Payload: []byte(`{"scan_id":1}`)}
		}
		require.NoError(t, b.Publish(t.Context(), app.TopicScanItems, msgs...))
		waitUntil(t, "all handled", func() bool { return done.Load() == int32(n) })
		assert.Equal(t, int32(consumers), peak.Load(), "%d consumer(s) work on that many messages at once", consumers)
	}
}
