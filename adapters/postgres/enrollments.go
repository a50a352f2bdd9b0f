package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

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
	out, err := scanEnrollment(s.pool.QueryRow(ctx, upsertEnrollmentByIDSQL,
		upsertEnrollmentArgs(e.StudentID, e.CourseID, e, dbTime(s.now()))...))
	if err != nil {
		return domain.Enrollment{}, fmt.Errorf("postgres: upsert enrollment of student %d in course %d: %w",
			e.StudentID, e.CourseID, classifyReference(err))
	}
	return out, nil
}

// UpsertEnrolled upserts the student as UpsertStudent does, the course as
// UpsertCourse does, and the enrollment of the one in the other as
// UpsertEnrollment does, in one transaction and one round trip: BEGIN, the
// three statements and COMMIT go in one batch. The enrollment's statement
// finds the student and the course by their Moodle ids (so both are
// required), which the statements before it have just written. Like the
// other write transactions, it runs again when PostgreSQL aborts it for a
// serialization failure or a deadlock.
func (s *Store) UpsertEnrolled(ctx context.Context, st domain.Student, c domain.Course, e domain.Enrollment) (domain.Enrollment, error) {
	if st.MoodleUserID <= 0 || c.MoodleCourseID <= 0 {
		return domain.Enrollment{}, fmt.Errorf("postgres: upsert enrollment of moodle user %d in moodle course %d: "+
			"both Moodle ids are required", st.MoodleUserID, c.MoodleCourseID)
	}
	var out domain.Enrollment
	err := s.batchTransact(ctx, func(conn *pgxpool.Conn) error {
		now := dbTime(s.now())
		stmts := []query{upsertStudentQuery(st, now), upsertCourseQuery(c, now),
			{upsertEnrollmentByMoodleIDSQL, upsertEnrollmentArgs(st.MoodleUserID, c.MoodleCourseID, e, now)}}
		return transactWith(ctx, conn, stmts, func(br pgx.BatchResults) error {
			if _, err := br.Exec(); err != nil {
				return fmt.Errorf("upsert student: %w", err)
			}
			if _, err := br.Exec(); err != nil {
				return fmt.Errorf("upsert course: %w", err)
			}
			var err error
			if out, err = scanEnrollment(br.QueryRow()); err != nil {
				return fmt.Errorf("upsert enrollment: %w", err)
			}
			return nil
		})
	})
	if err != nil {
		return domain.Enrollment{}, fmt.Errorf("postgres: upsert enrollment of moodle user %d in moodle course %d: %w",
			st.MoodleUserID, c.MoodleCourseID, classifyReference(err))
	}
	return out, nil
}

// The enrollment upserts of UpsertEnrollment, by the student's and the
// course's ids ($1, $2), and of UpsertEnrolled, by their Moodle ids.
var (
	upsertEnrollmentByIDSQL       = upsertEnrollmentSQL("$1", "$2")
	upsertEnrollmentByMoodleIDSQL = upsertEnrollmentSQL(
		"(SELECT id FROM students WHERE moodle_user_id = $1)",
		"(SELECT id FROM courses WHERE moodle_course_id = $2)")
)

// upsertEnrollmentSQL is the enrollment upsert with the given expressions of
// $1 and $2 as the student's and the course's ids; it returns the stored row
// (enrollmentColumns).
func upsertEnrollmentSQL(studentID, courseID string) string {
	return `INSERT INTO enrollments (student_id, course_id, moodle_enrolment_id, status, time_start, time_end, roles,
			progress_total, progress_completed, progress_percent, imported, deleted, created_at, updated_at)
		VALUES (` + studentID + `, ` + courseID + `, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13)
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
			deleted = false,
			updated_at = excluded.updated_at
		RETURNING ` + enrollmentColumns
}

// upsertEnrollmentArgs are the arguments of an upsertEnrollmentSQL
// statement: $1 and $2 identify the student and the course, e gives the
// rest (not its StudentID and CourseID), now is dbTime.
func upsertEnrollmentArgs(student, course int64, e domain.Enrollment, now time.Time) []any {
	return []any{student, course, nullable(e.MoodleEnrolmentID), int16(e.Status), timeIn(e.TimeStart),
		timeIn(e.TimeEnd), nonNil(e.Roles), e.Progress.Total, e.Progress.Completed, e.Progress.Percent,
		e.Imported, e.Deleted, now}
}

// GetEnrollment returns the enrollment with id, or app.ErrNotFound.
func (s *Store) GetEnrollment(ctx context.Context, id int64) (domain.Enrollment, error) {
	e, err := scanEnrollment(s.pool.QueryRow(ctx, `SELECT `+enrollmentColumns+` FROM enrollments WHERE id = $1`, id))
	if err != nil {
		return domain.Enrollment{}, fmt.Errorf("postgres: get enrollment %d: %w", id, classify(err))
	}
	return e, nil
}

// UpdateEnrollment runs fn on the locked row and saves every field but the
// id, the student, the course (the enrollment's identity) and the creation
// time. Two round trips: BEGIN and the locking read, then the update and
// COMMIT.
func (s *Store) UpdateEnrollment(ctx context.Context, id int64, fn func(*domain.Enrollment) error) (domain.Enrollment, error) {
	var out domain.Enrollment
	err := s.batchTransact(ctx, func(c *pgxpool.Conn) error {
		var e domain.Enrollment
		err := beginWith(ctx, c, []query{{lockEnrollmentSQL, []any{id}}}, func(br pgx.BatchResults) error {
			var err error
			e, err = scanEnrollment(br.QueryRow())
			return err
		})
		if err != nil {
			return err
		}
		if err := fn(&e); err != nil {
			return err
		}
		return commitWith(ctx, c, []query{{`UPDATE enrollments SET
				moodle_enrolment_id = $2, status = $3, time_start = $4, time_end = $5, roles = $6,
				progress_total = $7, progress_completed = $8, progress_percent = $9, imported = $10,
				deleted = $11, updated_at = $12
			WHERE id = $1
			RETURNING ` + enrollmentColumns, []any{
			id, nullable(e.MoodleEnrolmentID), int16(e.Status), timeIn(e.TimeStart), timeIn(e.TimeEnd),
			nonNil(e.Roles), e.Progress.Total, e.Progress.Completed, e.Progress.Percent, e.Imported, e.Deleted,
			dbTime(s.now())}}}, func(br pgx.BatchResults) error {
			var err error
			out, err = scanEnrollment(br.QueryRow())
			return err
		})
	})
	if err != nil {
		return domain.Enrollment{}, fmt.Errorf("postgres: update enrollment %d: %w", id, classify(err))
	}
	return out, nil
}

// lockEnrollmentSQL reads the enrollment and locks it until the transaction
// ends. FOR NO KEY UPDATE excludes every other writer and locker of the
// row, as FOR UPDATE does, but not the foreign-key checks of rows that
// reference it: inserting a message row of this enrollment never waits for
// the lock. The stores' other row locks are taken the same way.
const lockEnrollmentSQL = `SELECT ` + enrollmentColumns + ` FROM enrollments WHERE id = $1 FOR NO KEY UPDATE`

// classifyReference reads a foreign-key violation as a missing student or
// course.
func classifyReference(err error) error {
	if pgCode(err) == "23503" {
		return fmt.Errorf("%w: %w", app.ErrNotFound, err)
	}
	return classify(err)
}
