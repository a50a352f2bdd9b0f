package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/acme/notifier/app"
)

var _ app.InboundStore = (*Store)(nil)

// inboundColumns in the order scanInbound reads them.
const inboundColumns = `id, source, name, payload, received_at, state, attempts, last_error, processed_at`

// defaultInboundLimit is the batch UnprocessedInbound returns when the
// caller sets none.
const defaultInboundLimit = 100

// insertInboundSQL stores one event unless its id is stored.
const insertInboundSQL = `INSERT INTO inbound_events (` + inboundColumns + `)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (id) DO NOTHING`

// InsertInbound stores each event unless an event with its id is stored
// (or comes earlier in events), in one transaction on the one writer
// connection, and reports for each whether it was new: ON CONFLICT DO
// NOTHING makes the second of two deliveries a duplicate. A zero State is
// stored as received, a zero ReceivedAt as now.
func (s *Store) InsertInbound(ctx context.Context, events ...app.InboundEvent) ([]bool, error) {
	isNew := make([]bool, len(events))
	if len(events) == 0 {
		return isNew, nil
	}
	now := s.now()
	err := s.transact(ctx, func(tx *sql.Tx) error {
		stmt := tx.StmtContext(ctx, s.writeStmts.get(insertInboundSQL))
		for i, e := range events {
			if e.State == "" {
				e.State = app.InboundReceived
			}
			if e.ReceivedAt.IsZero() {
				e.ReceivedAt = now
			}
			res, err := stmt.ExecContext(ctx, e.ID, e.Source, e.Name, payloadIn(e.Payload), micros(e.ReceivedAt),
				string(e.State), e.Attempts, nullable(cleanText(e.LastError)), timeIn(e.ProcessedAt))
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			isNew[i] = n == 1
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: insert %d inbound events: %w", len(events), classify(err))
	}
	return isNew, nil
}

// GetInbound returns the event with id, or app.ErrNotFound.
func (s *Store) GetInbound(ctx context.Context, id string) (app.InboundEvent, error) {
	e, err := scanInbound(s.read.QueryRowContext(ctx, `SELECT `+inboundColumns+` FROM inbound_events WHERE id = ?`, id))
	if err != nil {
		return app.InboundEvent{}, fmt.Errorf("sqlite: get inbound event %q: %w", id, classify(err))
	}
	return e, nil
}

// markProcessedSQL moves one event to processed; a second time keeps the
// first processing time.
const markProcessedSQL = `UPDATE inbound_events SET
	processed_at = CASE WHEN state = 'processed' THEN processed_at ELSE ? END,
	state = 'processed'
	WHERE id = ?`

// MarkInboundProcessed moves the events to processed, in one transaction;
// ids not stored are skipped. A second call keeps the first processing
// time: a redelivered bus message that runs again does not rewrite when the
// work was done.
func (s *Store) MarkInboundProcessed(ctx context.Context, at time.Time, ids ...string) error {
	if len(ids) == 0 {
		return nil
	}
	if at.IsZero() {
		at = s.now()
	}
	err := s.transact(ctx, func(tx *sql.Tx) error {
		stmt := tx.StmtContext(ctx, s.writeStmts.get(markProcessedSQL))
		for _, id := range ids {
			if _, err := stmt.ExecContext(ctx, micros(at), id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: mark %d inbound events processed: %w", len(ids), classify(err))
	}
	return nil
}

// MarkInboundAttempt counts a failed attempt and keeps its error, whatever
// the state.
func (s *Store) MarkInboundAttempt(ctx context.Context, id string, errMsg string) error {
	err := s.updateInbound(ctx, `UPDATE inbound_events SET attempts = attempts + 1, last_error = ? WHERE id = ?`,
		cleanText(errMsg), id)
	if err != nil {
		return fmt.Errorf("sqlite: count attempt of inbound event %q: %w", id, err)
	}
	return nil
}

// MarkInboundFailed moves a received (or failed) event to failed with the
// reason. A processed or ignored event keeps its state: a late failure of a
// redelivered copy does not undo work that was done.
func (s *Store) MarkInboundFailed(ctx context.Context, id string, reason string) error {
	err := s.updateInbound(ctx, `UPDATE inbound_events SET
			last_error = CASE WHEN state IN ('received', 'failed') THEN ? ELSE last_error END,
			state = CASE WHEN state IN ('received', 'failed') THEN 'failed' ELSE state END
		WHERE id = ?`, cleanText(reason), id)
	if err != nil {
		return fmt.Errorf("sqlite: mark inbound event %q failed: %w", id, err)
	}
	return nil
}

// updateInbound runs an UPDATE of one event (its id the last argument) and
// answers app.ErrNotFound when no row has the id.
func (s *Store) updateInbound(ctx context.Context, q string, args ...any) error {
	res, err := s.write.ExecContext(ctx, q, args...)
	if err != nil {
		return classify(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return classify(err)
	}
	if n == 0 {
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
	out, err := s.queryInbound(ctx, `SELECT `+inboundColumns+` FROM inbound_events
		WHERE state = 'received' AND received_at < ?
		ORDER BY received_at, id LIMIT ?`, micros(receivedBefore), limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list unprocessed inbound events: %w", classify(err))
	}
	return out, nil
}

func (s *Store) queryInbound(ctx context.Context, q string, args ...any) ([]app.InboundEvent, error) {
	rows, err := s.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []app.InboundEvent
	for rows.Next() {
		e, err := scanInbound(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

func scanInbound(row scanner) (app.InboundEvent, error) {
	var (
		e               app.InboundEvent
		state           string
		receivedMicros  int64
		lastError       sql.NullString
		processedMicros sql.NullInt64
	)
	err := row.Scan(&e.ID, &e.Source, &e.Name, &e.Payload, &receivedMicros, &state, &e.Attempts, &lastError,
		&processedMicros)
	if err != nil {
		return app.InboundEvent{}, err
	}
	e.State = app.InboundState(state)
	e.ReceivedAt = fromMicros(receivedMicros)
	e.LastError = lastError.String
	e.ProcessedAt = timeOut(processedMicros)
	if len(e.Payload) == 0 {
		e.Payload = nil
	}
	return e, nil
}

// payloadIn stores a missing payload as empty bytes: the column is NOT
// NULL.
func payloadIn(p []byte) []byte {
	if p == nil {
		return []byte{}
	}
	return p
}

// cleanText replaces NUL bytes and invalid UTF-8 in free text (error
// messages, which may quote anything), as the PostgreSQL store must, so
// that both stores give back the same text.
func cleanText(s string) string {
	return strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", "\uFFFD"), "\uFFFD")
}
