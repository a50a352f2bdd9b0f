package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// SourceMoodle is the InboundEvent.Source of Moodle webhooks.
const SourceMoodle = "moodle"

// publishTimeout bounds how long a webhook request waits for the bus. The
// event is stored before the publish, so giving up costs only latency: the
// recovery loop publishes it later.
const publishTimeout = time.Second

// IngestStatus is what became of a delivery (CONTRACT section 3).
type IngestStatus string

const (
	IngestAccepted  IngestStatus = "accepted"  // new, stored and queued
	IngestIgnored   IngestStatus = "ignored"   // new, stored, an event name the notifier does not act on
	IngestDuplicate IngestStatus = "duplicate" // an event with this id was received before
)

// IngestResult is the account of one delivery.
type IngestResult struct {
	Status IngestStatus
	// Queued reports whether the event went on the bus during this call.
	// False for an accepted event means the publish failed: the event is
	// stored in state received and recovery publishes it again.
	Queued bool
}

// IngestHandler stores a verified Moodle delivery once and queues it for the
// handlers: the store is the truth, the bus only carries work.
//
// Concurrent deliveries share their work (see grouper): the events that
// arrive while an insert is in flight are inserted together next, in one
// statement and one commit, and published together, in one pipelined round
// trip. Each request still answers only once its own event is stored.
type IngestHandler struct {
	inserts   grouper[InboundEvent, bool]
	publishes grouper[BusMessage, struct{}]
	now       func() time.Time
	log       *slog.Logger
}

// maxIngestGroup bounds the events of one insert or publish.
const maxIngestGroup = 100

// insertTimeout bounds one grouped insert: it holds several requests, so it
// does not end with the one that runs it.
const insertTimeout = 10 * time.Second

// NewIngestHandler builds the handler; every dependency is required.
func NewIngestHandler(store InboundStore, bus Bus, now func() time.Time, log *slog.Logger) (*IngestHandler, error) {
	if store == nil || bus == nil || now == nil || log == nil {
		return nil, errors.New("app: ingest: store, bus, clock and logger are required")
	}
	return &IngestHandler{
		inserts: grouper[InboundEvent, bool]{max: maxIngestGroup, timeout: insertTimeout,
			run: func(ctx context.Context, events []InboundEvent) ([]bool, error) {
				return store.InsertInbound(ctx, events...)
			}},
		publishes: grouper[BusMessage, struct{}]{max: maxIngestGroup, timeout: publishTimeout,
			run: func(ctx context.Context, msgs []BusMessage) ([]struct{}, error) {
				return make([]struct{}, len(msgs)), bus.Publish(ctx, TopicMoodleEvents, msgs...)
			}},
		now: now, log: log,
	}, nil
}

// Handle stores e (its ID, Name and Payload set by the caller) and, when it
// is new and of a known name, publishes it on TopicMoodleEvents. An unknown
// name is stored in state ignored and not published. A store failure
// returns an error wrapping ErrUnavailable (the sender should retry later);
// a publish failure is logged, not returned, because the event is already
// stored and recovery republishes it.
func (h *IngestHandler) Handle(ctx context.Context, e InboundEvent) (IngestResult, error) {
	if e.ID == "" {
		return IngestResult{}, errors.New("ingest: the event has no id")
	}
	e = h.prepare(e)
	isNew, err := h.inserts.do(ctx, e)
	if err != nil {
		h.log.WarnContext(ctx, "moodle event not stored; the sender will retry",
			"correlation_id", e.ID, "event", e.Name, "error", err)
		return IngestResult{}, storeFailure(e.ID, err)
	}
	switch {
	case !isNew:
		return IngestResult{Status: IngestDuplicate}, nil
	case e.State == InboundIgnored:
		return IngestResult{Status: IngestIgnored}, nil
	}
	return IngestResult{Status: IngestAccepted, Queued: h.publish(ctx, e)}, nil
}

// prepare fills what the store keeps about a delivery just received.
func (h *IngestHandler) prepare(e InboundEvent) InboundEvent {
	if e.Source == "" {
		e.Source = SourceMoodle
	}
	e.ReceivedAt = h.now()
	e.State = InboundReceived
	if !KnownEvent(e.Name) {
		e.State = InboundIgnored
	}
	e.Attempts, e.LastError, e.ProcessedAt = 0, "", time.Time{}
	return e
}

// storeFailure makes every store failure an ErrUnavailable: the event is
// not stored, so the only safe answer is "try again later", and the sender
// retries with its own back-off.
func storeFailure(id string, err error) error {
	if errors.Is(err, ErrUnavailable) {
		return fmt.Errorf("ingest: store event %s: %w", id, err)
	}
	return fmt.Errorf("ingest: store event %s: %w: %w", id, ErrUnavailable, err)
}

// publish queues the stored event and reports whether it went out. It does
// not follow the request's cancellation: a sender that hangs up after the
// insert should not cost the event its prompt publish. Its group waits at
// most publishTimeout.
func (h *IngestHandler) publish(ctx context.Context, e InboundEvent) bool {
	msg := BusMessage{
		ID:       e.ID,
		Payload:  e.Payload,
		Metadata: map[string]string{"correlation_id": e.ID, "event": e.Name},
	}
	if _, err := h.publishes.do(ctx, msg); err != nil {
		h.log.WarnContext(ctx, "moodle event stored but not published; recovery will publish it",
			"correlation_id", e.ID, "event", e.Name, "error", err)
		return false
	}
	return true
}
