package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// inboundTopics maps an inbound event's source to the topic its handler
// reads.
var inboundTopics = map[string]string{
	"moodle":   TopicMoodleEvents,
	"whatsapp": TopicWhatsAppWebhooks,
}

// Recovery publishes again the inbound events that were stored but never
// processed: the bus lost them (Redis flushed, the in-process bus stopped
// with the process) or the publish after the insert failed. Handlers are
// idempotent, so publishing an event that is merely slow is harmless.
type Recovery struct {
	inbound InboundStore
	bus     Bus
	now     func() time.Time
	log     *slog.Logger
}

// NewRecovery builds the recovery; now and log may be nil.
func NewRecovery(inbound InboundStore, bus Bus, now func() time.Time, log *slog.Logger) (*Recovery, error) {
	if inbound == nil || bus == nil {
		return nil, errors.New("app: recovery: inbound store and bus are required")
	}
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.Default()
	}
	return &Recovery{inbound: inbound, bus: bus, now: now, log: log}, nil
}

// RecoverInbound publishes again, oldest first, at most limit inbound
// events still in state received that arrived more than olderThan ago, each
// with its id as message id and correlation id, as when it was received. It
// returns how many it published; on a publish failure it stops and returns
// those published until then with the error.
func (r *Recovery) RecoverInbound(ctx context.Context, olderThan time.Duration, limit int) (int, error) {
	if limit <= 0 {
		return 0, fmt.Errorf("recover inbound: limit %d: want a positive limit", limit)
	}
	events, err := r.inbound.UnprocessedInbound(ctx, r.now().Add(-olderThan), limit)
	if err != nil {
		return 0, fmt.Errorf("recover inbound: list: %w", err)
	}
	n := 0
	for _, e := range events {
		topic, ok := inboundTopics[e.Source]
		if !ok {
			r.log.WarnContext(ctx, "recovery: inbound event of an unknown source left alone",
				"event_id", e.ID, "source", e.Source)
			continue
		}
		md := map[string]string{"correlation_id": e.ID}
		if e.Source == "moodle" && e.Name != "" {
			md["event"] = e.Name
		}
		msg := BusMessage{ID: e.ID, Payload: e.Payload, Metadata: md}
		if err := r.bus.Publish(ctx, topic, msg); err != nil {
			return n, fmt.Errorf("recover inbound: publish %s: %w", e.ID, err)
		}
		n++
	}
	return n, nil
}

// RecoveryLoop is how RunRecovery works.
type RecoveryLoop struct {
	// Every is the pause between passes; the first pass runs at once.
	Every time.Duration
	// OlderThan leaves alone events received more recently: they are
	// most likely on their way. Keep it well above the usual time from
	// webhook to processed, or busy periods publish events twice.
	OlderThan time.Duration
	// Limit bounds the events one pass publishes.
	Limit int
}

// RunRecovery runs RecoverInbound at once and then every loop.Every until
// ctx ends. With the in-process bus, start it once the router is running:
// a message published before its handler subscribed is dropped.
func (r *Recovery) RunRecovery(ctx context.Context, loop RecoveryLoop) {
	if loop.Every <= 0 {
		loop.Every = time.Minute
	}
	if loop.Limit <= 0 {
		loop.Limit = 500
	}
	t := time.NewTicker(loop.Every)
	defer t.Stop()
	for {
		n, err := r.RecoverInbound(ctx, loop.OlderThan, loop.Limit)
		switch {
		case err != nil && ctx.Err() == nil:
			r.log.WarnContext(ctx, "recovery of inbound events failed", "published", n, "err", err)
		case n > 0:
			r.log.InfoContext(ctx, "inbound events published again", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
