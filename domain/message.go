package domain

import (
	"encoding/json"
	"errors"
	"time"
)

// TriggerKind says what caused a send attempt.
type TriggerKind string

const (
	TriggerMoodleEvent TriggerKind = "moodle_event"
	TriggerScan        TriggerKind = "scan"
	TriggerManual      TriggerKind = "manual"
)

// Trigger traces a send attempt back to its cause: the Moodle event id, the
// scan id, or the admin request.
type Trigger struct {
	Kind TriggerKind
	Ref  string
}

// Error codes recorded on rows that were never sent to WhatsApp.
const (
	ErrCodeOptedOut       = "opted_out"
	ErrCodeInvalidPhone   = "invalid_phone"
	ErrCodeOutcomeUnknown = "outcome_unknown"
)

// MessageLog is one send attempt: one row, PENDING → SENT → DELIVERED → READ,
// or FAILED. Empty strings and zero times stand for "none".
type MessageLog struct {
	ID             int64
	Rule           string
	Template       string
	Language       string
	Params         []string
	Status         Status
	DryRun         bool
	StudentID      int64
	MoodleUserID   int64
	CourseID       int64
	MoodleCourseID int64
	EnrollmentID   int64
	// OnceKey is the rule name for rules deduplicated once, empty otherwise:
	// the store's partial unique index covers the rows that carry one.
	OnceKey           string
	To                string // E.164 with "+", empty when the phone was unusable
	ProviderMessageID string
	ErrorCode         string
	ErrorMessage      string
	Trigger           Trigger
	Request           json.RawMessage // what was (or would have been) sent to WhatsApp
	Response          json.RawMessage // what WhatsApp answered
	Attempts          int
	// ClaimedAt is when a sender took the row; zero while none holds it.
	ClaimedAt time.Time
	// NextAttemptAt is when a row WhatsApp throttled may be sent again.
	NextAttemptAt time.Time
	CreatedAt     time.Time
	SentAt        time.Time
	DeliveredAt   time.Time
	ReadAt        time.Time
	FailedAt      time.Time
}

// PriorMessage is what deduplication needs to know of an earlier row for the
// same student and course.
type PriorMessage struct {
	Rule      string
	Template  string
	Status    Status
	ErrorCode string
	CreatedAt time.Time
}

// Prior summarises m for deduplication.
func (m MessageLog) Prior() PriorMessage {
	return PriorMessage{Rule: m.Rule, Template: m.Template, Status: m.Status, ErrorCode: m.ErrorCode, CreatedAt: m.CreatedAt}
}

// Advance moves the row to status next at instant at, stamping the matching
// time. It reports false, changing nothing, when the move is not allowed
// (backwards, repeated, or out of FAILED).
func (m *MessageLog) Advance(next Status, at time.Time) bool {
	if !m.Status.CanMoveTo(next) {
		return false
	}
	m.Status = next
	switch next {
	case StatusSent:
		m.SentAt = at
	case StatusDelivered:
		m.DeliveredAt = at
	case StatusRead:
		m.ReadAt = at
	case StatusFailed:
		m.FailedAt = at
	}
	return true
}

// Fail moves the row to FAILED with a reason; false when it cannot fail any
// more (already delivered, read or failed).
func (m *MessageLog) Fail(code, msg string, at time.Time) bool {
	if !m.Advance(StatusFailed, at) {
		return false
	}
	m.ErrorCode, m.ErrorMessage = code, msg
	return true
}

// ErrNotClaimable: the row is not PENDING, is held by another sender, or is
// not due yet.
var ErrNotClaimable = errors.New("message is not claimable")

// Claim takes a PENDING row for one send attempt at instant now.
func (m *MessageLog) Claim(now time.Time) error {
	if m.Status != StatusPending || !m.ClaimedAt.IsZero() || now.Before(m.NextAttemptAt) {
		return ErrNotClaimable
	}
	m.ClaimedAt = now
	m.Attempts++
	return nil
}

// Release gives a claimed row back for another attempt at retryAt: WhatsApp
// proved that nothing was sent.
func (m *MessageLog) Release(retryAt time.Time) {
	m.ClaimedAt = time.Time{}
	m.NextAttemptAt = retryAt
}
