package messaging

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/notifier/app"
)

// liveStore records dead letters and the state of the context each write
// got.
type liveStore struct {
	app.DeadLetterStore
	added  []app.DeadLetter
	ctxErr []error
}

func (s *liveStore) AddDeadLetter(ctx context.Context, d app.DeadLetter) (app.DeadLetter, error) {
	s.ctxErr = append(s.ctxErr, ctx.Err())
	d.ID = int64(len(s.added) + 1)
	s.added = append(s.added, d)
	return d, nil
}

// The poison middleware hands over the incoming message, whose context may
// be over (an attempt's timeout, a retry that gave up on it): the write
// must still happen, on a live context that keeps the values.
func TestDeadLetterPublisherWritesWithALiveContext(t *testing.T) {
	store := &liveStore{}
	var hookCtxErr error
	var hookCorrelation string
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	p := &deadLetterPublisher{store: store, log: slog.New(slog.DiscardHandler), timeout: time.Second,
		now: func() time.Time { return now },
		onDead: func(ctx context.Context, d app.DeadLetter) {
			hookCtxErr = ctx.Err()
			hookCorrelation = CorrelationID(ctx)
		}}

	ctx, cancel := context.WithCancel(WithCorrelationID(context.Background(), "ev-1"))
	cancel()
	msg := message.NewMessage("m-1", []byte("payload"))
	msg.SetContext(ctx)
	msg.Metadata.Set(CorrelationIDKey, "ev-1")
	msg.Metadata.Set(middleware.ReasonForPoisonedKey, "boom")
	msg.Metadata.Set(middleware.PoisonedTopicKey, app.TopicMoodleEvents)
	msg.Metadata.Set(middleware.PoisonedHandlerKey, "moodle-event")
	msg.Metadata.Set(middleware.PoisonedSubscriberKey, "sub")
	msg.Metadata.Set(attemptsKey, "4")
	msg.Metadata.Set(firstFailedKey, now.Add(-time.Minute).Format(time.RFC3339Nano))

	require.NoError(t, p.Publish(deadLetterTopic, msg))
	require.Len(t, store.added, 1)
	assert.NoError(t, store.ctxErr[0], "the write's context is live")
	assert.NoError(t, hookCtxErr, "so is the hook's")
	assert.Equal(t, "ev-1", hookCorrelation, "and it keeps the values")
	assert.Equal(t, app.DeadLetter{
		ID: 1, MessageID: "m-1", Topic: app.TopicMoodleEvents, Handler: "moodle-event", Payload: []byte("payload"),
		Metadata: map[string]string{CorrelationIDKey: "ev-1"}, Reason: "boom", Attempts: 4,
		FirstFailedAt: now.Add(-time.Minute), LastFailedAt: now,
	}, store.added[0])
}

func TestDeadLetterReasonIsBounded(t *testing.T) {
	msg := message.NewMessage("m", nil)
	msg.Metadata.Set(middleware.ReasonForPoisonedKey, strings.Repeat("é", maxReason))
	d := toDeadLetter(msg, time.Now())
	assert.LessOrEqual(t, len(d.Reason), maxReason+len("…"))
	assert.True(t, strings.HasSuffix(d.Reason, "é…"), "cut on a rune boundary")
	assert.Equal(t, 1, d.Attempts, "at least the attempt that failed")
	assert.Equal(t, d.LastFailedAt, d.FirstFailedAt)
}

func TestPermanent(t *testing.T) {
	base := errors.New("bad payload")
	err := fmt.Errorf("decode: %w", Permanent(base))
	assert.True(t, IsPermanent(err))
	assert.ErrorIs(t, err, base)
	assert.Equal(t, "decode: bad payload", err.Error())
	assert.False(t, IsPermanent(base))
	assert.NoError(t, Permanent(nil))
}

func TestWorstCaseOfTheDefaults(t *testing.T) {
	// Five attempts of 10 s and pauses of 0.25, 0.5, 1 and 2 s, +20 %.
	assert.Equal(t, 50*time.Second+4500*time.Millisecond, RouterConfig{}.WorstCase())
	c := RouterConfig{MaxAttempts: 10, InitialInterval: time.Second, MaxInterval: 3 * time.Second, AttemptTimeout: time.Second}
	// Pauses 1, 2, 3, 3, 3, 3, 3, 3, 3 s (capped) +20 %.
	assert.Equal(t, 10*time.Second+time.Duration(float64(24*time.Second)*1.2), c.WorstCase())
}

func TestLogHandlerAddsTheCorrelationID(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(LogHandler(slog.NewTextHandler(&buf, nil)))
	log.InfoContext(WithCorrelationID(context.Background(), "ev-7"), "handled", "k", "v")
	log.InfoContext(context.Background(), "outside")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	require.Len(t, lines, 2)
	assert.Contains(t, lines[0], "correlation_id=ev-7")
	assert.NotContains(t, lines[1], "correlation_id")
	assert.Equal(t, LogHandler(log.Handler()), log.Handler(), "wrapping twice adds nothing")
	assert.Empty(t, CorrelationID(context.Background()))
}

func TestNewRouterRequiresItsDependencies(t *testing.T) {
	_, err := NewRouter(RouterConfig{DeadLetters: &liveStore{}})
	assert.Error(t, err)
	_, err = NewRouter(RouterConfig{Subscribers: func(string) (message.Subscriber, error) { return nil, nil }})
	assert.Error(t, err)
}
