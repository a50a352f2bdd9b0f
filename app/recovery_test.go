package app_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/notifier/app"
)

// unprocessedStore is an app.InboundStore whose UnprocessedInbound serves
// events as the real stores do: state received, received before the
// instant, oldest first, at most limit.
type unprocessedStore struct {
	app.InboundStore
	mu     sync.Mutex
	events []app.InboundEvent
	err    error
	asked  []time.Time
}

func (s *unprocessedStore) UnprocessedInbound(_ context.Context, before time.Time, limit int) ([]app.InboundEvent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.asked = append(s.asked, before)
	if s.err != nil {
		return nil, s.err
	}
	var out []app.InboundEvent
	for _, e := range s.events {
		if e.State == app.InboundReceived && e.ReceivedAt.Before(before) && len(out) < limit {
			out = append(out, e)
		}
	}
	return out, nil
}

var recoveryNow = time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)

func inbound(id, source, name string, age time.Duration, state app.InboundState) app.InboundEvent {
	return app.InboundEvent{ID: id, Source: source, Name: name, Payload: []byte(`{"id":"` + id + `"}`),
		ReceivedAt: recoveryNow.Add(-age), State: state}
}

func newRecovery(t *testing.T, s app.InboundStore, b app.Bus) *app.Recovery {
	t.Helper()
	r, err := app.NewRecovery(s, b, func() time.Time { return recoveryNow }, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	return r
}

func TestRecoverInboundRepublishesUnprocessedEvents(t *testing.T) {
	s := &unprocessedStore{events: []app.InboundEvent{
		inbound("ev-old", "moodle", app.EventEnrolmentCreated, time.Hour, app.InboundReceived),
		inbound("wa-old", "whatsapp", "whatsapp_webhook", 30*time.Minute, app.InboundReceived),
		inbound("ev-done", "moodle", app.EventEnrolmentCreated, time.Hour, app.InboundProcessed),
		inbound("ev-failed", "moodle", app.EventEnrolmentCreated, time.Hour, app.InboundFailed),
		inbound("ev-new", "moodle", app.EventEnrolmentCreated, time.Second, app.InboundReceived),
		inbound("x-old", "elsewhere", "x", time.Hour, app.InboundReceived),
	}}
	b := &recordBus{}
	n, err := newRecovery(t, s, b).RecoverInbound(t.Context(), 2*time.Minute, 100)
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	assert.Equal(t, []time.Time{recoveryNow.Add(-2 * time.Minute)}, s.asked)
	assert.Equal(t, []published{
		{app.TopicMoodleEvents, app.BusMessage{ID: "ev-old", Payload: []byte(`{"id":"ev-old"}`),
			Metadata: map[string]string{"correlation_id": "ev-old", "event": app.EventEnrolmentCreated}}},
		{app.TopicWhatsAppWebhooks, app.BusMessage{ID: "wa-old", Payload: []byte(`{"id":"wa-old"}`),
			Metadata: map[string]string{"correlation_id": "wa-old"}}},
	}, b.all())
}

func TestRecoverInboundHonoursTheLimit(t *testing.T) {
	s := &unprocessedStore{}
	for i := range 10 {
		s.events = append(s.events, inbound(fmt.Sprintf("ev-%d", i), "moodle", "course_updated", time.Hour, app.InboundReceived))
	}
	b := &recordBus{}
	n, err := newRecovery(t, s, b).RecoverInbound(t.Context(), time.Minute, 4)
	require.NoError(t, err)
	assert.Equal(t, 4, n)
	assert.Len(t, b.all(), 4)

	_, err = newRecovery(t, s, b).RecoverInbound(t.Context(), time.Minute, 0)
	assert.Error(t, err)
}

func TestRecoverInboundStopsAtAPublishFailure(t *testing.T) {
	s := &unprocessedStore{events: []app.InboundEvent{
		inbound("a", "moodle", "course_updated", time.Hour, app.InboundReceived),
		inbound("b", "moodle", "course_updated", time.Hour, app.InboundReceived),
		inbound("c", "moodle", "course_updated", time.Hour, app.InboundReceived),
	}}
	b := &recordBus{fail: func(_ string, m app.BusMessage) error {
		if m.ID == "b" {
			return app.ErrUnavailable
		}
		return nil
	}}
	n, err := newRecovery(t, s, b).RecoverInbound(t.Context(), time.Minute, 10)
	assert.ErrorIs(t, err, app.ErrUnavailable)
	assert.Equal(t, 1, n)

	s.err = errors.New("db down")
	_, err = newRecovery(t, s, b).RecoverInbound(t.Context(), time.Minute, 10)
	assert.Error(t, err)
}

func TestRunRecoveryRunsAtOnceAndThenAtIntervals(t *testing.T) {
	s := &unprocessedStore{events: []app.InboundEvent{
		inbound("a", "moodle", "course_updated", time.Hour, app.InboundReceived),
	}}
	b := &recordBus{}
	r := newRecovery(t, s, b)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.RunRecovery(ctx, app.RecoveryLoop{Every: 20 * time.Millisecond, OlderThan: time.Minute, Limit: 10})
	}()
	require.Eventually(t, func() bool { return len(b.all()) >= 3 }, 5*time.Second, 5*time.Millisecond,
		"the first pass runs at once, the next ones at each interval")
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("RunRecovery did not return when its context ended")
	}
	assert.True(t, slices.ContainsFunc(b.all(), func(p published) bool { return p.Msg.ID == "a" }))
}

func TestNewRecoveryRequiresStoreAndBus(t *testing.T) {
	_, err := app.NewRecovery(nil, &recordBus{}, nil, nil)
	assert.Error(t, err)
	_, err = app.NewRecovery(&unprocessedStore{}, nil, nil, nil)
	assert.Error(t, err)
}
