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
	args, err := upsertEnrollmentArgs(e, micros(s.now()))
	if err != nil {
		return domain.Enrollment{}, fmt.Errorf("sqlite: upsert enrollment of student %d in course %d: %w",
			e.StudentID, e.CourseID, err)
	}
	out, err := scanEnrollment(s.writeRow(ctx, upsertEnrollmentSQL, args...))
	if err != nil {
		return domain.Enrollment{}, fmt.Errorf("sqlite: upsert enrollment of student %d in course %d: %w",
			e.StudentID, e.CourseID, classifyReference(err))
	}
	return out, nil
}

// UpsertEnrolled upserts the student as UpsertStudent does, the course as
// UpsertCourse does, and the enrollment of the one in the other as
// UpsertEnrollment does, with their prepared statements, in one
// transaction (BEGIN IMMEDIATE: one wait for the write lock, one commit).
// Both Moodle ids are required, as the PostgreSQL store requires them.
func (s *Store) UpsertEnrolled(ctx context.Context, st domain.Student, c domain.Course, e domain.Enrollment) (domain.Enrollment, error) {
	if st.MoodleUserID <= 0 || c.MoodleCourseID <= 0 {
		return domain.Enrollment{}, fmt.Errorf("sqlite: upsert enrollment of moodle user %d in moodle course %d: "+
			"both Moodle ids are required", st.MoodleUserID, c.MoodleCourseID)
	}
	var out domain.Enrollment
	err := s.transact(ctx, func(sqlTx *sql.Tx) error {
		tx := cachedTx{sqlTx, s.writeStmts}
		now := micros(s.now())
		student, err := scanStudent(tx.QueryRowContext(ctx, upsertStudentSQL, upsertStudentArgs(st, now)...))
		if err != nil {
			return fmt.Errorf("upsert student: %w", err)
		}
		course, err := scanCourse(tx.QueryRowContext(ctx, upsertCourseSQL, upsertCourseArgs(c, now)...))
		if err != nil {
			return fmt.Errorf("upsert course: %w", err)
		}
		e.StudentID, e.CourseID = student.ID, course.ID
		args, err := upsertEnrollmentArgs(e, now)
		if err != nil {
			return err
		}
		if out, err = scanEnrollment(tx.QueryRowContext(ctx, upsertEnrollmentSQL, args...)); err != nil {
			return fmt.Errorf("upsert enrollment: %w", err)
		}
		return nil
	})
	if err != nil {
		return domain.Enrollment{}, fmt.Errorf("sqlite: upsert enrollment of moodle user %d in moodle course %d: %w",
			st.MoodleUserID, c.MoodleCourseID, classifyReference(err))
	}
	return out, nil
}

// upsertEnrollmentSQL is UpsertEnrollment's statement; it returns the stored
// row (enrollmentColumns).
const upsertEnrollmentSQL = `INSERT INTO enrollments (student_id, course_id, moodle_enrolment_id, status, time_start,
		time_end, roles, progress_total, progress_completed, progress_percent, imported, deleted, created_at,
		updated_at)
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

// upsertEnrollmentArgs are upsertEnrollmentSQL's arguments, at now
// (micros). The roles may fail to encode.
func upsertEnrollmentArgs(e domain.Enrollment, now int64) ([]any, error) {
	roles, err := listIn(e.Roles)
	if err != nil {
		return nil, fmt.Errorf("roles: %w", err)
	}
	return []any{e.StudentID, e.CourseID, nullable(e.MoodleEnrolmentID), int(e.Status), timeIn(e.TimeStart),
		timeIn(e.TimeEnd), roles, e.Progress.Total, e.Progress.Completed, e.Progress.Percent, e.Imported,
		e.Deleted, now, now}, nil
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
