package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/acme/notifier/app"
	"github.com/acme/notifier/domain"
)

var _ app.ScanStore = (*Store)(nil)

const scanColumns = `id, kind, scan_date, status, dispatched, evaluated, messages, failed, started_at, finished_at`

// CreateScan implements app.ScanStore.
func (s *Store) CreateScan(ctx context.Context, kind app.ScanKind, date domain.Date, now time.Time) (app.Scan, bool, error) {
	row := s.pool.QueryRow(ctx, `INSERT INTO scans (kind, scan_date, started_at) VALUES ($1, $2, $3)
		ON CONFLICT (scan_date) WHERE kind = 'scheduled' DO NOTHING
		RETURNING `+scanColumns, kind, date.String(), dbTime(now))
	sc, err := scanScan(row)
	if err == nil {
		return sc, true, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return app.Scan{}, false, fmt.Errorf("postgres: create %s scan of %s: %w", kind, date, classify(err))
	}
	row = s.pool.QueryRow(ctx, `SELECT `+scanColumns+` FROM scans WHERE kind = 'scheduled' AND scan_date = $1`, date.String())
	sc, err = scanScan(row)
	if err != nil {
		return app.Scan{}, false, fmt.Errorf("postgres: find scheduled scan of %s: %w", date, classify(err))
	}
	return sc, false, nil
}

// AddScanItems implements app.ScanStore. Setting dispatched first claims
// the scan: a second replica's UPDATE waits for the row lock, then finds it
// set and records nothing.
func (s *Store) AddScanItems(ctx context.Context, scanID int64, notEndedBefore time.Time) (int, bool, error) {
	var (
		n       int
		claimed bool
	)
	err := s.transact(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE scans SET dispatched = 0 WHERE id = $1 AND dispatched IS NULL`, scanID)
		if err != nil || tag.RowsAffected() == 0 {
			claimed = false
			return err
		}
		claimed = true
		tag, err = tx.Exec(ctx, `INSERT INTO scan_items (scan_id, enrollment_id)
			SELECT $1, e.id FROM enrollments e JOIN courses c ON c.id = e.course_id
			WHERE NOT e.deleted AND e.status = 0 AND (c.enddate IS NULL OR c.enddate >= $2)
			ON CONFLICT DO NOTHING`, scanID, dbTime(notEndedBefore))
		if err != nil {
			return err
		}
		n = int(tag.RowsAffected())
		_, err = tx.Exec(ctx, `UPDATE scans SET dispatched = $2 WHERE id = $1`, scanID, n)
		return err
	})
	if err != nil {
		return 0, false, fmt.Errorf("postgres: add items of scan %d: %w", scanID, classify(err))
	}
	return n, claimed, nil
}

// UndispatchedScans implements app.ScanStore.
func (s *Store) UndispatchedScans(ctx context.Context) ([]app.Scan, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+scanColumns+` FROM scans
		WHERE status = 'running' AND dispatched IS NULL ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("postgres: undispatched scans: %w", classify(err))
	}
	scans, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (app.Scan, error) { return scanScan(r) })
	if err != nil {
		return nil, fmt.Errorf("postgres: undispatched scans: %w", classify(err))
	}
	return scans, nil
}

// PendingScanItems implements app.ScanStore.
func (s *Store) PendingScanItems(ctx context.Context, scanID, afterEnrollmentID int64, limit int) ([]int64, error) {
	ids, err := s.queryIDs(ctx, `SELECT enrollment_id FROM scan_items
		WHERE scan_id = $1 AND state = 'pending' AND enrollment_id > $2 ORDER BY enrollment_id LIMIT $3`,
		scanID, afterEnrollmentID, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: pending items of scan %d: %w", scanID, err)
	}
	return ids, nil
}

// FinishScanItem implements app.ScanStore.
func (s *Store) FinishScanItem(ctx context.Context, scanID, enrollmentID int64, state app.ScanItemState, messages int) (bool, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE scan_items SET state = $3, messages = $4
		WHERE scan_id = $1 AND enrollment_id = $2 AND state = 'pending'`, scanID, enrollmentID, state, messages)
	if err != nil {
		return false, fmt.Errorf("postgres: finish item %d of scan %d: %w", enrollmentID, scanID, classify(err))
	}
	return tag.RowsAffected() == 1, nil
}

// FinishScanItems implements app.ScanStore: one statement for them all.
func (s *Store) FinishScanItems(ctx context.Context, items []app.ScanItemResult) error {
	if len(items) == 0 {
		return nil
	}
	scans := make([]int64, len(items))
	enrollments := make([]int64, len(items))
	states := make([]string, len(items))
	messages := make([]int32, len(items))
	for i, it := range items {
		scans[i], enrollments[i], states[i], messages[i] = it.ScanID, it.EnrollmentID, string(it.State), int32(it.Messages)
	}
	// Repairable: an item whose finish is lost is pending again, and
	// recovery publishes it again; evaluating it again writes nothing new.
	err := s.execRepairable(ctx, `UPDATE scan_items i SET state = v.state, messages = v.messages
		FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::integer[]) AS v (scan_id, enrollment_id, state, messages)
		WHERE i.scan_id = v.scan_id AND i.enrollment_id = v.enrollment_id AND i.state = 'pending'`,
		scans, enrollments, states, messages)
	if err != nil {
		return fmt.Errorf("postgres: finish %d scan items: %w", len(items), classify(err))
	}
	return nil
}

// GetScan implements app.ScanStore: a running scan's counts are summed from
// its items; a finished one keeps the counts it ended with.
func (s *Store) GetScan(ctx context.Context, id int64) (app.Scan, error) {
	sc, err := scanScan(s.pool.QueryRow(ctx, `SELECT `+scanColumns+` FROM scans WHERE id = $1`, id))
	if err != nil {
		return app.Scan{}, fmt.Errorf("postgres: get scan %d: %w", id, classify(err))
	}
	if sc.Status == app.ScanRunning {
		if sc.Counts, err = s.scanCounts(ctx, id); err != nil {
			return app.Scan{}, err
		}
	}
	return sc, nil
}

func (s *Store) scanCounts(ctx context.Context, id int64) (app.ScanCounts, error) {
	var c app.ScanCounts
	err := s.pool.QueryRow(ctx, `SELECT count(*),
			count(*) FILTER (WHERE state = 'done'), coalesce(sum(messages), 0),
			count(*) FILTER (WHERE state = 'failed')
		FROM scan_items WHERE scan_id = $1`, id).Scan(&c.Dispatched, &c.Evaluated, &c.Messages, &c.Failed)
	if err != nil {
		return c, fmt.Errorf("postgres: count items of scan %d: %w", id, classify(err))
	}
	return c, nil
}

// ListScans implements app.ScanStore.
func (s *Store) ListScans(ctx context.Context, beforeID int64, limit int) ([]app.Scan, error) {
	if beforeID <= 0 {
		beforeID = 1<<63 - 1
	}
	rows, err := s.pool.Query(ctx, `SELECT `+scanColumns+` FROM scans WHERE id < $1 ORDER BY id DESC LIMIT $2`,
		beforeID, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: list scans: %w", classify(err))
	}
	scans, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (app.Scan, error) { return scanScan(r) })
	if err != nil {
		return nil, fmt.Errorf("postgres: list scans: %w", classify(err))
	}
	for i, sc := range scans {
		if sc.Status == app.ScanRunning {
			if scans[i].Counts, err = s.scanCounts(ctx, sc.ID); err != nil {
				return nil, err
			}
		}
	}
	return scans, nil
}

// CompleteScans implements app.ScanStore.
func (s *Store) CompleteScans(ctx context.Context, now time.Time) ([]app.Scan, error) {
	rows, err := s.pool.Query(ctx, `WITH c AS (
			SELECT r.id, count(i.scan_id) FILTER (WHERE i.state = 'done') AS evaluated,
				coalesce(sum(i.messages), 0) AS messages,
				count(i.scan_id) FILTER (WHERE i.state = 'failed') AS failed,
				count(i.scan_id) FILTER (WHERE i.state = 'pending') AS pending
			FROM scans r LEFT JOIN scan_items i ON i.scan_id = r.id
			WHERE r.status = 'running' AND r.dispatched IS NOT NULL
			GROUP BY r.id)
		UPDATE scans sc SET status = 'done', finished_at = $1,
			evaluated = c.evaluated, messages = c.messages, failed = c.failed
		FROM c WHERE sc.id = c.id AND c.pending = 0 AND sc.status = 'running'
		RETURNING sc.id, sc.kind, sc.scan_date, sc.status, sc.dispatched, sc.evaluated, sc.messages, sc.failed,
			sc.started_at, sc.finished_at`, dbTime(now))
	if err != nil {
		return nil, fmt.Errorf("postgres: complete scans: %w", classify(err))
	}
	done, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (app.Scan, error) { return scanScan(r) })
	if err != nil {
		return nil, fmt.Errorf("postgres: complete scans: %w", classify(err))
	}
	return done, nil
}

// RunningScans implements app.ScanStore.
func (s *Store) RunningScans(ctx context.Context) ([]app.Scan, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+scanColumns+` FROM scans WHERE status = 'running' ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("postgres: running scans: %w", classify(err))
	}
	scans, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (app.Scan, error) { return scanScan(r) })
	if err != nil {
		return nil, fmt.Errorf("postgres: running scans: %w", classify(err))
	}
	return scans, nil
}

func scanScan(row pgx.Row) (app.Scan, error) {
	var (
		sc         app.Scan
		date       time.Time
		dispatched *int
		finished   *time.Time
	)
	err := row.Scan(&sc.ID, &sc.Kind, &date, &sc.Status, &dispatched, &sc.Counts.Evaluated, &sc.Counts.Messages,
		&sc.Counts.Failed, &sc.StartedAt, &finished)
	if err != nil {
		return app.Scan{}, err
	}
	sc.Date = domain.DateOf(date, time.UTC)
	sc.Counts.Dispatched = value(dispatched)
	sc.StartedAt, sc.FinishedAt = sc.StartedAt.UTC(), timeOut(finished)
	return sc, nil
}
