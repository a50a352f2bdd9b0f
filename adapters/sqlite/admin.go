package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/acme/notifier/app"
	"github.com/acme/notifier/domain"
)

var _ app.AdminStore = (*Store)(nil)

// adminMaxID stands for "no upper bound" in keyset pages newest first.
const adminMaxID = int64(1<<63 - 1)

func adminPage(q app.PageQuery) (int64, int) {
	before, limit := q.BeforeID, q.Limit
	if before <= 0 {
		before = adminMaxID
	}
	if limit <= 0 {
		limit = defaultListLimit
	}
	return before, limit
}

// queryAdmin runs a query on the readers and scans every row with scan.
func queryAdmin[T any](ctx context.Context, s *Store, scan func(scanner) (T, error), q string, args ...any) ([]T, error) {
	rows, err := s.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// ListStudents implements app.AdminStore: newest (highest id) first, ids
// below q.BeforeID, so rows inserted while a client pages never shift
// later pages (AUTOINCREMENT never reuses an id).
func (s *Store) ListStudents(ctx context.Context, q app.PageQuery) ([]domain.Student, error) {
	before, limit := adminPage(q)
	out, err := queryAdmin(ctx, s, scanStudent,
		`SELECT `+studentColumns+` FROM students WHERE id < ? ORDER BY id DESC LIMIT ?`, before, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list students %+v: %w", q, classify(err))
	}
	return out, nil
}

// ListCourses implements app.AdminStore, newest first.
func (s *Store) ListCourses(ctx context.Context, q app.PageQuery) ([]domain.Course, error) {
	before, limit := adminPage(q)
	out, err := queryAdmin(ctx, s, scanCourse,
		`SELECT `+courseColumns+` FROM courses WHERE id < ? ORDER BY id DESC LIMIT ?`, before, limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list courses %+v: %w", q, classify(err))
	}
	return out, nil
}

// FindCourseByMoodleID implements app.AdminStore.
func (s *Store) FindCourseByMoodleID(ctx context.Context, moodleCourseID int64) (domain.Course, error) {
	c, err := scanCourse(s.read.QueryRowContext(ctx, `SELECT `+courseColumns+` FROM courses WHERE moodle_course_id = ?`,
		moodleCourseID))
	if err != nil {
		return domain.Course{}, fmt.Errorf("sqlite: find course of moodle course %d: %w", moodleCourseID, classify(err))
	}
	return c, nil
}

// enrollmentRecordColumns are enrollmentColumns of e, then the Moodle ids
// of its student s and course c.
var enrollmentRecordColumns = "e." + strings.Join(strings.Fields(strings.ReplaceAll(enrollmentColumns, ",", " ")), ", e.") +
	", s.moodle_user_id, c.moodle_course_id"

const enrollmentRecordFrom = ` FROM enrollments e
	JOIN students s ON s.id = e.student_id JOIN courses c ON c.id = e.course_id`

// extraScanner scans columns past those its caller asks for into extra.
type extraScanner struct {
	scanner
	extra []any
}

func (r extraScanner) Scan(dest ...any) error { return r.scanner.Scan(append(dest, r.extra...)...) }

func scanEnrollmentRecord(row scanner) (app.EnrollmentRecord, error) {
	var (
		r          app.EnrollmentRecord
		moodleUser sql.NullInt64
		err        error
	)
	r.Enrollment, err = scanEnrollment(extraScanner{row, []any{&moodleUser, &r.MoodleCourseID}})
	if err != nil {
		return app.EnrollmentRecord{}, err
	}
	r.MoodleUserID = moodleUser.Int64
	return r, nil
}

// ListEnrollments implements app.AdminStore, newest first.
func (s *Store) ListEnrollments(ctx context.Context, f app.EnrollmentFilter) ([]app.EnrollmentRecord, error) {
	before, limit := adminPage(f.PageQuery)
	conds, args := []string{"e.id < ?"}, []any{before}
	if f.CourseID != 0 {
		conds, args = append(conds, "e.course_id = ?"), append(args, f.CourseID)
	}
	if f.StudentID != 0 {
		conds, args = append(conds, "e.student_id = ?"), append(args, f.StudentID)
	}
	q := `SELECT ` + enrollmentRecordColumns + enrollmentRecordFrom + ` WHERE ` + strings.Join(conds, " AND ") +
		` ORDER BY e.id DESC LIMIT ?`
	out, err := queryAdmin(ctx, s, scanEnrollmentRecord, q, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list enrollments %+v: %w", f, classify(err))
	}
	return out, nil
}

// GetEnrollmentRecord implements app.AdminStore.
func (s *Store) GetEnrollmentRecord(ctx context.Context, id int64) (app.EnrollmentRecord, error) {
	r, err := scanEnrollmentRecord(s.read.QueryRowContext(ctx,
		`SELECT `+enrollmentRecordColumns+enrollmentRecordFrom+` WHERE e.id = ?`, id))
	if err != nil {
		return app.EnrollmentRecord{}, fmt.Errorf("sqlite: get enrollment record %d: %w", id, classify(err))
	}
	return r, nil
}

// CountMessages implements app.AdminStore: counts by status, rule and
// quarter of an hour since the Unix epoch (created_at is in microseconds).
func (s *Store) CountMessages(ctx context.Context, since, until time.Time) ([]app.MessageCount, error) {
	bucket := app.StatsBucket.Microseconds()
	out, err := queryAdmin(ctx, s, func(r scanner) (app.MessageCount, error) {
		var (
			c app.MessageCount
			b int64
		)
		err := r.Scan(&c.Status, &c.Rule, &b, &c.Count)
		c.Bucket = fromMicros(b * bucket)
		return c, err
	}, `SELECT status, rule, created_at / ? AS bucket, count(*)
		FROM message_logs WHERE created_at >= ? AND created_at < ?
		GROUP BY status, rule, bucket ORDER BY bucket, rule, status`, bucket, micros(since), micros(until))
	if err != nil {
		return nil, fmt.Errorf("sqlite: count messages: %w", classify(err))
	}
	return out, nil
}

const idempotencyColumns = `idempotency_key, request_hash, status, body, created_at`

func scanIdempotency(row scanner) (app.IdempotencyRecord, error) {
	var (
		r       app.IdempotencyRecord
		body    string
		created int64
	)
	if err := row.Scan(&r.Key, &r.RequestHash, &r.Status, &body, &created); err != nil {
		return app.IdempotencyRecord{}, err
	}
	r.Body, r.CreatedAt = json.RawMessage(body), fromMicros(created)
	return r, nil
}

// GetIdempotencyKey implements app.AdminStore.
func (s *Store) GetIdempotencyKey(ctx context.Context, key string) (app.IdempotencyRecord, error) {
	rec, err := scanIdempotency(s.read.QueryRowContext(ctx,
		`SELECT `+idempotencyColumns+` FROM idempotency_keys WHERE idempotency_key = ?`, key))
	if err != nil {
		return app.IdempotencyRecord{}, fmt.Errorf("sqlite: get idempotency key: %w", classify(err))
	}
	return rec, nil
}

// SaveIdempotencyKey implements app.AdminStore: the first record of a key
// wins.
func (s *Store) SaveIdempotencyKey(ctx context.Context, rec app.IdempotencyRecord) (app.IdempotencyRecord, error) {
	var out app.IdempotencyRecord
	err := s.transact(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO idempotency_keys (`+idempotencyColumns+`) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (idempotency_key) DO NOTHING`,
			rec.Key, rec.RequestHash, rec.Status, string(rec.Body), micros(rec.CreatedAt))
		if err != nil {
			return err
		}
		out, err = scanIdempotency(tx.QueryRowContext(ctx,
			`SELECT `+idempotencyColumns+` FROM idempotency_keys WHERE idempotency_key = ?`, rec.Key))
		return err
	})
	if err != nil {
		return app.IdempotencyRecord{}, fmt.Errorf("sqlite: save idempotency key: %w", classify(err))
	}
	return out, nil
}

// idempotencyPurgeBatch is how many records one statement of
// PurgeIdempotencyKeys deletes. Tests lower it.
var idempotencyPurgeBatch = 10_000

// PurgeIdempotencyKeys implements app.AdminStore: oldest first, one batch
// per write transaction, until a batch comes back short. Between batches
// the writer connection goes back to its pool, where the writers waiting
// for it take their turn.
func (s *Store) PurgeIdempotencyKeys(ctx context.Context, createdBefore time.Time) (int, error) {
	total := 0
	for {
		n, err := s.execAdmin(ctx, `DELETE FROM idempotency_keys WHERE rowid IN (
				SELECT rowid FROM idempotency_keys WHERE created_at < ? ORDER BY created_at LIMIT ?)`,
			micros(createdBefore), idempotencyPurgeBatch)
		if err != nil {
			return total, fmt.Errorf("sqlite: purge idempotency keys: %w", classify(err))
		}
		total += int(n)
		if int(n) < idempotencyPurgeBatch {
			return total, nil
		}
	}
}

const syncColumns = `id, moodle_course_ids, status, courses, added, updated, skipped, failed, error, started_at,
	heartbeat_at, finished_at`

func scanSync(row scanner) (app.Sync, error) {
	var (
		sc                 app.Sync
		ids                string
		errMsg             sql.NullString
		started, heartbeat int64
		finished           sql.NullInt64
	)
	err := row.Scan(&sc.ID, &ids, &sc.Status, &sc.Counts.Courses, &sc.Counts.Added, &sc.Counts.Updated,
		&sc.Counts.Skipped, &sc.Counts.Failed, &errMsg, &started, &heartbeat, &finished)
	if err != nil {
		return app.Sync{}, err
	}
	if err := json.Unmarshal([]byte(ids), &sc.MoodleCourseIDs); err != nil {
		return app.Sync{}, fmt.Errorf("sync %d: moodle_course_ids: %w", sc.ID, err)
	}
	if len(sc.MoodleCourseIDs) == 0 {
		sc.MoodleCourseIDs = nil
	}
	sc.Error = errMsg.String
	sc.StartedAt, sc.HeartbeatAt, sc.FinishedAt = fromMicros(started), fromMicros(heartbeat), timeOut(finished)
	return sc, nil
}

// CreateSync implements app.AdminStore.
func (s *Store) CreateSync(ctx context.Context, moodleCourseIDs []int64, now time.Time) (app.Sync, error) {
	ids := moodleCourseIDs
	if ids == nil {
		ids = []int64{}
	}
	raw, err := json.Marshal(ids)
	if err != nil {
		return app.Sync{}, fmt.Errorf("sqlite: create sync: %w", err)
	}
	sc, err := scanSync(s.write.QueryRowContext(ctx, `INSERT INTO syncs (moodle_course_ids, started_at, heartbeat_at)
		VALUES (?, ?, ?) RETURNING `+syncColumns, string(raw), micros(now), micros(now)))
	if err != nil {
		return app.Sync{}, fmt.Errorf("sqlite: create sync: %w", classify(err))
	}
	return sc, nil
}

// GetSync implements app.AdminStore.
func (s *Store) GetSync(ctx context.Context, id int64) (app.Sync, error) {
	sc, err := scanSync(s.read.QueryRowContext(ctx, `SELECT `+syncColumns+` FROM syncs WHERE id = ?`, id))
	if err != nil {
		return app.Sync{}, fmt.Errorf("sqlite: get sync %d: %w", id, classify(err))
	}
	return sc, nil
}

// exec runs one writing statement and returns the rows it changed.
func (s *Store) execAdmin(ctx context.Context, q string, args ...any) (int64, error) {
	res, err := s.write.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// SaveSyncProgress implements app.AdminStore.
func (s *Store) SaveSyncProgress(ctx context.Context, id int64, c app.SyncCounts, now time.Time) (bool, error) {
	n, err := s.execAdmin(ctx, `UPDATE syncs SET courses = ?, added = ?, updated = ?, skipped = ?, failed = ?,
			heartbeat_at = ?
		WHERE id = ? AND status = 'running'`, c.Courses, c.Added, c.Updated, c.Skipped, c.Failed, micros(now), id)
	if err != nil {
		return false, fmt.Errorf("sqlite: save progress of sync %d: %w", id, classify(err))
	}
	return n == 1, nil
}

// FinishSync implements app.AdminStore.
func (s *Store) FinishSync(ctx context.Context, id int64, status app.SyncStatus, c app.SyncCounts, errMsg string, now time.Time) (bool, error) {
	if status != app.SyncDone && status != app.SyncFailed {
		return false, errors.New("sqlite: finish sync: the status must be done or failed")
	}
	n, err := s.execAdmin(ctx, `UPDATE syncs SET status = ?, courses = ?, added = ?, updated = ?, skipped = ?,
			failed = ?, error = ?, heartbeat_at = ?, finished_at = ?
		WHERE id = ? AND status = 'running'`, string(status), c.Courses, c.Added, c.Updated, c.Skipped, c.Failed,
		nullable(errMsg), micros(now), micros(now), id)
	if err != nil {
		return false, fmt.Errorf("sqlite: finish sync %d: %w", id, classify(err))
	}
	return n == 1, nil
}

// FailAbandonedSyncs implements app.AdminStore.
func (s *Store) FailAbandonedSyncs(ctx context.Context, before, now time.Time) (int, error) {
	n, err := s.execAdmin(ctx, `UPDATE syncs SET status = 'failed', finished_at = ?,
			error = 'abandoned: the process running it stopped'
		WHERE status = 'running' AND heartbeat_at < ?`, micros(now), micros(before))
	if err != nil {
		return 0, fmt.Errorf("sqlite: fail abandoned syncs: %w", classify(err))
	}
	return int(n), nil
}
