package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/acme/notifier/app"
)

var _ app.InboundStore = (*Store)(nil)

// inboundColumns in the order scanInbound reads them.
const inboundColumns = `id, source, name, payload, received_at, state, attempts, last_error, processed_at`

// defaultInboundLimit is the batch UnprocessedInbound returns when the
// caller sets none.
const defaultInboundLimit = 100

// InsertInbound stores e unless an event with its id exists, and reports
// whether it was new. ON CONFLICT DO NOTHING makes concurrent deliveries of
// one event race safely: exactly one insert wins, the others see a
// duplicate. A zero State is stored as received, a zero ReceivedAt as now.
func (s *Store) InsertInbound(ctx context.Context, e app.InboundEvent) (bool, error) {
	if e.State == "" {
		e.State = app.InboundReceived
	}
	if e.ReceivedAt.IsZero() {
		e.ReceivedAt = s.now()
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO inbound_events (`+inboundColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (id) DO NOTHING`,
		e.ID, e.Source, e.Name, payloadIn(e.Payload), dbTime(e.ReceivedAt), string(e.State), e.Attempts,
		nullable(cleanText(e.LastError)), timeIn(e.ProcessedAt))
	if err != nil {
		return false, fmt.Errorf("postgres: insert inbound event %q: %w", e.ID, classify(err))
	}
	return tag.RowsAffected() == 1, nil
}

// GetInbound returns the event with id, or app.ErrNotFound.
func (s *Store) GetInbound(ctx context.Context, id string) (app.InboundEvent, error) {
	e, err := scanInbound(s.pool.QueryRow(ctx, `SELECT `+inboundColumns+` FROM inbound_events WHERE id = $1`, id))
	if err != nil {
		return app.InboundEvent{}, fmt.Errorf("postgres: get inbound event %q: %w", id, classify(err))
	}
	return e, nil
}

// MarkInboundProcessed moves the event to processed. A second call keeps
// the first processing time: a redelivered bus message that runs again does
// not rewrite when the work was done.
func (s *Store) MarkInboundProcessed(ctx context.Context, id string, at time.Time) error {
	if at.IsZero() {
		at = s.now()
	}
	err := s.updateInbound(ctx, `UPDATE inbound_events SET
			processed_at = CASE WHEN state = 'processed' THEN processed_at ELSE $2 END,
			state = 'processed'
		WHERE id = $1`, id, dbTime(at))
	if err != nil {
		return fmt.Errorf("postgres: mark inbound event %q processed: %w", id, err)
	}
	return nil
}

// MarkInboundAttempt counts a failed attempt and keeps its error, whatever
// the state.
func (s *Store) MarkInboundAttempt(ctx context.Context, id string, errMsg string) error {
	err := s.updateInbound(ctx, `UPDATE inbound_events SET attempts = attempts + 1, last_error = $2 WHERE id = $1`,
		id, cleanText(errMsg))
	if err != nil {
		return fmt.Errorf("postgres: count attempt of inbound event %q: %w", id, err)
	}
	return nil
}

// MarkInboundFailed moves a received (or failed) event to failed with the
// reason. A processed or ignored event keeps its state: a late failure of a
// redelivered copy does not undo work that was done.
func (s *Store) MarkInboundFailed(ctx context.Context, id string, reason string) error {
	err := s.updateInbound(ctx, `UPDATE inbound_events SET
			last_error = CASE WHEN state IN ('received', 'failed') THEN $2 ELSE last_error END,
			state = CASE WHEN state IN ('received', 'failed') THEN 'failed' ELSE state END
		WHERE id = $1`, id, cleanText(reason))
	if err != nil {
		return fmt.Errorf("postgres: mark inbound event %q failed: %w", id, err)
	}
	return nil
}

// updateInbound runs an UPDATE of one event and answers app.ErrNotFound
// when no row has the id.
func (s *Store) updateInbound(ctx context.Context, q string, id string, args ...any) error {
	tag, err := s.pool.Exec(ctx, q, append([]any{id}, args...)...)
	if err != nil {
		return classify(err)
	}
	if tag.RowsAffected() == 0 {
		return app.ErrNotFound
	}
	return nil
}

// UnprocessedInbound lists events in state received that arrived before
// receivedBefore, oldest first (ties by id), at most limit of them (100
// when unset).
func (s *Store) UnprocessedInbound(ctx context.Context, receivedBefore time.Time, limit int) ([]app.InboundEvent, error) {
	if limit <= 0 {
		limit = defaultInboundLimit
	}
	rows, err := s.pool.Query(ctx, `SELECT `+inboundColumns+` FROM inbound_events
		WHERE state = 'received' AND received_at < $1
		ORDER BY received_at, id LIMIT $2`, dbTime(receivedBefore), limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: list unprocessed inbound events: %w", classify(err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (app.InboundEvent, error) { return scanInbound(r) })
	if err != nil {
		return nil, fmt.Errorf("postgres: list unprocessed inbound events: %w", classify(err))
	}
	return out, nil
}

func scanInbound(row pgx.Row) (app.InboundEvent, error) {
	var (
		e         app.InboundEvent
		state     string
		lastError *string
		processed *time.Time
	)
	err := row.Scan(&e.ID, &e.Source, &e.Name, &e.Payload, &e.ReceivedAt, &state, &e.Attempts, &lastError, &processed)
	if err != nil {
		return app.InboundEvent{}, err
	}
	e.State = app.InboundState(state)
	e.ReceivedAt = e.ReceivedAt.UTC()
	e.LastError = value(lastError)
	e.ProcessedAt = timeOut(processed)
	if len(e.Payload) == 0 {
		e.Payload = nil
	}
	return e, nil
}

// payloadIn stores a missing payload as empty bytes: the column is NOT NULL,
// and pgx sends a nil slice as NULL.
func payloadIn(p []byte) []byte {
	if p == nil {
		return []byte{}
	}
	return p
}

// cleanText makes free text (error messages, which may quote anything)
// storable in a text column: PostgreSQL refuses NUL bytes and invalid UTF-8,
// and a failure to record an error must not hide the error. The SQLite
// store does the same, so both give back the same text.
func cleanText(s string) string {
	return strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", "\uFFFD"), "\uFFFD")
}
