package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/acme/notifier/app"
	"github.com/acme/notifier/domain"
)

// defaultListLimit is the page size when the filter sets none, as the admin
// API's default.
const defaultListLimit = 50

// GetMessage returns the row with id, or app.ErrNotFound.
func (s *Store) GetMessage(ctx context.Context, id int64) (domain.MessageLog, error) {
	m, err := scanMessage(s.read.QueryRowContext(ctx, `SELECT `+messageColumns+` FROM message_logs WHERE id = ?`, id))
	if err != nil {
		return domain.MessageLog{}, fmt.Errorf("sqlite: get message %d: %w", id, classify(err))
	}
	return m, nil
}

// UpdateMessage runs fn on the row, under the write lock, and saves every
// field but the id. The unique indexes still hold: a change that would make
// a second row of a once rule count is refused.
func (s *Store) UpdateMessage(ctx context.Context, id int64, fn func(*domain.MessageLog) error) (domain.MessageLog, error) {
	var out domain.MessageLog
	err := s.transact(ctx, func(sqlTx *sql.Tx) error {
		tx := cachedTx{sqlTx, s.writeStmts}
		m, err := scanMessage(tx.QueryRowContext(ctx, messageByIDSQL, id))
		if err != nil {
			return err
		}
		if err := fn(&m); err != nil {
			return err
		}
		args, err := messageArgs(m)
		if err != nil {
			return err
		}
		out, err = scanMessage(tx.QueryRowContext(ctx, updateMessageSQL, append(args, id)...))
		return err
	})
	if err != nil {
		return domain.MessageLog{}, fmt.Errorf("sqlite: update message %d: %w", id, classify(err))
	}
	return out, nil
}

// ListMessages lists the rows that pass the filter, newest (highest id)
// first, at most f.Limit of them (50 when unset).
func (s *Store) ListMessages(ctx context.Context, f app.MessageFilter) ([]domain.MessageLog, error) {
	where, args := messageFilter(f)
	limit := f.Limit
	if limit <= 0 {
		limit = defaultListLimit
	}
	q := `SELECT ` + messageColumns + ` FROM message_logs` + where + ` ORDER BY id DESC LIMIT ?`
	out, err := s.queryMessages(ctx, q, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list messages %+v: %w", f, classify(err))
	}
	return out, nil
}

// messageFilter builds the WHERE clause of f.
func messageFilter(f app.MessageFilter) (string, []any) {
	var conds []string
	var args []any
	add := func(cond string, v any) {
		conds, args = append(conds, cond), append(args, v)
	}
	if f.Status != "" {
		add("status = ?", string(f.Status))
	}
	if f.Rule != "" {
		add("rule = ?", f.Rule)
	}
	if f.StudentID != 0 {
		add("student_id = ?", f.StudentID)
	}
	if f.CourseID != 0 {
		add("course_id = ?", f.CourseID)
	}
	if f.MoodleUserID != 0 {
		add("moodle_user_id = ?", f.MoodleUserID)
	}
	if f.MoodleCourseID != 0 {
		add("moodle_course_id = ?", f.MoodleCourseID)
	}
	if !f.Since.IsZero() {
		add("created_at >= ?", micros(f.Since))
	}
	if !f.Until.IsZero() {
		add("created_at < ?", micros(f.Until))
	}
	if f.BeforeID != 0 {
		add("id < ?", f.BeforeID)
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

func (s *Store) queryMessages(ctx context.Context, q string, args ...any) ([]domain.MessageLog, error) {
	rows, err := s.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []domain.MessageLog
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// DueMessages lists PENDING rows that no sender holds and whose next attempt
// is due at now, oldest first.
func (s *Store) DueMessages(ctx context.Context, now time.Time, limit int) ([]int64, error) {
	ids, err := s.queryIDs(ctx, `SELECT id FROM message_logs
		WHERE status = 'PENDING' AND claimed_at IS NULL AND (next_attempt_at IS NULL OR next_attempt_at <= ?)
		ORDER BY id LIMIT ?`, micros(now), limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: due messages at %s (limit %d): %w", now.Format(time.RFC3339Nano), limit, classify(err))
	}
	return ids, nil
}

// StaleClaims lists PENDING rows claimed before claimedBefore and never
// settled, longest held first.
func (s *Store) StaleClaims(ctx context.Context, claimedBefore time.Time, limit int) ([]int64, error) {
	ids, err := s.queryIDs(ctx, `SELECT id FROM message_logs
		WHERE status = 'PENDING' AND claimed_at IS NOT NULL AND claimed_at < ?
		ORDER BY claimed_at, id LIMIT ?`, micros(claimedBefore), limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: stale claims before %s (limit %d): %w",
			claimedBefore.Format(time.RFC3339Nano), limit, classify(err))
	}
	return ids, nil
}

func (s *Store) queryIDs(ctx context.Context, q string, args ...any) ([]int64, error) {
	rows, err := s.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// The statements of a send, prepared once (see stmtCache).
const (
	messageByIDSQL   = `SELECT ` + messageColumns + ` FROM message_logs WHERE id = ?`
	updateMessageSQL = `UPDATE message_logs SET (rule, template, language, params,
			status, dry_run, student_id, moodle_user_id, course_id, moodle_course_id, enrollment_id, once_key,
			to_phone, provider_message_id, error_code, error_message, trigger_kind, trigger_ref, request,
			response, attempts, claimed_at, next_attempt_at, created_at, sent_at, delivered_at, read_at,
			failed_at)
		= (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		WHERE id = ?
		RETURNING ` + messageColumns
)
