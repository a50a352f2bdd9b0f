package app

import (
	"context"
	"time"
)

// InboundState is where an inbound event stands.
type InboundState string

const (
	InboundReceived  InboundState = "received"  // stored, waiting for its handler
	InboundProcessed InboundState = "processed" // handled to the end
	InboundIgnored   InboundState = "ignored"   // an event name the notifier does not act on
	InboundFailed    InboundState = "failed"    // dead-lettered after its attempts
)

// InboundEvent is a webhook delivery as stored before it is acknowledged.
type InboundEvent struct {
	ID          string // the Moodle event id (webhook-id)
	Source      string // "moodle" or "whatsapp"
	Name        string // the event name
	Payload     []byte // the raw body, exactly as received
	ReceivedAt  time.Time
	State       InboundState
	Attempts    int
	LastError   string
	ProcessedAt time.Time
}

// InboundStore keeps every inbound event once.
type InboundStore interface {
	// InsertInbound stores each event unless an event with its id is stored
	// (or comes earlier in events), in one transaction, and reports for each
	// whether it was new. A zero State is stored as received, a zero
	// ReceivedAt as now.
	InsertInbound(ctx context.Context, events ...InboundEvent) ([]bool, error)
	GetInbound(ctx context.Context, id string) (InboundEvent, error)
	// MarkInboundProcessed records, in one transaction, that the events were
	// handled to the end; ids not stored are skipped. An event processed
	// before keeps its first processing time.
	MarkInboundProcessed(ctx context.Context, at time.Time, ids ...string) error
	// MarkInboundAttempt counts a failed processing attempt and keeps its error.
	MarkInboundAttempt(ctx context.Context, id string, errMsg string) error
	// MarkInboundFailed records that the event went to the dead letters.
	MarkInboundFailed(ctx context.Context, id string, reason string) error
	// UnprocessedInbound lists events still in state received that arrived
	// before the given instant, oldest first: recovery publishes them again.
	UnprocessedInbound(ctx context.Context, receivedBefore time.Time, limit int) ([]InboundEvent, error)
}

// DeadLetter is a bus message whose handler gave up after its attempts.
type DeadLetter struct {
	ID            int64
	MessageID     string // the bus message id
	Topic         string // the original topic, where a replay puts it back
	Handler       string
	Payload       []byte
	Metadata      map[string]string
	Reason        string
	Attempts      int
	FirstFailedAt time.Time
	LastFailedAt  time.Time
}

// DeadLetterStore keeps dead letters in the database, so that they survive a
// restart with either bus.
type DeadLetterStore interface {
	// AddDeadLetter stores d; the same message and handler failing again
	// updates the existing row (attempts, reason, last failure).
	AddDeadLetter(ctx context.Context, d DeadLetter) (DeadLetter, error)
	// ListDeadLetters lists dead letters oldest first, after the id afterID.
	ListDeadLetters(ctx context.Context, afterID int64, limit int) ([]DeadLetter, error)
	GetDeadLetter(ctx context.Context, id int64) (DeadLetter, error)
	DeleteDeadLetter(ctx context.Context, id int64) error
	CountDeadLetters(ctx context.Context) (int, error)
}
