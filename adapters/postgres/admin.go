package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

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

// ListStudents implements app.AdminStore: newest (highest id) first, ids
// below q.BeforeID, so rows inserted while a client pages never shift
// later pages.
func (s *Store) ListStudents(ctx context.Context, q app.PageQuery) ([]domain.Student, error) {
	before, limit := adminPage(q)
	rows, err := s.pool.Query(ctx, `SELECT `+studentColumns+` FROM students WHERE id < $1 ORDER BY id DESC LIMIT $2`,
		before, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: list students %+v: %w", q, classify(err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (domain.Student, error) { return scanStudent(r) })
	if err != nil {
		return nil, fmt.Errorf("postgres: list students %+v: %w", q, classify(err))
	}
	return out, nil
}

// ListCourses implements app.AdminStore, newest first.
func (s *Store) ListCourses(ctx context.Context, q app.PageQuery) ([]domain.Course, error) {
	before, limit := adminPage(q)
	rows, err := s.pool.Query(ctx, `SELECT `+courseColumns+` FROM courses WHERE id < $1 ORDER BY id DESC LIMIT $2`,
		before, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: list courses %+v: %w", q, classify(err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (domain.Course, error) { return scanCourse(r) })
	if err != nil {
		return nil, fmt.Errorf("postgres: list courses %+v: %w", q, classify(err))
	}
	return out, nil
}

// FindCourseByMoodleID implements app.AdminStore.
func (s *Store) FindCourseByMoodleID(ctx context.Context, moodleCourseID int64) (domain.Course, error) {
	c, err := scanCourse(s.pool.QueryRow(ctx, `SELECT `+courseColumns+` FROM courses WHERE moodle_course_id = $1`,
		moodleCourseID))
	if err != nil {
		return domain.Course{}, fmt.Errorf("postgres: find course of moodle course %d: %w", moodleCourseID, classify(err))
	}
	return c, nil
}

// enrollmentRecordColumns are enrollmentColumns of e, then the Moodle ids
// of its student s and course c.
var enrollmentRecordColumns = "e." + strings.Join(strings.Fields(strings.ReplaceAll(enrollmentColumns, ",", " ")), ", e.") +
	", s.moodle_user_id, c.moodle_course_id"

func scanEnrollmentRecord(row pgx.Row) (app.EnrollmentRecord, error) {
	var (
		r          app.EnrollmentRecord
		moodleUser *int64
		err        error
	)
	r.Enrollment, err = scanEnrollment(extraRow{row, []any{&moodleUser, &r.MoodleCourseID}})
	if err != nil {
		return app.EnrollmentRecord{}, err
	}
	r.MoodleUserID = value(moodleUser)
	return r, nil
}

// extraRow scans columns past those its caller asks for into extra.
type extraRow struct {
	pgx.Row
	extra []any
}

func (r extraRow) Scan(dest ...any) error { return r.Row.Scan(append(dest, r.extra...)...) }

// ListEnrollments implements app.AdminStore, newest first.
func (s *Store) ListEnrollments(ctx context.Context, f app.EnrollmentFilter) ([]app.EnrollmentRecord, error) {
	before, limit := adminPage(f.PageQuery)
	conds, args := []string{"e.id < $1"}, []any{before}
	if f.CourseID != 0 {
		args = append(args, f.CourseID)
		conds = append(conds, "e.course_id = $"+strconv.Itoa(len(args)))
	}
	if f.StudentID != 0 {
		args = append(args, f.StudentID)
		conds = append(conds, "e.student_id = $"+strconv.Itoa(len(args)))
	}
	args = append(args, limit)
	q := `SELECT ` + enrollmentRecordColumns + ` FROM enrollments e
		JOIN students s ON s.id = e.student_id JOIN courses c ON c.id = e.course_id
		WHERE ` + strings.Join(conds, " AND ") + ` ORDER BY e.id DESC LIMIT $` + strconv.Itoa(len(args))
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: list enrollments %+v: %w", f, classify(err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (app.EnrollmentRecord, error) {
		return scanEnrollmentRecord(r)
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: list enrollments %+v: %w", f, classify(err))
	}
	return out, nil
}

// GetEnrollmentRecord implements app.AdminStore.
func (s *Store) GetEnrollmentRecord(ctx context.Context, id int64) (app.EnrollmentRecord, error) {
	r, err := scanEnrollmentRecord(s.pool.QueryRow(ctx, `SELECT `+enrollmentRecordColumns+` FROM enrollments e
		JOIN students s ON s.id = e.student_id JOIN courses c ON c.id = e.course_id WHERE e.id = $1`, id))
	if err != nil {
		return app.EnrollmentRecord{}, fmt.Errorf("postgres: get enrollment record %d: %w", id, classify(err))
	}
	return r, nil
}

// CountMessages implements app.AdminStore: counts by status, rule and
// quarter of an hour since the Unix epoch.
func (s *Store) CountMessages(ctx context.Context, since, until time.Time) ([]app.MessageCount, error) {
	bucket := int64(app.StatsBucket / time.Second)
	rows, err := s.pool.Query(ctx, `SELECT status, rule,
			floor(extract(epoch FROM created_at) / $3)::bigint AS bucket, count(*)
		FROM message_logs WHERE created_at >= $1 AND created_at < $2
		GROUP BY status, rule, bucket ORDER BY bucket, rule, status`, dbTime(since), dbTime(until), bucket)
	if err != nil {
		return nil, fmt.Errorf("postgres: count messages: %w", classify(err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (app.MessageCount, error) {
		var (
			c app.MessageCount
			b int64
		)
		err := r.Scan(&c.Status, &c.Rule, &b, &c.Count)
		c.Bucket = time.Unix(b*bucket, 0).UTC()
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: count messages: %w", classify(err))
	}
	return out, nil
}

// GetIdempotencyKey implements app.AdminStore.
func (s *Store) GetIdempotencyKey(ctx context.Context, key string) (app.IdempotencyRecord, error) {
	rec, err := scanIdempotency(s.pool.QueryRow(ctx, `SELECT idempotency_key, request_hash, status, body, created_at
		FROM idempotency_keys WHERE idempotency_key = $1`, key))
	if err != nil {
		return app.IdempotencyRecord{}, fmt.Errorf("postgres: get idempotency key: %w", classify(err))
	}
	return rec, nil
}

// SaveIdempotencyKey implements app.AdminStore: the first record of a key
// wins.
func (s *Store) SaveIdempotencyKey(ctx context.Context, rec app.IdempotencyRecord) (app.IdempotencyRecord, error) {
	var out app.IdempotencyRecord
	err := s.transact(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO idempotency_keys (idempotency_key, request_hash, status, body, created_at)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT (idempotency_key) DO NOTHING`,
			rec.Key, rec.RequestHash, rec.Status, string(rec.Body), dbTime(rec.CreatedAt))
		if err != nil {
			return err
		}
		out, err = scanIdempotency(tx.QueryRow(ctx, `SELECT idempotency_key, request_hash, status, body, created_at
			FROM idempotency_keys WHERE idempotency_key = $1`, rec.Key))
		return err
	})
	if err != nil {
		return app.IdempotencyRecord{}, fmt.Errorf("postgres: save idempotency key: %w", classify(err))
	}
	return out, nil
}

// idempotencyPurgeBatch is how many records one statement of
// PurgeIdempotencyKeys deletes. Tests lower it.
var idempotencyPurgeBatch = 10_000

// PurgeIdempotencyKeys implements app.AdminStore: oldest first, one batch
// per statement (and so per transaction), until a batch comes back short.
// A batch skips the rows another transaction holds (a concurrent purge by
// another replica deletes them) rather than wait for them.
func (s *Store) PurgeIdempotencyKeys(ctx context.Context, createdBefore time.Time) (int, error) {
	total := 0
	for {
		tag, err := s.pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE idempotency_key IN (
				SELECT idempotency_key FROM idempotency_keys WHERE created_at < $1
				ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED)`,
			dbTime(createdBefore), idempotencyPurgeBatch)
		if err != nil {
			return total, fmt.Errorf("postgres: purge idempotency keys: %w", classify(err))
		}
		n := int(tag.RowsAffected())
		total += n
		if n < idempotencyPurgeBatch {
			return total, nil
		}
	}
}

func scanIdempotency(row pgx.Row) (app.IdempotencyRecord, error) {
	var (
		r    app.IdempotencyRecord
		body string
	)
	if err := row.Scan(&r.Key, &r.RequestHash, &r.Status, &body, &r.CreatedAt); err != nil {
		return app.IdempotencyRecord{}, err
	}
	r.Body, r.CreatedAt = []byte(body), r.CreatedAt.UTC()
	return r, nil
}

const syncColumns = `id, moodle_course_ids, status, courses, added, updated, skipped, failed, error, started_at,
	heartbeat_at, finished_at`

func scanSync(row pgx.Row) (app.Sync, error) {
	var (
		sc       app.Sync
		errMsg   *string
		finished *time.Time
	)
	err := row.Scan(&sc.ID, &sc.MoodleCourseIDs, &sc.Status, &sc.Counts.Courses, &sc.Counts.Added,
		&sc.Counts.Updated, &sc.Counts.Skipped, &sc.Counts.Failed, &errMsg, &sc.StartedAt, &sc.HeartbeatAt, &finished)
	if err != nil {
		return app.Sync{}, err
	}
	if len(sc.MoodleCourseIDs) == 0 {
		sc.MoodleCourseIDs = nil
	}
	sc.Error = value(errMsg)
	sc.StartedAt, sc.HeartbeatAt, sc.FinishedAt = sc.StartedAt.UTC(), sc.HeartbeatAt.UTC(), timeOut(finished)
	return sc, nil
}

// CreateSync implements app.AdminStore.
func (s *Store) CreateSync(ctx context.Context, moodleCourseIDs []int64, now time.Time) (app.Sync, error) {
	ids := moodleCourseIDs
	if ids == nil {
		ids = []int64{}
	}
	sc, err := scanSync(s.pool.QueryRow(ctx, `INSERT INTO syncs (moodle_course_ids, started_at, heartbeat_at)
		VALUES ($1, $2, $2) RETURNING `+syncColumns, ids, dbTime(now)))
	if err != nil {
		return app.Sync{}, fmt.Errorf("postgres: create sync: %w", classify(err))
	}
	return sc, nil
}

// GetSync implements app.AdminStore.
func (s *Store) GetSync(ctx context.Context, id int64) (app.Sync, error) {
	sc, err := scanSync(s.pool.QueryRow(ctx, `SELECT `+syncColumns+` FROM syncs WHERE id = $1`, id))
	if err != nil {
		return app.Sync{}, fmt.Errorf("postgres: get sync %d: %w", id, classify(err))
	}
	return sc, nil
}

// SaveSyncProgress implements app.AdminStore.
func (s *Store) SaveSyncProgress(ctx context.Context, id int64, c app.SyncCounts, now time.Time) (bool, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE syncs SET courses = $2, added = $3, updated = $4, skipped = $5, failed = $6,
			heartbeat_at = $7
		WHERE id = $1 AND status = 'running'`, id, c.Courses, c.Added, c.Updated, c.Skipped, c.Failed, dbTime(now))
	if err != nil {
		return false, fmt.Errorf("postgres: save progress of sync %d: %w", id, classify(err))
	}
	return tag.RowsAffected() == 1, nil
}

// FinishSync implements app.AdminStore.
func (s *Store) FinishSync(ctx context.Context, id int64, status app.SyncStatus, c app.SyncCounts, errMsg string, now time.Time) (bool, error) {
	if status != app.SyncDone && status != app.SyncFailed {
		return false, errors.New("postgres: finish sync: the status must be done or failed")
	}
	tag, err := s.pool.Exec(ctx, `UPDATE syncs SET status = $2, courses = $3, added = $4, updated = $5, skipped = $6,
			failed = $7, error = $8, heartbeat_at = $9, finished_at = $9
		WHERE id = $1 AND status = 'running'`, id, string(status), c.Courses, c.Added, c.Updated, c.Skipped,
		c.Failed, nullable(errMsg), dbTime(now))
	if err != nil {
		return false, fmt.Errorf("postgres: finish sync %d: %w", id, classify(err))
	}
	return tag.RowsAffected() == 1, nil
}

// FailAbandonedSyncs implements app.AdminStore.
func (s *Store) FailAbandonedSyncs(ctx context.Context, before, now time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE syncs SET status = 'failed', finished_at = $2,
			error = 'abandoned: the process running it stopped'
		WHERE status = 'running' AND heartbeat_at < $1`, dbTime(before), dbTime(now))
	if err != nil {
		return 0, fmt.Errorf("postgres: fail abandoned syncs: %w", classify(err))
	}
	return int(tag.RowsAffected()), nil
}
