package sqlite

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/acme/notifier/app"
)

var _ app.DeadLetterStore = (*Store)(nil)

const deadLetterColumns = `id, message_id, topic, handler, payload, metadata, reason, attempts,
	first_failed_at, last_failed_at`

// defaultDeadLetterLimit is the page size when the caller sets none.
const defaultDeadLetterLimit = 50

// AddDeadLetter stores d, or, when the same message already failed in the
// same handler, adds d's attempts to its row and records the new reason
// and failure time; the payload and metadata stay as first stored.
func (s *Store) AddDeadLetter(ctx context.Context, d app.DeadLetter) (app.DeadLetter, error) {
	if d.MessageID == "" || d.Topic == "" {
		return app.DeadLetter{}, errors.New("sqlite: add dead letter: a message id and a topic are required")
	}
	md, err := json.Marshal(d.Metadata)
	if err != nil {
		return app.DeadLetter{}, fmt.Errorf("sqlite: add dead letter %s: metadata: %w", d.MessageID, err)
	}
	if d.Metadata == nil {
		md = []byte("{}")
	}
	last := d.LastFailedAt
	if last.IsZero() {
		last = s.now()
	}
	first := d.FirstFailedAt
	if first.IsZero() {
		first = last
	}
	payload := d.Payload
	if payload == nil {
		payload = []byte{}
	}
	q := `INSERT INTO dead_letters (message_id, topic, handler, payload, metadata, reason, attempts,
			first_failed_at, last_failed_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (message_id, handler) DO UPDATE SET
			attempts = dead_letters.attempts + excluded.attempts,
			reason = excluded.reason,
			first_failed_at = min(dead_letters.first_failed_at, excluded.first_failed_at),
			last_failed_at = max(dead_letters.last_failed_at, excluded.last_failed_at)
		RETURNING ` + deadLetterColumns
	out, err := scanDeadLetter(s.write.QueryRowContext(ctx, q, d.MessageID, d.Topic, d.Handler, payload,
		string(md), d.Reason, max(d.Attempts, 0), micros(first), micros(last)))
	if err != nil {
		return app.DeadLetter{}, fmt.Errorf("sqlite: add dead letter %s (%s): %w", d.MessageID, d.Handler, classify(err))
	}
	return out, nil
}

// ListDeadLetters lists dead letters with an id above afterID, oldest
// first, at most limit (50 when not positive).
func (s *Store) ListDeadLetters(ctx context.Context, afterID int64, limit int) ([]app.DeadLetter, error) {
	if limit <= 0 {
		limit = defaultDeadLetterLimit
	}
	out, err := s.listDeadLetters(ctx, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list dead letters after %d (limit %d): %w", afterID, limit, classify(err))
	}
	return out, nil
}

func (s *Store) listDeadLetters(ctx context.Context, afterID int64, limit int) ([]app.DeadLetter, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+deadLetterColumns+` FROM dead_letters
		WHERE id > ? ORDER BY id LIMIT ?`, afterID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []app.DeadLetter
	for rows.Next() {
		d, err := scanDeadLetter(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// GetDeadLetter returns the dead letter with id, or app.ErrNotFound.
func (s *Store) GetDeadLetter(ctx context.Context, id int64) (app.DeadLetter, error) {
	d, err := scanDeadLetter(s.read.QueryRowContext(ctx, `SELECT `+deadLetterColumns+` FROM dead_letters WHERE id = ?`, id))
	if err != nil {
		return app.DeadLetter{}, fmt.Errorf("sqlite: get dead letter %d: %w", id, classify(err))
	}
	return d, nil
}

// DeleteDeadLetter deletes the dead letter with id, or answers
// app.ErrNotFound when there is none.
func (s *Store) DeleteDeadLetter(ctx context.Context, id int64) error {
	res, err := s.write.ExecContext(ctx, `DELETE FROM dead_letters WHERE id = ?`, id)
	if err != nil {
		return fmt.Errorf("sqlite: delete dead letter %d: %w", id, classify(err))
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlite: delete dead letter %d: %w", id, classify(err))
	}
	if n == 0 {
		return fmt.Errorf("sqlite: delete dead letter %d: %w", id, app.ErrNotFound)
	}
	return nil
}

// CountDeadLetters counts the dead letters.
func (s *Store) CountDeadLetters(ctx context.Context) (int, error) {
	var n int
	if err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM dead_letters`).Scan(&n); err != nil {
		return 0, fmt.Errorf("sqlite: count dead letters: %w", classify(err))
	}
	return n, nil
}

func scanDeadLetter(row scanner) (app.DeadLetter, error) {
	var (
		d           app.DeadLetter
		md          string
		first, last int64
	)
	err := row.Scan(&d.ID, &d.MessageID, &d.Topic, &d.Handler, &d.Payload, &md, &d.Reason, &d.Attempts,
		&first, &last)
	if err != nil {
		return app.DeadLetter{}, err
	}
	if err := json.Unmarshal([]byte(md), &d.Metadata); err != nil {
		return app.DeadLetter{}, fmt.Errorf("dead letter %d: metadata: %w", d.ID, err)
	}
	if len(d.Metadata) == 0 {
		d.Metadata = nil
	}
	if len(d.Payload) == 0 {
		d.Payload = nil
	}
	d.FirstFailedAt, d.LastFailedAt = fromMicros(first), fromMicros(last)
	return d, nil
}
