package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/acme/notifier/domain"
)

// EvaluateEnrollment asks the rules about one enrollment on one occasion.
type EvaluateEnrollment struct {
	EnrollmentID int64
	Occasion     domain.Occasion
	Trigger      domain.Trigger
	// Date is the reference date (a scan's date); zero means today in the
	// company zone.
	Date domain.Date
	// Snapshot, when set, is the enrollment's state as read a moment ago
	// without a lock (Store.ReadEnrollmentStates). When no rule fires on it,
	// the evaluation ends there: nothing is locked and nothing written.
	// When some rule fires, the rules decide again on the state read under
	// the enrollment's lock, and only that decision is written. A scan
	// sets it: most of its enrollments get no message. It is ignored when
	// Progress is set: the enrollment is written whatever the rules say.
	Snapshot *EnrollmentState
	// Progress, when set, is the enrollment's progress as Moodle reports it
	// now. It is stored under the enrollment's lock, in the evaluation's
	// transaction, before the rules decide, when it differs from the stored
	// one; the rules decide on it (Store.EvaluateLocked). A scan sets it
	// when Moodle's figure moved: one transaction then both stores the
	// progress and records the rows it makes fire.
	Progress *domain.Progress
}

// EvaluateResult lists the rows the evaluation wrote and what became of
// those it sent.
type EvaluateResult struct {
	Created []domain.MessageLog
}

// EvaluateHandler decides, records, then sends: the rows are written in the
// transaction that locks the enrollment, and only after it commits are the
// PENDING ones handed to the sender.
type EvaluateHandler struct {
	settings Settings
	store    Store
	send     *SendHandler
	now      func() time.Time
	log      *slog.Logger
}

// Handle evaluates the enrollment and sends what fired. The error is about
// deciding and recording; a failed send is recorded on its row, not returned.
func (h *EvaluateHandler) Handle(ctx context.Context, cmd EvaluateEnrollment) (EvaluateResult, error) {
	created, err := h.Record(ctx, cmd)
	if err != nil {
		return EvaluateResult{}, err
	}
	for i, m := range created {
		if m.Status != domain.StatusPending {
			continue
		}
		sent, err := h.send.Handle(ctx, m.ID)
		switch {
		case err == nil:
			created[i] = sent
		case errors.Is(err, domain.ErrNotClaimable):
			// The due-rows sweep took it first: it is being sent.
		default:
			// The row stays PENDING and unclaimed (or claimed and settled by
			// the stale-claim sweep): nothing is lost, the sweep sends it.
			h.log.WarnContext(ctx, "send after evaluation failed", "message_id", m.ID, "err", err)
		}
	}
	return EvaluateResult{Created: created}, nil
}

// Record decides and writes the rows without sending them.
func (h *EvaluateHandler) Record(ctx context.Context, cmd EvaluateEnrollment) ([]domain.MessageLog, error) {
	now := h.now()
	ref := cmd.Date
	if ref.IsZero() {
		ref = domain.DateOf(now, h.settings.Location)
	}
	evaluation := func(st EnrollmentState) domain.Evaluation {
		return domain.Evaluation{
			Occasion: cmd.Occasion, Now: now, Today: ref, Location: h.settings.Location,
			Student: st.Student, Course: st.Course, Enrollment: st.Enrollment, History: st.History,
		}
	}
	if cmd.Snapshot != nil && cmd.Progress == nil &&
		len(domain.Decide(h.settings.Rules, evaluation(*cmd.Snapshot))) == 0 {
		return nil, nil
	}
	created, err := h.store.EvaluateLocked(ctx, cmd.EnrollmentID, cmd.Progress, func(st EnrollmentState) ([]domain.MessageLog, error) {
		ev := evaluation(st)
		var rows []domain.MessageLog
		for _, r := range domain.Decide(h.settings.Rules, ev) {
			rows = append(rows, domain.NewMessage(r, ev, cmd.Trigger, h.settings.PhoneRegion))
		}
		return rows, nil
	})
	if err != nil {
		return nil, fmt.Errorf("evaluate enrollment %d: %w", cmd.EnrollmentID, err)
	}
	for _, m := range created {
		h.log.InfoContext(ctx, "message recorded", "message_id", m.ID, "rule", m.Rule,
			"status", m.Status, "enrollment_id", m.EnrollmentID, "trigger", string(m.Trigger.Kind)+":"+m.Trigger.Ref)
	}
	return created, nil
}
