package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/acme/notifier/app"
	"github.com/acme/notifier/domain"
)

// defaultListLimit is the page size when the filter sets none, as the admin
// API's default.
const defaultListLimit = 50

// GetMessage returns the row with id, or app.ErrNotFound.
func (s *Store) GetMessage(ctx context.Context, id int64) (domain.MessageLog, error) {
	m, err := scanMessage(s.pool.QueryRow(ctx, `SELECT `+messageColumns+` FROM message_logs WHERE id = $1`, id))
	if err != nil {
		return domain.MessageLog{}, fmt.Errorf("postgres: get message %d: %w", id, classify(err))
	}
	return m, nil
}

// UpdateMessage runs fn on the locked row and saves every field but the id.
// The unique indexes still hold: a change that would make a second row of a
// once rule count is refused. Two round trips: BEGIN and the locking read,
// then the update and COMMIT.
func (s *Store) UpdateMessage(ctx context.Context, id int64, fn func(*domain.MessageLog) error) (domain.MessageLog, error) {
	var out domain.MessageLog
	err := s.batchTransact(ctx, func(c *pgxpool.Conn) error {
		var m domain.MessageLog
		err := beginWith(ctx, c, []query{{lockMessageSQL, []any{id}}}, func(br pgx.BatchResults) error {
			var err error
			m, err = scanMessage(br.QueryRow())
			return err
		})
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
		return commitWith(ctx, c, []query{{updateMessageSQL, append([]any{id}, args...)}}, func(br pgx.BatchResults) error {
			var err error
			out, err = scanMessage(br.QueryRow())
			return err
		})
	})
	if err != nil {
		return domain.MessageLog{}, fmt.Errorf("postgres: update message %d: %w", id, classify(err))
	}
	return out, nil
}

const lockMessageSQL = `SELECT ` + messageColumns + ` FROM message_logs WHERE id = $1 FOR NO KEY UPDATE`

const updateMessageSQL = `UPDATE message_logs SET (rule, template, language, params, status,
		dry_run, student_id, moodle_user_id, course_id, moodle_course_id, enrollment_id, once_key, to_phone,
		provider_message_id, error_code, error_message, trigger_kind, trigger_ref, request, response,
		attempts, claimed_at, next_attempt_at, created_at, sent_at, delivered_at, read_at, failed_at)
	= ($2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21,
		$22, $23, $24, $25, $26, $27, $28, $29)
	WHERE id = $1
	RETURNING ` + messageColumns

// ListMessages lists the rows that pass the filter, newest (highest id)
// first, at most f.Limit of them (50 when unset).
func (s *Store) ListMessages(ctx context.Context, f app.MessageFilter) ([]domain.MessageLog, error) {
	where, args := messageFilter(f)
	limit := f.Limit
	if limit <= 0 {
		limit = defaultListLimit
	}
	args = append(args, limit)
	q := `SELECT ` + messageColumns + ` FROM message_logs` + where +
		` ORDER BY id DESC LIMIT $` + strconv.Itoa(len(args))
	out, err := s.queryMessages(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: list messages %+v: %w", f, classify(err))
	}
	return out, nil
}

// messageFilter builds the WHERE clause of f, with numbered parameters.
func messageFilter(f app.MessageFilter) (string, []any) {
	var conds []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		conds = append(conds, strings.ReplaceAll(cond, "?", "$"+strconv.Itoa(len(args))))
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
		add("created_at >= ?", dbTime(f.Since))
	}
	if !f.Until.IsZero() {
		add("created_at < ?", dbTime(f.Until))
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
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (domain.MessageLog, error) { return scanMessage(row) })
}

// DueMessages lists PENDING rows that no sender holds and whose next attempt
// is due at now, oldest first.
func (s *Store) DueMessages(ctx context.Context, now time.Time, limit int) ([]int64, error) {
	ids, err := s.queryIDs(ctx, `SELECT id FROM message_logs
		WHERE status = 'PENDING' AND claimed_at IS NULL AND (next_attempt_at IS NULL OR next_attempt_at <= $1)
		ORDER BY id LIMIT $2`, dbTime(now), limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: due messages at %s (limit %d): %w", now.Format(time.RFC3339Nano), limit, classify(err))
	}
	return ids, nil
}

// StaleClaims lists PENDING rows claimed before claimedBefore and never
// settled, longest held first.
func (s *Store) StaleClaims(ctx context.Context, claimedBefore time.Time, limit int) ([]int64, error) {
	ids, err := s.queryIDs(ctx, `SELECT id FROM message_logs
		WHERE status = 'PENDING' AND claimed_at IS NOT NULL AND claimed_at < $1
		ORDER BY claimed_at, id LIMIT $2`, dbTime(claimedBefore), limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: stale claims before %s (limit %d): %w",
			claimedBefore.Format(time.RFC3339Nano), limit, classify(err))
	}
	return ids, nil
}

func (s *Store) queryIDs(ctx context.Context, q string, args ...any) ([]int64, error) {
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}
