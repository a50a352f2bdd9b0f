package app_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/notifier/app"
)

// ingestStore is an in-memory app.InboundStore, correct under concurrency;
// the real stores pass the contract suite in adapters/storetest.
type ingestStore struct {
	app.InboundStore // only InsertInbound is used here
	mu               sync.Mutex
	events           map[string]app.InboundEvent
	err              error
}

func (s *ingestStore) InsertInbound(_ context.Context, events ...app.InboundEvent) ([]bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil, s.err
	}
	if s.events == nil {
		s.events = map[string]app.InboundEvent{}
	}
	isNew := make([]bool, len(events))
	for i, e := range events {
		if _, ok := s.events[e.ID]; !ok {
			s.events[e.ID] = e
			isNew[i] = true
		}
	}
	return isNew, nil
}

// ingestBus records what is published; it fails with err, or blocks until
// the context ends when block is set.
type ingestBus struct {
	mu    sync.Mutex
	msgs  []app.BusMessage
	topic []string
	err   error
	block bool
}

func (b *ingestBus) Publish(ctx context.Context, topic string, msgs ...app.BusMessage) error {
	if b.block {
		<-ctx.Done()
		return ctx.Err()
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return b.err
	}
	b.msgs = append(b.msgs, msgs...)
	for range msgs {
		b.topic = append(b.topic, topic)
	}
	return nil
}

var ingestNow = time.Date(2026, time.December, 3, 10, 15, 0, 0, time.UTC)

func newIngest(t *testing.T, s app.InboundStore, b app.Bus, log *slog.Logger) *app.IngestHandler {
	t.Helper()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h, err := app.NewIngestHandler(s, b, func() time.Time { return ingestNow }, log)
	require.NoError(t, err)
	return h
}

func delivery(id, name string) app.InboundEvent {
	return app.InboundEvent{ID: id, Name: name, Payload: []byte(fmt.Sprintf(`{"id":%q, "event":%q}`, id, name))}
}

func TestNewIngestHandlerRefusesMissingDeps(t *testing.T) {
	s, b, now, log := &ingestStore{}, &ingestBus{}, time.Now, slog.New(slog.DiscardHandler)
	for name, build := range map[string]func() (*app.IngestHandler, error){
		"store":  func() (*app.IngestHandler, error) { return app.NewIngestHandler(nil, b, now, log) },
		"bus":    func() (*app.IngestHandler, error) { return app.NewIngestHandler(s, nil, now, log) },
		"clock":  func() (*app.IngestHandler, error) { return app.NewIngestHandler(s, b, nil, log) },
		"logger": func() (*app.IngestHandler, error) { return app.NewIngestHandler(s, b, now, nil) },
	} {
		h, err := build()
		assert.Error(t, err, name)
		assert.Nil(t, h, name)
	}
}

func TestIngestStoresAndPublishesANewEvent(t *testing.T) {
	s, b := &ingestStore{}, &ingestBus{}
	in := delivery("ev-1", app.EventEnrolmentCreated)
	res, err := newIngest(t, s, b, nil).Handle(t.Context(), in)
	require.NoError(t, err)
	assert.Equal(t, app.IngestResult{Status: app.IngestAccepted, Queued: true}, res)

	stored := s.events["ev-1"]
	assert.Equal(t, app.InboundEvent{ID: "ev-1", Source: app.SourceMoodle, Name: app.EventEnrolmentCreated,
		Payload: in.Payload, ReceivedAt: ingestNow, State: app.InboundReceived}, stored)
	require.Len(t, b.msgs, 1)
	assert.Equal(t, []string{app.TopicMoodleEvents}, b.topic)
	assert.Equal(t, app.BusMessage{ID: "ev-1", Payload: in.Payload,
		Metadata: map[string]string{"correlation_id": "ev-1", "event": app.EventEnrolmentCreated}}, b.msgs[0])
}

func TestIngestDuplicateIsNotPublishedAgain(t *testing.T) {
	s, b := &ingestStore{}, &ingestBus{}
	h := newIngest(t, s, b, nil)
	_, err := h.Handle(t.Context(), delivery("ev-1", app.EventUserUpdated))
	require.NoError(t, err)
	res, err := h.Handle(t.Context(), delivery("ev-1", app.EventUserUpdated))
	require.NoError(t, err)
	assert.Equal(t, app.IngestResult{Status: app.IngestDuplicate}, res)
	assert.Len(t, b.msgs, 1)
}

func TestIngestUnknownEventIsStoredIgnored(t *testing.T) {
	s, b := &ingestStore{}, &ingestBus{}
	res, err := newIngest(t, s, b, nil).Handle(t.Context(), delivery("ev-1", "test_event"))
	require.NoError(t, err)
	assert.Equal(t, app.IngestResult{Status: app.IngestIgnored}, res)
	assert.Equal(t, app.InboundIgnored, s.events["ev-1"].State)
	assert.Empty(t, b.msgs, "an ignored event is not published")
}

func TestIngestStoreFailureIsUnavailable(t *testing.T) {
	for name, storeErr := range map[string]error{
		"transient": fmt.Errorf("sqlite: insert: %w", app.ErrUnavailable),
		"other":     errors.New("constraint violated"),
	} {
		b := &ingestBus{}
		_, err := newIngest(t, &ingestStore{err: storeErr}, b, nil).Handle(t.Context(), delivery("ev-1", app.EventUserUpdated))
		require.Error(t, err, name)
		assert.ErrorIs(t, err, app.ErrUnavailable, name)
		assert.ErrorIs(t, err, storeErr, name)
		assert.Contains(t, err.Error(), "ev-1", name)
		assert.Empty(t, b.msgs, name)
	}
}

func TestIngestPublishFailureIsLoggedNotReturned(t *testing.T) {
	var logs bytes.Buffer
	s, b := &ingestStore{}, &ingestBus{err: errors.New("redis: connection refused")}
	res, err := newIngest(t, s, b, slog.New(slog.NewTextHandler(&logs, nil))).
		Handle(t.Context(), delivery("ev-1", app.EventCourseUpdated))
	require.NoError(t, err, "the event is stored: the sender must not retry")
	assert.Equal(t, app.IngestResult{Status: app.IngestAccepted, Queued: false}, res)
	assert.Equal(t, app.InboundReceived, s.events["ev-1"].State, "left for recovery")
	assert.Contains(t, logs.String(), "correlation_id=ev-1")
	assert.Contains(t, logs.String(), "connection refused")
}

// A bus that hangs must not hold the request for long, and a request whose
// sender hung up after the insert still publishes.
func TestIngestPublishIsBounded(t *testing.T) {
	s, b := &ingestStore{}, &ingestBus{block: true}
	start := time.Now()
	res, err := newIngest(t, s, b, nil).Handle(t.Context(), delivery("ev-1", app.EventCourseUpdated))
	require.NoError(t, err)
	assert.False(t, res.Queued)
	assert.Less(t, time.Since(start), 3*time.Second)

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	b = &ingestBus{}
	store := &ingestStore{}
	res, err = newIngest(t, store, b, nil).Handle(ctx, delivery("ev-2", app.EventCourseUpdated))
	require.NoError(t, err)
	assert.True(t, res.Queued, "the publish does not follow the request's cancellation")
}

func TestIngestRefusesAnEventWithoutID(t *testing.T) {
	s := &ingestStore{}
	_, err := newIngest(t, s, &ingestBus{}, nil).Handle(t.Context(), delivery("", app.EventCourseUpdated))
	require.Error(t, err)
	assert.NotErrorIs(t, err, app.ErrUnavailable)
	assert.Empty(t, s.events)
}
