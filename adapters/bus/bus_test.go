package bus_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/notifier/adapters/bus"
	"github.com/acme/notifier/app"
	"github.com/acme/notifier/internal/testenv"
)

var discard = slog.New(slog.DiscardHandler)

func newRedis(t *testing.T, cfg bus.Config) (*bus.Redis, *redis.Client) {
	t.Helper()
	srv := testenv.RedisServer(t)
	cfg.URL, cfg.Prefix = srv.URL, srv.Prefix
	if cfg.BlockTime == 0 {
		cfg.BlockTime = 100 * time.Millisecond
	}
	b, err := bus.NewRedis(t.Context(), cfg, discard)
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	opt, err := redis.ParseURL(srv.URL)
	require.NoError(t, err)
	raw := redis.NewClient(opt)
	t.Cleanup(func() { _ = raw.Close() })
	return b, raw
}

// receive reads one message from ch, or fails.
func receive(t *testing.T, ch <-chan *message.Message) *message.Message {
	t.Helper()
	select {
	case m, ok := <-ch:
		require.True(t, ok, "channel closed")
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("no message within 10 s")
		return nil
	}
}

func TestRedisPublishesToThePrefixedStreamWithoutTrimming(t *testing.T) {
	t.Parallel()
	b, raw := newRedis(t, bus.Config{})
	ctx := t.Context()
	require.NoError(t, b.Publish(ctx, app.TopicMoodleEvents, app.BusMessage{
		ID: "ev-1", Payload: []byte(`{"id":"ev-1"}`), Metadata: map[string]string{"correlation_id": "ev-1"},
	}))
	for i := range 200 {
		require.NoError(t, b.Publish(ctx, app.TopicMoodleEvents, app.BusMessage{Payload: []byte(fmt.Sprint(i))}))
	}
	stream := b.Stream(app.TopicMoodleEvents)
	assert.Regexp(t, `^notifier-test-[0-9a-f]+:moodle-events$`, stream)
	n, err := raw.XLen(ctx, stream).Result()
	require.NoError(t, err)
	assert.Equal(t, int64(201), n, "no MAXLEN: every entry stays")
	first, err := raw.XRangeN(ctx, stream, "-", "+", 1).Result()
	require.NoError(t, err)
	assert.Equal(t, "ev-1", first[0].Values["_watermill_message_uuid"])
	assert.Equal(t, `{"id":"ev-1"}`, first[0].Values["payload"])

	// Nothing to publish is not an error; a reserved key is.
	require.NoError(t, b.Publish(ctx, app.TopicMoodleEvents))
	err = b.Publish(ctx, app.TopicMoodleEvents, app.BusMessage{Metadata: map[string]string{"_watermill_message_uuid": "x"}})
	assert.Error(t, err)
}

// Several messages go in pipelines; the entries are the same as those of
// one-by-one publishing, in order, and subscribers decode them alike.
func TestRedisPublishesBatchesInOrder(t *testing.T) {
	t.Parallel()
	b, raw := newRedis(t, bus.Config{Consumers: 1})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	const n = 1234 // more than one pipeline
	msgs := make([]app.BusMessage, n)
	for i := range msgs {
		msgs[i] = app.BusMessage{ID: fmt.Sprintf("m-%d", i), Payload: []byte(fmt.Sprint(i)),
			Metadata: map[string]string{"correlation_id": "scan:1"}}
	}
	require.NoError(t, b.Publish(ctx, app.TopicScanItems, msgs...))
	stream := b.Stream(app.TopicScanItems)
	entries, err := raw.XRange(ctx, stream, "-", "+").Result()
	require.NoError(t, err)
	require.Len(t, entries, n)
	for i, e := range entries {
		require.Equal(t, fmt.Sprintf("m-%d", i), e.Values["_watermill_message_uuid"], "in order")
	}

	sub, err := b.Subscriber("scan")
	require.NoError(t, err)
	ch, err := sub.Subscribe(ctx, app.TopicScanItems)
	require.NoError(t, err)
	for i := range 3 {
		m := receive(t, ch)
		assert.Equal(t, fmt.Sprintf("m-%d", i), m.UUID)
		assert.Equal(t, fmt.Sprint(i), string(m.Payload))
		assert.Equal(t, message.Metadata{"correlation_id": "scan:1"}, m.Metadata)
		m.Ack()
	}

	// A reserved key fails the batch before anything is sent.
	bad := []app.BusMessage{{ID: "ok"}, {ID: "bad", Metadata: map[string]string{"_watermill_message_uuid": "x"}}}
	assert.Error(t, b.Publish(ctx, app.TopicWhatsAppWebhooks, bad...))
	l, err := raw.XLen(ctx, b.Stream(app.TopicWhatsAppWebhooks)).Result()
	require.NoError(t, err)
	assert.Zero(t, l)
}

func TestRedisSubscriberUsesOneGroupPerHandler(t *testing.T) {
	t.Parallel()
	b, raw := newRedis(t, bus.Config{Consumers: 3, ConsumerName: "proc"})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	subA, err := b.Subscriber("moodle-event")
	require.NoError(t, err)
	subB, err := b.Subscriber("audit")
	require.NoError(t, err)
	chA, err := subA.Subscribe(ctx, app.TopicMoodleEvents)
	require.NoError(t, err)
	chB, err := subB.Subscribe(ctx, app.TopicMoodleEvents)
	require.NoError(t, err)

	require.NoError(t, b.Publish(ctx, app.TopicMoodleEvents, app.BusMessage{ID: "ev-1", Payload: []byte("x"),
		Metadata: map[string]string{"correlation_id": "ev-1", "event": "course_updated"}}))
	for _, ch := range []<-chan *message.Message{chA, chB} {
		m := receive(t, ch)
		assert.Equal(t, "ev-1", m.UUID)
		assert.Equal(t, "x", string(m.Payload))
		assert.Equal(t, message.Metadata{"correlation_id": "ev-1", "event": "course_updated"}, m.Metadata)
		m.Ack()
	}

	stream := b.Stream(app.TopicMoodleEvents)
	groups, err := raw.XInfoGroups(ctx, stream).Result()
	require.NoError(t, err)
	var names []string
	for _, g := range groups {
		names = append(names, g.Name)
	}
	assert.ElementsMatch(t, []string{b.Group("moodle-event"), b.Group("audit")}, names, "one group per handler")
	// A consumer joins its group when it first receives an entry (Redis 7
	// does not create one that only waits); those that did are ours.
	consumers, err := raw.XInfoConsumers(ctx, stream, b.Group("audit")).Result()
	require.NoError(t, err)
	require.NotEmpty(t, consumers)
	for _, c := range consumers {
		assert.Contains(t, []string{"proc-0", "proc-1", "proc-2"}, c.Name)
	}

	// Closing a subscriber closes its own clients only: the bus still
	// publishes and answers.
	require.NoError(t, subA.Close())
	require.NoError(t, subA.Close(), "closing twice is harmless")
	require.NoError(t, b.Publish(ctx, app.TopicMoodleEvents, app.BusMessage{ID: "ev-2"}))
	assert.Equal(t, "ev-2", receive(t, chB).UUID)
	require.NoError(t, b.Ping(ctx))
}

func TestRedisCloseStopsEverything(t *testing.T) {
	t.Parallel()
	b, _ := newRedis(t, bus.Config{Consumers: 2})
	sub, err := b.Subscriber("h")
	require.NoError(t, err)
	ch, err := sub.Subscribe(t.Context(), app.TopicScanItems)
	require.NoError(t, err)
	began := time.Now()
	require.NoError(t, b.Close())
	assert.Less(t, time.Since(began), 5*time.Second)
	for range ch { //nolint:revive // drain until closed
	}
	assert.Error(t, b.Publish(t.Context(), app.TopicScanItems, app.BusMessage{}))
	_, err = b.Subscriber("h2")
	assert.Error(t, err)
	require.NoError(t, b.Close(), "closing twice is harmless")
}

func TestRedisNackIsResentAfterThePause(t *testing.T) {
	t.Parallel()
	b, _ := newRedis(t, bus.Config{Consumers: 1, NackResendSleep: 300 * time.Millisecond})
	sub, err := b.Subscriber("h")
	require.NoError(t, err)
	ch, err := sub.Subscribe(t.Context(), app.TopicScanItems)
	require.NoError(t, err)
	require.NoError(t, b.Publish(t.Context(), app.TopicScanItems, app.BusMessage{ID: "m"}))
	m := receive(t, ch)
	m.Metadata.Set("note", "kept")
	nacked := time.Now()
	m.Nack()
	again := receive(t, ch)
	assert.GreaterOrEqual(t, time.Since(nacked), 300*time.Millisecond)
	assert.Equal(t, "m", again.UUID)
	assert.Equal(t, "kept", again.Metadata.Get("note"), "a resend carries the metadata on")
	again.Ack()
}

func TestInProcessDeliversWithinItsWorkerBound(t *testing.T) {
	t.Parallel()
	b := bus.NewInProcessWith(bus.InProcessConfig{Workers: 2, NackResendSleep: 200 * time.Millisecond}, discard)
	defer b.Close()
	ctx := t.Context()
	sub, err := b.Subscriber("h")
	require.NoError(t, err)
	ch, err := sub.Subscribe(ctx, app.TopicScanItems)
	require.NoError(t, err)

	require.NoError(t, b.Publish(ctx, app.TopicScanItems,
		app.BusMessage{ID: "a", Payload: []byte("1"), Metadata: map[string]string{"correlation_id": "c"}},
		app.BusMessage{ID: "b"}, app.BusMessage{ID: "c"}))
	first, second := receive(t, ch), receive(t, ch)
	select {
	case m := <-ch:
		t.Fatalf("a third message %s while two are unacknowledged", m.UUID)
	case <-time.After(200 * time.Millisecond):
	}
	got := map[string]*message.Message{first.UUID: first, second.UUID: second}
	first.Ack()
	third := receive(t, ch)
	got[third.UUID] = third
	assert.Len(t, got, 3)
	assert.Equal(t, "c", got["a"].Metadata.Get("correlation_id"))

	// A nack comes back after the pause, with its metadata.
	second.Metadata.Set("note", "kept")
	nacked := time.Now()
	second.Nack()
	again := receive(t, ch)
	assert.GreaterOrEqual(t, time.Since(nacked), 200*time.Millisecond)
	assert.Equal(t, second.UUID, again.UUID)
	assert.Equal(t, "kept", again.Metadata.Get("note"))
	again.Ack()
	third.Ack()

	require.NoError(t, b.Ping(ctx))
	require.NoError(t, sub.Close())
	require.NoError(t, b.Close())
	assert.Error(t, b.Ping(ctx))
	assert.Error(t, b.Publish(ctx, app.TopicScanItems, app.BusMessage{}))
}

// The publisher's context does not reach the handler: an HTTP request
// ends long before its event is handled.
func TestInProcessDoesNotCarryThePublishersContext(t *testing.T) {
	t.Parallel()
	b := bus.NewInProcess(discard)
	defer b.Close()
	sub, err := b.Subscriber("h")
	require.NoError(t, err)
	ch, err := sub.Subscribe(t.Context(), app.TopicMoodleEvents)
	require.NoError(t, err)
	pubCtx, cancel := context.WithCancel(context.Background())
	require.NoError(t, b.Publish(pubCtx, app.TopicMoodleEvents, app.BusMessage{ID: "ev"}))
	cancel()
	m := receive(t, ch)
	assert.NoError(t, m.Context().Err())
	m.Ack()
}

// A full queue makes Publish wait (memory stays bounded whatever a scan
// publishes), until there is room or the publisher gives up.
func TestInProcessPublishWaitsForRoom(t *testing.T) {
	t.Parallel()
	b := bus.NewInProcessWith(bus.InProcessConfig{Workers: 1, QueueSize: 2}, discard)
	defer b.Close()
	sub, err := b.Subscriber("h")
	require.NoError(t, err)
	ch, err := sub.Subscribe(t.Context(), app.TopicScanItems)
	require.NoError(t, err)
	// One in the worker, two queued: the fourth waits.
	require.NoError(t, b.Publish(t.Context(), app.TopicScanItems, app.BusMessage{ID: "1"}, app.BusMessage{ID: "2"}))
	first := receive(t, ch)
	require.NoError(t, b.Publish(t.Context(), app.TopicScanItems, app.BusMessage{ID: "3"}))
	short, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	err = b.Publish(short, app.TopicScanItems, app.BusMessage{ID: "4"})
	require.ErrorIs(t, err, app.ErrUnavailable)

	done := make(chan error, 1)
	go func() { done <- b.Publish(t.Context(), app.TopicScanItems, app.BusMessage{ID: "4"}) }()
	select {
	case err := <-done:
		t.Fatalf("Publish returned (%v) while the queue was full", err)
	case <-time.After(100 * time.Millisecond):
	}
	first.Ack()
	require.NoError(t, <-done)
	for _, want := range []string{"2", "3", "4"} {
		m := receive(t, ch)
		assert.Equal(t, want, m.UUID, "in order")
		m.Ack()
	}
	// Without a subscription, messages are dropped at once.
	require.NoError(t, b.Publish(t.Context(), app.TopicMoodleEvents, app.BusMessage{ID: "x"}))
}

func TestInProcessManyMessages(t *testing.T) {
	t.Parallel()
	b := bus.NewInProcess(discard)
	defer b.Close()
	sub, err := b.Subscriber("h")
	require.NoError(t, err)
	ch, err := sub.Subscribe(t.Context(), app.TopicScanItems)
	require.NoError(t, err)
	const n = 1000
	var acked atomic.Int32
	go func() {
		for m := range ch {
			go func() {
				m.Ack()
				acked.Add(1)
			}()
		}
	}()
	for i := range n {
		require.NoError(t, b.Publish(t.Context(), app.TopicScanItems, app.BusMessage{ID: fmt.Sprint(i)}))
	}
	require.Eventually(t, func() bool { return acked.Load() == n }, 10*time.Second, 5*time.Millisecond)
}

// Redis losing its data (flushed, restarted without persistence) takes the
// consumer groups with it: the subscriber makes its group again and goes
// on with what is published next.
func TestRedisSubscriberSurvivesLostData(t *testing.T) {
	t.Parallel()
	b, raw := newRedis(t, bus.Config{Consumers: 2})
	sub, err := b.Subscriber("h")
	require.NoError(t, err)
	ch, err := sub.Subscribe(t.Context(), app.TopicScanItems)
	require.NoError(t, err)
	require.NoError(t, b.Publish(t.Context(), app.TopicScanItems, app.BusMessage{ID: "before"}))
	receive(t, ch).Ack()

	require.NoError(t, raw.Del(t.Context(), b.Stream(app.TopicScanItems)).Err()) // the stream and its group
	require.NoError(t, b.Publish(t.Context(), app.TopicScanItems, app.BusMessage{ID: "after"}))
	m := receive(t, ch)
	assert.Equal(t, "after", m.UUID)
	m.Ack()
}

// TestRedisTrimAcknowledged: entries every group acknowledged go; pending
// and unread ones stay.
func TestRedisTrimAcknowledged(t *testing.T) {
	t.Parallel()
	redisSrv := testenv.RedisServer(t)
	b, err := bus.NewRedis(t.Context(), bus.Config{URL: redisSrv.URL, Prefix: redisSrv.Prefix}, discard)
	require.NoError(t, err)
	defer b.Close()
	ctx := t.Context()
	opt, err := redis.ParseURL(redisSrv.URL)
	require.NoError(t, err)
	raw := redis.NewClient(opt)
	defer raw.Close()
	stream := b.Stream(app.TopicScanItems)

	n, err := b.TrimAcknowledged(ctx, app.TopicScanItems)
	require.NoError(t, err)
	assert.Zero(t, n, "no stream yet")

	for i := range 10 {
		require.NoError(t, b.Publish(ctx, app.TopicScanItems, app.BusMessage{ID: fmt.Sprint(i)}))
	}
	n, err = b.TrimAcknowledged(ctx, app.TopicScanItems)
	require.NoError(t, err)
	assert.Zero(t, n, "no group has read anything: nothing goes")

	require.NoError(t, raw.XGroupCreate(ctx, stream, "g1", "0").Err())
	require.NoError(t, raw.XGroupCreate(ctx, stream, "g2", "0").Err())
	read := func(group string, count int64) []redis.XMessage {
		res, err := raw.XReadGroup(ctx, &redis.XReadGroupArgs{Group: group, Consumer: "c", Streams: []string{stream, ">"},
			Count: count, Block: -1}).Result()
		require.NoError(t, err)
		return res[0].Messages
	}
	g1 := read("g1", 8) // g1 read 8, acknowledged the first 6
	for _, m := range g1[:6] {
		require.NoError(t, raw.XAck(ctx, stream, "g1", m.ID).Err())
	}
	g2 := read("g2", 10) // g2 read and acknowledged all 10
	for _, m := range g2 {
		require.NoError(t, raw.XAck(ctx, stream, "g2", m.ID).Err())
	}
	n, err = b.TrimAcknowledged(ctx, app.TopicScanItems)
	require.NoError(t, err)
	assert.Equal(t, int64(6), n, "below g1's oldest pending entry")
	length, err := raw.XLen(ctx, stream).Result()
	require.NoError(t, err)
	assert.Equal(t, int64(4), length)

	// g1's pending entries are still there to be claimed and acknowledged.
	p, err := raw.XPending(ctx, stream, "g1").Result()
	require.NoError(t, err)
	assert.Equal(t, int64(2), p.Count)
	claimed, err := raw.XClaim(ctx, &redis.XClaimArgs{Stream: stream, Group: "g1", Consumer: "c2",
		Messages: []string{g1[6].ID, g1[7].ID}}).Result()
	require.NoError(t, err)
	assert.Len(t, claimed, 2)
}

func TestRedisRefusesABadURLWithoutQuotingIt(t *testing.T) {
	_, err := bus.NewRedis(t.Context(), bus.Config{URL: "redis://user:s3cret@host:notaport/0", Prefix: "p"}, nil)
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "s3cret")
	_, err = bus.NewRedis(t.Context(), bus.Config{URL: "redis://127.0.0.1:1/0", Prefix: "p"}, nil)
	assert.ErrorIs(t, err, app.ErrUnavailable)
}
