package postgres

import (
	"context"
	"fmt"
	"slices"
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

// InsertInbound stores each event unless an event with its id is stored
// (or comes earlier in events), in one statement and one commit, and
// reports for each whether it was new. ON CONFLICT DO NOTHING makes
// concurrent deliveries of one event race safely: exactly one insert wins,
// the others see a duplicate. The rows go in id order, so that two
// statements sharing ids cannot deadlock on each other's unique-index
// entries. A zero State is stored as received, a zero ReceivedAt as now.
func (s *Store) InsertInbound(ctx context.Context, events ...app.InboundEvent) ([]bool, error) {
	isNew := make([]bool, len(events))
	rows := uniqueInbound(events)
	if len(rows) == 0 {
		return isNew, nil
	}
	var cols struct {
		id, source, name, state []string
		payload                 [][]byte
		received                []time.Time
		attempts                []int32
		lastError               []*string
		processed               []*time.Time
	}
	now := s.now()
	for _, e := range rows {
		if e.State == "" {
			e.State = app.InboundReceived
		}
		if e.ReceivedAt.IsZero() {
			e.ReceivedAt = now
		}
		cols.id, cols.source, cols.name = append(cols.id, e.ID), append(cols.source, e.Source), append(cols.name, e.Name)
		cols.payload, cols.received = append(cols.payload, payloadIn(e.Payload)), append(cols.received, dbTime(e.ReceivedAt))
		cols.state, cols.attempts = append(cols.state, string(e.State)), append(cols.attempts, int32(e.Attempts))
		cols.lastError = append(cols.lastError, nullable(cleanText(e.LastError)))
		cols.processed = append(cols.processed, timeIn(e.ProcessedAt))
	}
	inserted, err := s.pool.Query(ctx, `INSERT INTO inbound_events (`+inboundColumns+`)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[], $5::timestamptz[], $6::text[],
			$7::integer[], $8::text[], $9::timestamptz[])
		ON CONFLICT (id) DO NOTHING
		RETURNING id`,
		cols.id, cols.source, cols.name, cols.payload, cols.received, cols.state, cols.attempts, cols.lastError,
		cols.processed)
	if err != nil {
		return nil, fmt.Errorf("postgres: insert %d inbound events: %w", len(rows), classify(err))
	}
	ids, err := pgx.CollectRows(inserted, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("postgres: insert %d inbound events: %w", len(rows), classify(err))
	}
	return markNew(events, ids, isNew), nil
}

// uniqueInbound returns the first event of each id, in id order.
func uniqueInbound(events []app.InboundEvent) []app.InboundEvent {
	rows := slices.Clone(events)
	slices.SortStableFunc(rows, func(a, b app.InboundEvent) int { return strings.Compare(a.ID, b.ID) })
	return slices.CompactFunc(rows, func(a, b app.InboundEvent) bool { return a.ID == b.ID })
}

// markNew sets isNew for the first event of each id the statement inserted.
func markNew(events []app.InboundEvent, inserted []string, isNew []bool) []bool {
	fresh := make(map[string]bool, len(inserted))
	for _, id := range inserted {
		fresh[id] = true
	}
	for i, e := range events {
		if fresh[e.ID] {
			isNew[i] = true
			delete(fresh, e.ID) // a later event with the same id is a duplicate
		}
	}
	return isNew
}

// GetInbound returns the event with id, or app.ErrNotFound.
func (s *Store) GetInbound(ctx context.Context, id string) (app.InboundEvent, error) {
	e, err := scanInbound(s.pool.QueryRow(ctx, `SELECT `+inboundColumns+` FROM inbound_events WHERE id = $1`, id))
	if err != nil {
		return app.InboundEvent{}, fmt.Errorf("postgres: get inbound event %q: %w", id, classify(err))
	}
	return e, nil
}

// MarkInboundProcessed moves the events to processed, in one statement;
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
	ids = slices.Clone(ids)
	slices.Sort(ids) // rows locked in one order: concurrent statements cannot deadlock
	// Repairable: an event whose mark is lost is published again by
	// recovery, and applying it again changes nothing.
	err := s.execRepairable(ctx, `UPDATE inbound_events SET
			processed_at = CASE WHEN state = 'processed' THEN processed_at ELSE $2 END,
			state = 'processed'
		WHERE id = ANY($1)`, slices.Compact(ids), dbTime(at))
	if err != nil {
		return fmt.Errorf("postgres: mark %d inbound events processed: %w", len(ids), classify(err))
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
