package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/acme/notifier/domain"
)

// MaxThrottledAttempts bounds how often one row is tried while WhatsApp
// keeps answering that it sent nothing (throughput and pair-rate limits).
const MaxThrottledAttempts = 12

// SendHandler makes one send attempt for a PENDING row: it claims the row,
// asks the sender, and records the outcome on the same row. A row is claimed
// before the request leaves, so a crash mid-send leaves a claimed row that
// SettleStale marks outcome_unknown instead of sending twice.
type SendHandler struct {
	store  Store
	sender Sender
	now    func() time.Time
	log    *slog.Logger
}

// Handle sends row id if it is still PENDING and nobody holds it, and
// returns the row as it was left. domain.ErrNotClaimable means another
// sender has it, it is not due, or it is settled already.
func (h *SendHandler) Handle(ctx context.Context, id int64) (domain.MessageLog, error) {
	m, err := h.store.UpdateMessage(ctx, id, func(m *domain.MessageLog) error { return m.Claim(h.now()) })
	if err != nil {
		return domain.MessageLog{}, fmt.Errorf("claim message %d: %w", id, err)
	}
	res := h.sender.Send(ctx, m)
	// The outcome must be written even when ctx was cancelled meanwhile:
	// losing it would turn a known outcome into an unknown one.
	saveCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	m, err = h.store.UpdateMessage(saveCtx, id, func(m *domain.MessageLog) error {
		applyResult(m, res, h.now())
		return nil
	})
	if err != nil {
		return domain.MessageLog{}, fmt.Errorf("record send outcome of message %d: %w", id, err)
	}
	h.log.InfoContext(ctx, "message send attempt", "message_id", id, "rule", m.Rule, "status", m.Status,
		"dry_run", m.DryRun, "to", domain.MaskPhone(m.To), "error_code", m.ErrorCode)
	return m, nil
}

func applyResult(m *domain.MessageLog, res SendResult, now time.Time) {
	m.DryRun = res.DryRun
	if res.Request != nil {
		m.Request = res.Request
	}
	if res.Response != nil {
		m.Response = res.Response
	}
	switch res.Outcome {
	case OutcomeSent:
		m.ClaimedAt = time.Time{}
		if res.ProviderMessageID != "" {
			m.ProviderMessageID = res.ProviderMessageID
		}
		// A throttled attempt before this one left its reason: it is moot now.
		m.ErrorCode, m.ErrorMessage = "", ""
		m.Advance(domain.StatusSent, now)
	case OutcomeRetryLater:
		if m.Attempts >= MaxThrottledAttempts {
			// Nothing was ever sent, so giving up is safe; a limit that
			// lasts this long needs a person, not another attempt.
			m.ClaimedAt = time.Time{}
			m.Fail(res.ErrorCode, fmt.Sprintf("%s (gave up after %d throttled attempts)", res.ErrorMessage, m.Attempts), now)
			return
		}
		m.Release(now.Add(res.RetryAfter))
		m.ErrorCode, m.ErrorMessage = res.ErrorCode, res.ErrorMessage
	case OutcomeFailed:
		m.ClaimedAt = time.Time{}
		m.Fail(res.ErrorCode, res.ErrorMessage, now)
	default: // OutcomeUnknown, or a sender that said nothing
		m.ClaimedAt = time.Time{}
		if m.Status != domain.StatusPending {
			// A status webhook proved the send while the request was
			// still waiting for its answer: the outcome is known after all.
			return
		}
		msg := res.ErrorMessage
		if msg == "" {
			msg = "the outcome of the request to WhatsApp is unknown"
		}
		m.Fail(domain.ErrCodeOutcomeUnknown, msg, now)
	}
}

// SendDue sends the PENDING rows that are due (throttled rows whose back-off
// passed, rows whose post-commit send never happened) and reports how many
// it attempted.
func (h *SendHandler) SendDue(ctx context.Context, limit int) (int, error) {
	ids, err := h.store.DueMessages(ctx, h.now(), limit)
	if err != nil {
		return 0, fmt.Errorf("list due messages: %w", err)
	}
	n := 0
	for _, id := range ids {
		if _, err := h.Handle(ctx, id); err != nil {
			if errors.Is(err, domain.ErrNotClaimable) {
				continue
			}
			return n, err
		}
		n++
	}
	return n, nil
}

// SettleStale marks FAILED with outcome_unknown the rows a sender claimed
// more than olderThan ago and never settled (the process died mid-send).
// They are not sent again: the request may have reached WhatsApp.
func (h *SendHandler) SettleStale(ctx context.Context, olderThan time.Duration) (int, error) {
	now := h.now()
	ids, err := h.store.StaleClaims(ctx, now.Add(-olderThan), 500)
	if err != nil {
		return 0, fmt.Errorf("list stale claims: %w", err)
	}
	n := 0
	for _, id := range ids {
		_, err := h.store.UpdateMessage(ctx, id, func(m *domain.MessageLog) error {
			if m.Status != domain.StatusPending || m.ClaimedAt.IsZero() || !m.ClaimedAt.Before(now.Add(-olderThan)) {
				return domain.ErrNotClaimable
			}
			m.ClaimedAt = time.Time{}
			m.Fail(domain.ErrCodeOutcomeUnknown, "the sender stopped before recording the outcome", now)
			return nil
		})
		if errors.Is(err, domain.ErrNotClaimable) {
			continue
		}
		if err != nil {
			return n, fmt.Errorf("settle message %d: %w", id, err)
		}
		n++
	}
	return n, nil
}
