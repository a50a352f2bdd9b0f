package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/acme/notifier/app"
)

var _ app.DeadLetterStore = (*Store)(nil)

const deadLetterColumns = `id, message_id, topic, handler, payload, metadata, reason, attempts,
	first_failed_at, last_failed_at`

// AddDeadLetter stores d, or, when the same message already failed in the
// same handler, adds d's attempts to its row and records the new reason
// and failure time; the payload and metadata stay as first stored.
func (s *Store) AddDeadLetter(ctx context.Context, d app.DeadLetter) (app.DeadLetter, error) {
	if d.MessageID == "" || d.Topic == "" {
		return app.DeadLetter{}, errors.New("postgres: add dead letter: a message id and a topic are required")
	}
	md, err := json.Marshal(nonNilMap(d.Metadata))
	if err != nil {
		return app.DeadLetter{}, fmt.Errorf("postgres: add dead letter %s: metadata: %w", d.MessageID, err)
	}
	last := d.LastFailedAt
	if last.IsZero() {
		last = s.now()
	}
	first := d.FirstFailedAt
	if first.IsZero() {
		first = last
	}
	q := `INSERT INTO dead_letters (message_id, topic, handler, payload, metadata, reason, attempts,
			first_failed_at, last_failed_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (message_id, handler) DO UPDATE SET
			attempts = dead_letters.attempts + excluded.attempts,
			reason = excluded.reason,
			first_failed_at = LEAST(dead_letters.first_failed_at, excluded.first_failed_at),
			last_failed_at = GREATEST(dead_letters.last_failed_at, excluded.last_failed_at)
		RETURNING ` + deadLetterColumns
	out, err := scanDeadLetter(s.pool.QueryRow(ctx, q, d.MessageID, d.Topic, d.Handler, nonNilBytes(d.Payload),
		md, d.Reason, max(d.Attempts, 0), dbTime(first), dbTime(last)))
	if err != nil {
		return app.DeadLetter{}, fmt.Errorf("postgres: add dead letter %s (%s): %w", d.MessageID, d.Handler, classify(err))
	}
	return out, nil
}

// ListDeadLetters lists dead letters with an id above afterID, oldest
// first, at most limit (50 when not positive).
func (s *Store) ListDeadLetters(ctx context.Context, afterID int64, limit int) ([]app.DeadLetter, error) {
	if limit <= 0 {
		limit = defaultListLimit
	}
	rows, err := s.pool.Query(ctx, `SELECT `+deadLetterColumns+` FROM dead_letters
		WHERE id > $1 ORDER BY id LIMIT $2`, afterID, limit)
	if err == nil {
		var out []app.DeadLetter
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (app.DeadLetter, error) { return scanDeadLetter(row) })
		if err == nil {
			return out, nil
		}
	}
	return nil, fmt.Errorf("postgres: list dead letters after %d (limit %d): %w", afterID, limit, classify(err))
}

// GetDeadLetter returns the dead letter with id, or app.ErrNotFound.
func (s *Store) GetDeadLetter(ctx context.Context, id int64) (app.DeadLetter, error) {
	d, err := scanDeadLetter(s.pool.QueryRow(ctx, `SELECT `+deadLetterColumns+` FROM dead_letters WHERE id = $1`, id))
	if err != nil {
		return app.DeadLetter{}, fmt.Errorf("postgres: get dead letter %d: %w", id, classify(err))
	}
	return d, nil
}

// DeleteDeadLetter deletes the dead letter with id, or answers
// app.ErrNotFound when there is none.
func (s *Store) DeleteDeadLetter(ctx context.Context, id int64) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM dead_letters WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("postgres: delete dead letter %d: %w", id, classify(err))
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: delete dead letter %d: %w", id, app.ErrNotFound)
	}
	return nil
}

// CountDeadLetters counts the dead letters.
func (s *Store) CountDeadLetters(ctx context.Context) (int, error) {
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM dead_letters`).Scan(&n); err != nil {
		return 0, fmt.Errorf("postgres: count dead letters: %w", classify(err))
	}
	return n, nil
}

func scanDeadLetter(row pgx.Row) (app.DeadLetter, error) {
	var (
		d  app.DeadLetter
		md []byte
	)
	err := row.Scan(&d.ID, &d.MessageID, &d.Topic, &d.Handler, &d.Payload, &md, &d.Reason, &d.Attempts,
		&d.FirstFailedAt, &d.LastFailedAt)
	if err != nil {
		return app.DeadLetter{}, err
	}
	if err := json.Unmarshal(md, &d.Metadata); err != nil {
		return app.DeadLetter{}, fmt.Errorf("dead letter %d: metadata: %w", d.ID, err)
	}
	if len(d.Metadata) == 0 {
		d.Metadata = nil
	}
	if len(d.Payload) == 0 {
		d.Payload = nil
	}
	d.FirstFailedAt, d.LastFailedAt = d.FirstFailedAt.UTC(), d.LastFailedAt.UTC()
	return d, nil
}

// nonNilBytes turns nil into an empty value: payload is NOT NULL.
func nonNilBytes(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}
