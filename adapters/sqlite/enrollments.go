package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	sqlite3 "modernc.org/sqlite/lib"

	"github.com/acme/notifier/app"
	"github.com/acme/notifier/domain"
)

// UpsertEnrollment inserts the enrollment of e.StudentID in e.CourseID, or
// updates it. On update Imported keeps its stored value (whether the
// notifier saw the enrolment begin never changes), Deleted is cleared (Moodle
// reported the enrolment, so it exists), the Moodle enrolment id is kept
// when e has none, and Progress is kept unless e.Progress is known. A
// missing student or course is app.ErrNotFound.
func (s *Store) UpsertEnrollment(ctx context.Context, e domain.Enrollment) (domain.Enrollment, error) {
	roles, err := listIn(e.Roles)
	if err != nil {
		return domain.Enrollment{}, fmt.Errorf("sqlite: upsert enrollment of student %d in course %d: roles: %w",
			e.StudentID, e.CourseID, err)
	}
	now := micros(s.now())
	q := `INSERT INTO enrollments (student_id, course_id, moodle_enrolment_id, status, time_start, time_end, roles,
			progress_total, progress_completed, progress_percent, imported, deleted, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (student_id, course_id) DO UPDATE SET
			moodle_enrolment_id = COALESCE(excluded.moodle_enrolment_id, enrollments.moodle_enrolment_id),
			status = excluded.status,
			time_start = excluded.time_start,
			time_end = excluded.time_end,
			roles = excluded.roles,
			progress_total = CASE WHEN excluded.progress_percent IS NULL
				THEN enrollments.progress_total ELSE excluded.progress_total END,
			progress_completed = CASE WHEN excluded.progress_percent IS NULL
				THEN enrollments.progress_completed ELSE excluded.progress_completed END,
			progress_percent = COALESCE(excluded.progress_percent, enrollments.progress_percent),
			deleted = 0,
			updated_at = excluded.updated_at
		RETURNING ` + enrollmentColumns
	out, err := scanEnrollment(s.write.QueryRowContext(ctx, q, e.StudentID, e.CourseID, nullable(e.MoodleEnrolmentID),
		int(e.Status), timeIn(e.TimeStart), timeIn(e.TimeEnd), roles, e.Progress.Total, e.Progress.Completed,
		e.Progress.Percent, e.Imported, e.Deleted, now, now))
	if err != nil {
		return domain.Enrollment{}, fmt.Errorf("sqlite: upsert enrollment of student %d in course %d: %w",
			e.StudentID, e.CourseID, classifyReference(err))
	}
	return out, nil
}

// GetEnrollment returns the enrollment with id, or app.ErrNotFound.
func (s *Store) GetEnrollment(ctx context.Context, id int64) (domain.Enrollment, error) {
	e, err := scanEnrollment(s.read.QueryRowContext(ctx, `SELECT `+enrollmentColumns+` FROM enrollments WHERE id = ?`, id))
	if err != nil {
		return domain.Enrollment{}, fmt.Errorf("sqlite: get enrollment %d: %w", id, classify(err))
	}
	return e, nil
}

// UpdateEnrollment runs fn on the row, under the write lock, and saves every
// field but the id, the student, the course (the enrollment's identity) and
// the creation time.
func (s *Store) UpdateEnrollment(ctx context.Context, id int64, fn func(*domain.Enrollment) error) (domain.Enrollment, error) {
	var out domain.Enrollment
	err := s.transact(ctx, func(tx *sql.Tx) error {
		e, err := scanEnrollment(tx.QueryRowContext(ctx, `SELECT `+enrollmentColumns+` FROM enrollments WHERE id = ?`, id))
		if err != nil {
			return err
		}
		if err := fn(&e); err != nil {
			return err
		}
		roles, err := listIn(e.Roles)
		if err != nil {
			return fmt.Errorf("roles: %w", err)
		}
		out, err = scanEnrollment(tx.QueryRowContext(ctx, `UPDATE enrollments SET
				moodle_enrolment_id = ?, status = ?, time_start = ?, time_end = ?, roles = ?,
				progress_total = ?, progress_completed = ?, progress_percent = ?, imported = ?,
				deleted = ?, updated_at = ?
			WHERE id = ?
			RETURNING `+enrollmentColumns,
			nullable(e.MoodleEnrolmentID), int(e.Status), timeIn(e.TimeStart), timeIn(e.TimeEnd), roles,
			e.Progress.Total, e.Progress.Completed, e.Progress.Percent, e.Imported, e.Deleted, micros(s.now()), id))
		return err
	})
	if err != nil {
		return domain.Enrollment{}, fmt.Errorf("sqlite: update enrollment %d: %w", id, classify(err))
	}
	return out, nil
}

// classifyReference reads a foreign-key violation as a missing student or
// course.
func classifyReference(err error) error {
	if sqliteCode(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY {
		return fmt.Errorf("%w: %w", app.ErrNotFound, err)
	}
	return classify(err)
}
