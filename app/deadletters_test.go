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

// memDeadLetters is an in-memory app.DeadLetterStore.
type memDeadLetters struct {
	mu     sync.Mutex
	rows   map[int64]app.DeadLetter
	nextID int64
	// failGet and failDelete, when set, are the answers of those calls.
	failGet, failDelete error
}

func newMemDeadLetters() *memDeadLetters { return &memDeadLetters{rows: map[int64]app.DeadLetter{}} }

func (m *memDeadLetters) AddDeadLetter(_ context.Context, d app.DeadLetter) (app.DeadLetter, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.nextID++
	d.ID = m.nextID
	m.rows[d.ID] = d
	return d, nil
}

func (m *memDeadLetters) ListDeadLetters(_ context.Context, afterID int64, limit int) ([]app.DeadLetter, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var ids []int64
	for id := range m.rows {
		if id > afterID {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	var out []app.DeadLetter
	for _, id := range ids {
		if len(out) == limit {
			break
		}
		out = append(out, m.rows[id])
	}
	return out, nil
}

func (m *memDeadLetters) GetDeadLetter(_ context.Context, id int64) (app.DeadLetter, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failGet != nil {
		return app.DeadLetter{}, m.failGet
	}
	d, ok := m.rows[id]
	if !ok {
		return app.DeadLetter{}, app.ErrNotFound
	}
	return d, nil
}

func (m *memDeadLetters) DeleteDeadLetter(_ context.Context, id int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failDelete != nil {
		return m.failDelete
	}
	if _, ok := m.rows[id]; !ok {
		return app.ErrNotFound
	}
	delete(m.rows, id)
	return nil
}

func (m *memDeadLetters) CountDeadLetters(context.Context) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.rows), nil
}

// published is one message a recordBus took.
type published struct {
	Topic string
	Msg   app.BusMessage
}

// recordBus records what is published; fail decides, per message, whether
// the publish fails; during runs inside each publish.
type recordBus struct {
	mu     sync.Mutex
	msgs   []published
	fail   func(topic string, m app.BusMessage) error
	during func(topic string, m app.BusMessage)
}

func (b *recordBus) Publish(_ context.Context, topic string, msgs ...app.BusMessage) error {
	for _, m := range msgs {
		if b.fail != nil {
			if err := b.fail(topic, m); err != nil {
				return err
			}
		}
		if b.during != nil {
			b.during(topic, m)
		}
		b.mu.Lock()
		b.msgs = append(b.msgs, published{topic, m})
		b.mu.Unlock()
	}
	return nil
}

func (b *recordBus) all() []published {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.msgs)
}

func newDeadLetters(t *testing.T, s app.DeadLetterStore, b app.Bus, in app.InboundStore, hooks map[string]app.DeadLetterHook) *app.DeadLetters {
	t.Helper()
	d, err := app.NewDeadLetters(app.DeadLettersDeps{Store: s, Bus: b, Inbound: in, Hooks: hooks,
		Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	return d
}

func addDead(t *testing.T, s app.DeadLetterStore, topic, msgID string) app.DeadLetter {
	t.Helper()
	d, err := s.AddDeadLetter(t.Context(), app.DeadLetter{
		MessageID: msgID, Topic: topic, Handler: "h", Payload: []byte(`{"id":"` + msgID + `"}`),
		Metadata: map[string]string{"correlation_id": msgID, "event": "user_enrolment_created"},
		Reason:   "boom", Attempts: 5, FirstFailedAt: time.Now(), LastFailedAt: time.Now(),
	})
	require.NoError(t, err)
	return d
}

func TestNewDeadLettersRequiresStoreAndBus(t *testing.T) {
	_, err := app.NewDeadLetters(app.DeadLettersDeps{Bus: &recordBus{}})
	assert.Error(t, err)
	_, err = app.NewDeadLetters(app.DeadLettersDeps{Store: newMemDeadLetters()})
	assert.Error(t, err)
}

func TestReplayPublishesToTheOriginalTopicThenDeletes(t *testing.T) {
	s, b := newMemDeadLetters(), &recordBus{}
	dl := newDeadLetters(t, s, b, nil, nil)
	a := addDead(t, s, app.TopicMoodleEvents, "ev-1")
	c := addDead(t, s, app.TopicScanItems, "scan-1-2")

	res, err := dl.Replay(t.Context(), []int64{c.ID, a.ID, c.ID})
	require.NoError(t, err)
	assert.Equal(t, []int64{c.ID, a.ID}, res.Moved, "each once, in the order asked")
	assert.Empty(t, res.Failed)

	msgs := b.all()
	require.Len(t, msgs, 2)
	assert.Equal(t, app.TopicScanItems, msgs[0].Topic)
	assert.Equal(t, app.TopicMoodleEvents, msgs[1].Topic)
	assert.Equal(t, "ev-1", msgs[1].Msg.ID)
	assert.Equal(t, a.Payload, msgs[1].Msg.Payload)
	assert.Equal(t, map[string]string{"correlation_id": "ev-1", "event": "user_enrolment_created",
		app.ReplayedFromKey: fmt.Sprint(a.ID)}, msgs[1].Msg.Metadata)
	assert.Equal(t, "ev-1", a.Metadata["correlation_id"], "the stored metadata is not changed")

	n, _ := s.CountDeadLetters(t.Context())
	assert.Zero(t, n)
}

func TestReplayKeepsWhatFailsAndSaysWhy(t *testing.T) {
	s := newMemDeadLetters()
	b := &recordBus{fail: func(topic string, m app.BusMessage) error {
		if m.ID == "bad" {
			return fmt.Errorf("bus: %w", app.ErrUnavailable)
		}
		return nil
	}}
	dl := newDeadLetters(t, s, b, nil, nil)
	good := addDead(t, s, app.TopicMoodleEvents, "good")
	bad := addDead(t, s, app.TopicMoodleEvents, "bad")

	res, err := dl.Replay(t.Context(), []int64{bad.ID, 999, good.ID})
	require.NoError(t, err)
	assert.Equal(t, []int64{good.ID}, res.Moved)
	require.Len(t, res.Failed, 2)
	assert.Equal(t, bad.ID, res.Failed[0].ID)
	assert.Contains(t, res.Failed[0].Reason, "publish")
	assert.Equal(t, app.ReplayFailure{ID: 999, Reason: "not found"}, res.Failed[1])

	_, err = s.GetDeadLetter(t.Context(), bad.ID)
	assert.NoError(t, err, "a dead letter whose publish failed stays")
	_, err = s.GetDeadLetter(t.Context(), good.ID)
	assert.ErrorIs(t, err, app.ErrNotFound)
}

func TestReplayReportsAPublishedRowThatCouldNotBeRemoved(t *testing.T) {
	s, b := newMemDeadLetters(), &recordBus{}
	dl := newDeadLetters(t, s, b, nil, nil)
	d := addDead(t, s, app.TopicMoodleEvents, "ev-1")
	s.failDelete = fmt.Errorf("db: %w", app.ErrUnavailable)

	res, err := dl.Replay(t.Context(), []int64{d.ID})
	require.NoError(t, err)
	assert.Empty(t, res.Moved)
	require.Len(t, res.Failed, 1)
	assert.Contains(t, res.Failed[0].Reason, "published, but not removed")
	assert.Len(t, b.all(), 1)
}

func TestReplayStopsWhenCancelled(t *testing.T) {
	s, b := newMemDeadLetters(), &recordBus{}
	dl := newDeadLetters(t, s, b, nil, nil)
	d := addDead(t, s, app.TopicMoodleEvents, "ev-1")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	res, err := dl.Replay(ctx, []int64{d.ID})
	assert.ErrorIs(t, err, context.Canceled)
	assert.Empty(t, res.Moved)
	assert.Empty(t, b.all())
}

// ReplayAll moves exactly the rows that exist when it starts, even when
// every replayed message fails again at once and is dead-lettered anew.
func TestReplayAllIsBounded(t *testing.T) {
	s := newMemDeadLetters()
	b := &recordBus{}
	b.during = func(topic string, m app.BusMessage) {
		_, _ = s.AddDeadLetter(context.Background(), app.DeadLetter{MessageID: m.ID, Topic: topic, Handler: "h",
			Metadata: m.Metadata, Reason: "again", Attempts: 1})
	}
	dl := newDeadLetters(t, s, b, nil, nil)
	var want []int64
	for i := range 1203 { // more than two pages
		want = append(want, addDead(t, s, app.TopicScanItems, fmt.Sprintf("m-%d", i)).ID)
	}

	res, err := dl.ReplayAll(t.Context())
	require.NoError(t, err)
	assert.Equal(t, want, res.Moved)
	assert.Empty(t, res.Failed)
	n, _ := s.CountDeadLetters(t.Context())
	assert.Equal(t, 1203, n, "the new failures wait for the next replay")
	assert.Len(t, b.all(), 1203)
}

func TestReplayAllOfNothing(t *testing.T) {
	dl := newDeadLetters(t, newMemDeadLetters(), &recordBus{}, nil, nil)
	res, err := dl.ReplayAll(t.Context())
	require.NoError(t, err)
	assert.Empty(t, res.Moved)
	assert.Empty(t, res.Failed)
}

func TestListClampsTheLimit(t *testing.T) {
	s := newMemDeadLetters()
	dl := newDeadLetters(t, s, &recordBus{}, nil, nil)
	for i := range 600 {
		addDead(t, s, app.TopicScanItems, fmt.Sprintf("m-%d", i))
	}
	page, err := dl.List(t.Context(), 0, 0)
	require.NoError(t, err)
	assert.Len(t, page, 50)
	page, err = dl.List(t.Context(), 0, 10000)
	require.NoError(t, err)
	assert.Len(t, page, app.MaxDeadLetterPage)
	page, err = dl.List(t.Context(), page[len(page)-1].ID, 500)
	require.NoError(t, err)
	assert.Len(t, page, 100)
}

func TestDeleteDeadLetter(t *testing.T) {
	s := newMemDeadLetters()
	dl := newDeadLetters(t, s, &recordBus{}, nil, nil)
	d := addDead(t, s, app.TopicScanItems, "m")
	require.NoError(t, dl.Delete(t.Context(), d.ID))
	assert.ErrorIs(t, dl.Delete(t.Context(), d.ID), app.ErrNotFound)
}

// failedInbound records MarkInboundFailed calls; the rest of
// app.InboundStore is not used by these tests.
type failedInbound struct {
	app.InboundStore
	mu     sync.Mutex
	failed map[string]string
	err    error
}

func (f *failedInbound) MarkInboundFailed(_ context.Context, id, reason string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	if f.failed == nil {
		f.failed = map[string]string{}
	}
	f.failed[id] = reason
	return nil
}

func TestOnDeadLetterMarksTheInboundEventFailed(t *testing.T) {
	in := &failedInbound{}
	var hooked []int64
	dl := newDeadLetters(t, newMemDeadLetters(), &recordBus{}, in, map[string]app.DeadLetterHook{
		app.TopicScanItems: func(_ context.Context, d app.DeadLetter) error {
			hooked = append(hooked, d.ID)
			return errors.New("hook failures are only logged")
		},
	})
	dl.OnDeadLetter(t.Context(), app.DeadLetter{ID: 1, Topic: app.TopicMoodleEvents, Reason: "bad payload",
		Metadata: map[string]string{"correlation_id": "ev-1"}})
	dl.OnDeadLetter(t.Context(), app.DeadLetter{ID: 2, Topic: app.TopicWhatsAppWebhooks, Reason: "x",
		Metadata: map[string]string{"correlation_id": "wa-1"}})
	dl.OnDeadLetter(t.Context(), app.DeadLetter{ID: 3, Topic: app.TopicMoodleEvents, Reason: "no id"})
	dl.OnDeadLetter(t.Context(), app.DeadLetter{ID: 4, Topic: app.TopicScanItems, Reason: "x",
		Metadata: map[string]string{"correlation_id": "scan:1"}})

	assert.Equal(t, map[string]string{"ev-1": "bad payload", "wa-1": "x"}, in.failed)
	assert.Equal(t, []int64{4}, hooked)

	// A store failure is logged, not raised: the dead letter is stored.
	in.err = app.ErrUnavailable
	dl.OnDeadLetter(t.Context(), app.DeadLetter{ID: 5, Topic: app.TopicMoodleEvents,
		Metadata: map[string]string{"correlation_id": "ev-2"}})

	// Without an inbound store, nothing to mark.
	newDeadLetters(t, newMemDeadLetters(), &recordBus{}, nil, nil).OnDeadLetter(t.Context(),
		app.DeadLetter{Topic: app.TopicMoodleEvents, Metadata: map[string]string{"correlation_id": "ev-3"}})
}
