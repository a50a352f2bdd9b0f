package messaging

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"

	"github.com/acme/notifier/app"
)

// deadLetterTopic names the poison queue for Watermill; nothing is
// published there: the dead letters live in the database.
const deadLetterTopic = "dead-letters"

// maxReason bounds the failure reason kept with a dead letter.
const maxReason = 4000

// deadLetterPublisher is the poison queue's publisher: it writes each
// message it is given to the dead-letter store, so that dead letters
// survive a restart with either bus.
type deadLetterPublisher struct {
	store   app.DeadLetterStore
	onDead  func(context.Context, app.DeadLetter)
	log     *slog.Logger
	timeout time.Duration
	now     func() time.Time
}

var _ message.Publisher = (*deadLetterPublisher)(nil)

// Publish stores msgs. The poison middleware passes the incoming message,
// whose context may be cancelled by then (an attempt's timeout, a retry
// that gave up when its context ended): the write runs on a live context
// that keeps its values, so that it does not fail and loop.
func (p *deadLetterPublisher) Publish(_ string, msgs ...*message.Message) error {
	for _, msg := range msgs {
		if err := p.store1(msg); err != nil {
			return err
		}
	}
	return nil
}

func (p *deadLetterPublisher) store1(msg *message.Message) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(msg.Context()), p.timeout)
	defer cancel()
	d := toDeadLetter(msg, p.now())
	stored, err := p.store.AddDeadLetter(ctx, d)
	if err != nil {
		p.log.ErrorContext(ctx, "storing a dead letter failed; the message will be handled again",
			"handler", d.Handler, "topic", d.Topic, "message_id", d.MessageID, "err", err)
		return fmt.Errorf("store dead letter of message %s: %w", d.MessageID, err)
	}
	p.log.ErrorContext(ctx, "message dead-lettered", "dead_letter_id", stored.ID, "handler", stored.Handler,
		"topic", stored.Topic, "message_id", stored.MessageID, "attempts", d.Attempts, "reason", d.Reason)
	if p.onDead != nil {
		p.runHook(ctx, stored)
	}
	return nil
}

// runHook runs onDead; a panic in it must not undo the stored dead letter.
func (p *deadLetterPublisher) runHook(ctx context.Context, d app.DeadLetter) {
	defer func() {
		if v := recover(); v != nil {
			p.log.ErrorContext(ctx, "dead-letter hook panicked", "dead_letter_id", d.ID, "panic", fmt.Sprint(v))
		}
	}()
	p.onDead(ctx, d)
}

func (p *deadLetterPublisher) Close() error { return nil }

// toDeadLetter reads what the poison middleware and the retries left on
// msg: the original topic and handler, the reason, the attempts.
func toDeadLetter(msg *message.Message, now time.Time) app.DeadLetter {
	md := make(map[string]string, len(msg.Metadata))
	for k, v := range msg.Metadata {
		if !internalMetadata(k) {
			md[k] = v
		}
	}
	attempts, _ := strconv.Atoi(msg.Metadata.Get(attemptsKey))
	first, err := time.Parse(time.RFC3339Nano, msg.Metadata.Get(firstFailedKey))
	if err != nil {
		first = now
	}
	return app.DeadLetter{
		MessageID:     msg.UUID,
		Topic:         msg.Metadata.Get(middleware.PoisonedTopicKey),
		Handler:       msg.Metadata.Get(middleware.PoisonedHandlerKey),
		Payload:       append([]byte(nil), msg.Payload...),
		Metadata:      md,
		Reason:        truncate(msg.Metadata.Get(middleware.ReasonForPoisonedKey), maxReason),
		Attempts:      max(attempts, 1),
		FirstFailedAt: first,
		LastFailedAt:  now,
	}
}

// truncate cuts s to at most n bytes, on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
