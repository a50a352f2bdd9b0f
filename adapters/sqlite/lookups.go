package sqlite

import (
	"context"
	"fmt"

	"github.com/acme/notifier/domain"
)

// FindStudentByMoodleID returns the student linked to a Moodle user, or
// app.ErrNotFound.
func (s *Store) FindStudentByMoodleID(ctx context.Context, moodleUserID int64) (domain.Student, error) {
	st, err := scanStudent(s.read.QueryRowContext(ctx, `SELECT `+studentColumns+` FROM students WHERE moodle_user_id = ?`,
		moodleUserID))
	if err != nil {
		return domain.Student{}, fmt.Errorf("sqlite: find student of moodle user %d: %w", moodleUserID, classify(err))
	}
	return st, nil
}

// FindEnrollment returns the enrollment of a Moodle user in a Moodle course,
// or app.ErrNotFound.
func (s *Store) FindEnrollment(ctx context.Context, moodleUserID, moodleCourseID int64) (domain.Enrollment, error) {
	e, err := scanEnrollment(s.read.QueryRowContext(ctx, `SELECT `+enrollmentColumns+` FROM enrollments WHERE id = (
		SELECT e.id FROM enrollments e
		JOIN students s ON s.id = e.student_id JOIN courses c ON c.id = e.course_id
		WHERE s.moodle_user_id = ? AND c.moodle_course_id = ?)`, moodleUserID, moodleCourseID))
	if err != nil {
		return domain.Enrollment{}, fmt.Errorf("sqlite: find enrollment of moodle user %d in moodle course %d: %w",
			moodleUserID, moodleCourseID, classify(err))
	}
	return e, nil
}
