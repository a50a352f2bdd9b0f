package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/acme/notifier/app"
	"github.com/acme/notifier/domain"
)

var _ app.ScanStore = (*Store)(nil)

const scanColumns = `id, kind, scan_date, status, dispatched, evaluated, messages, failed, started_at, finished_at`

// CreateScan implements app.ScanStore.
func (s *Store) CreateScan(ctx context.Context, kind app.ScanKind, date domain.Date, now time.Time) (app.Scan, bool, error) {
	var (
		sc      app.Scan
		created bool
	)
	err := s.transact(ctx, func(tx *sql.Tx) error {
		var err error
		sc, err = scanScan(tx.QueryRowContext(ctx, `INSERT INTO scans (kind, scan_date, started_at) VALUES (?, ?, ?)
			ON CONFLICT (scan_date) WHERE kind = 'scheduled' DO NOTHING
			RETURNING `+scanColumns, string(kind), date.String(), micros(now)))
		if err == nil {
			created = true
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		sc, err = scanScan(tx.QueryRowContext(ctx, `SELECT `+scanColumns+` FROM scans
			WHERE kind = 'scheduled' AND scan_date = ?`, date.String()))
		return err
	})
	if err != nil {
		return app.Scan{}, false, fmt.Errorf("sqlite: create %s scan of %s: %w", kind, date, classify(err))
	}
	return sc, created, nil
}

// AddScanItems implements app.ScanStore. Setting dispatched first claims
// the scan, so a second dispatcher records nothing.
func (s *Store) AddScanItems(ctx context.Context, scanID int64, notEndedBefore time.Time) (int, bool, error) {
	var (
		n       int64
		claimed bool
	)
	err := s.transact(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE scans SET dispatched = 0 WHERE id = ? AND dispatched IS NULL`, scanID)
		if err != nil {
			return err
		}
		if k, err := res.RowsAffected(); err != nil || k == 0 {
			return err
		}
		claimed = true
		res, err = tx.ExecContext(ctx, `INSERT INTO scan_items (scan_id, enrollment_id)
			SELECT ?, e.id FROM enrollments e JOIN courses c ON c.id = e.course_id
			WHERE e.deleted = 0 AND e.status = 0 AND (c.enddate IS NULL OR c.enddate >= ?)
			ON CONFLICT DO NOTHING`, scanID, micros(notEndedBefore))
		if err != nil {
			return err
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE scans SET dispatched = ? WHERE id = ?`, n, scanID)
		return err
	})
	if err != nil {
		return 0, false, fmt.Errorf("sqlite: add items of scan %d: %w", scanID, classify(err))
	}
	return int(n), claimed, nil
}

// UndispatchedScans implements app.ScanStore.
func (s *Store) UndispatchedScans(ctx context.Context) ([]app.Scan, error) {
	scans, err := s.queryScans(ctx, s.read, `SELECT `+scanColumns+` FROM scans
		WHERE status = 'running' AND dispatched IS NULL ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: undispatched scans: %w", classify(err))
	}
	return scans, nil
}

// PendingScanItems implements app.ScanStore.
func (s *Store) PendingScanItems(ctx context.Context, scanID, afterEnrollmentID int64, limit int) ([]int64, error) {
	ids, err := s.queryIDs(ctx, `SELECT enrollment_id FROM scan_items
		WHERE scan_id = ? AND state = 'pending' AND enrollment_id > ? ORDER BY enrollment_id LIMIT ?`,
		scanID, afterEnrollmentID, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: pending items of scan %d: %w", scanID, classify(err))
	}
	return ids, nil
}

const finishItemSQL = `UPDATE scan_items SET state = ?, messages = ?
	WHERE scan_id = ? AND enrollment_id = ? AND state = 'pending'`

// FinishScanItems implements app.ScanStore.
func (s *Store) FinishScanItems(ctx context.Context, items []app.ScanItemResult) error {
	if len(items) == 0 {
		return nil
	}
	err := s.transact(ctx, func(sqlTx *sql.Tx) error {
		tx := cachedTx{sqlTx, s.writeStmts}
		for _, it := range items {
			if _, err := tx.ExecContext(ctx, finishItemSQL, string(it.State), it.Messages, it.ScanID, it.EnrollmentID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlite: finish %d scan items: %w", len(items), classify(err))
	}
	return nil
}

// FinishScanItem implements app.ScanStore.
func (s *Store) FinishScanItem(ctx context.Context, scanID, enrollmentID int64, state app.ScanItemState, messages int) (bool, error) {
	var n int64
	err := s.transact(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE scan_items SET state = ?, messages = ?
			WHERE scan_id = ? AND enrollment_id = ? AND state = 'pending'`, string(state), messages, scanID, enrollmentID)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return false, fmt.Errorf("sqlite: finish item %d of scan %d: %w", enrollmentID, scanID, classify(err))
	}
	return n == 1, nil
}

// GetScan implements app.ScanStore: a running scan's counts are summed from
// its items; a finished one keeps the counts it ended with.
func (s *Store) GetScan(ctx context.Context, id int64) (app.Scan, error) {
	sc, err := scanScan(s.read.QueryRowContext(ctx, `SELECT `+scanColumns+` FROM scans WHERE id = ?`, id))
	if err != nil {
		return app.Scan{}, fmt.Errorf("sqlite: get scan %d: %w", id, classify(err))
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
	err := s.read.QueryRowContext(ctx, `SELECT count(*),
			count(*) FILTER (WHERE state = 'done'), coalesce(sum(messages), 0),
			count(*) FILTER (WHERE state = 'failed')
		FROM scan_items WHERE scan_id = ?`, id).Scan(&c.Dispatched, &c.Evaluated, &c.Messages, &c.Failed)
	if err != nil {
		return c, fmt.Errorf("sqlite: count items of scan %d: %w", id, classify(err))
	}
	return c, nil
}

// ListScans implements app.ScanStore.
func (s *Store) ListScans(ctx context.Context, beforeID int64, limit int) ([]app.Scan, error) {
	if beforeID <= 0 {
		beforeID = 1<<63 - 1
	}
	scans, err := s.queryScans(ctx, s.read, `SELECT `+scanColumns+` FROM scans WHERE id < ? ORDER BY id DESC LIMIT ?`,
		beforeID, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list scans: %w", classify(err))
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
	var done []app.Scan
	err := s.transact(ctx, func(tx *sql.Tx) error {
		var err error
		done, err = s.queryScans(ctx, tx, `WITH c AS (
				SELECT r.id, count(i.scan_id) FILTER (WHERE i.state = 'done') AS evaluated,
					coalesce(sum(i.messages), 0) AS messages,
					count(i.scan_id) FILTER (WHERE i.state = 'failed') AS failed,
					count(i.scan_id) FILTER (WHERE i.state = 'pending') AS pending
				FROM scans r LEFT JOIN scan_items i ON i.scan_id = r.id
				WHERE r.status = 'running' AND r.dispatched IS NOT NULL
				GROUP BY r.id)
			UPDATE scans SET status = 'done', finished_at = ?,
				evaluated = c.evaluated, messages = c.messages, failed = c.failed
			FROM c WHERE scans.id = c.id AND c.pending = 0 AND scans.status = 'running'
			RETURNING scans.id, scans.kind, scans.scan_date, scans.status, scans.dispatched, scans.evaluated,
				scans.messages, scans.failed, scans.started_at, scans.finished_at`, micros(now))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: complete scans: %w", classify(err))
	}
	return done, nil
}

// RunningScans implements app.ScanStore.
func (s *Store) RunningScans(ctx context.Context) ([]app.Scan, error) {
	scans, err := s.queryScans(ctx, s.read, `SELECT `+scanColumns+` FROM scans WHERE status = 'running' ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: running scans: %w", classify(err))
	}
	return scans, nil
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func (s *Store) queryScans(ctx context.Context, q querier, query string, args ...any) ([]app.Scan, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []app.Scan
	for rows.Next() {
		sc, err := scanScan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, sc)
	}
	return out, rows.Err()
}

func scanScan(row scanner) (app.Scan, error) {
	var (
		sc         app.Scan
		date       string
		dispatched sql.NullInt64
		started    int64
		finished   sql.NullInt64
	)
	err := row.Scan(&sc.ID, &sc.Kind, &date, &sc.Status, &dispatched, &sc.Counts.Evaluated, &sc.Counts.Messages,
		&sc.Counts.Failed, &started, &finished)
	if err != nil {
		return app.Scan{}, err
	}
	if sc.Date, err = domain.ParseDate(date); err != nil {
		return app.Scan{}, err
	}
	sc.Counts.Dispatched = int(dispatched.Int64)
	sc.StartedAt, sc.FinishedAt = fromMicros(started), timeOut(finished)
	return sc, nil
}
