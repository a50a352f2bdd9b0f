package postgres

import (
	"context"
	"fmt"

	"github.com/acme/notifier/domain"
)

// FindStudentByMoodleID returns the student linked to a Moodle user, or
// app.ErrNotFound.
func (s *Store) FindStudentByMoodleID(ctx context.Context, moodleUserID int64) (domain.Student, error) {
	st, err := scanStudent(s.pool.QueryRow(ctx, `SELECT `+studentColumns+` FROM students WHERE moodle_user_id = $1`,
		moodleUserID))
	if err != nil {
		return domain.Student{}, fmt.Errorf("postgres: find student of moodle user %d: %w", moodleUserID, classify(err))
	}
	return st, nil
}

// FindEnrollment returns the enrollment of a Moodle user in a Moodle course,
// or app.ErrNotFound.
func (s *Store) FindEnrollment(ctx context.Context, moodleUserID, moodleCourseID int64) (domain.Enrollment, error) {
	e, err := scanEnrollment(s.pool.QueryRow(ctx, `SELECT `+enrollmentColumns+` FROM enrollments WHERE id = (
		SELECT e.id FROM enrollments e
		JOIN students s ON s.id = e.student_id JOIN courses c ON c.id = e.course_id
		WHERE s.moodle_user_id = $1 AND c.moodle_course_id = $2)`, moodleUserID, moodleCourseID))
	if err != nil {
		return domain.Enrollment{}, fmt.Errorf("postgres: find enrollment of moodle user %d in moodle course %d: %w",
			moodleUserID, moodleCourseID, classify(err))
	}
	return e, nil
}
