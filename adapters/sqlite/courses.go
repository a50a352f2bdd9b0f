package sqlite

import (
	"context"
	"errors"
	"fmt"

	"github.com/acme/notifier/domain"
)

// UpsertCourse inserts the course, or updates the one with the same Moodle
// id. Every course comes from Moodle, so the Moodle id is required.
func (s *Store) UpsertCourse(ctx context.Context, c domain.Course) (domain.Course, error) {
	if c.MoodleCourseID <= 0 {
		return domain.Course{}, errors.New("sqlite: upsert course: a Moodle course id is required")
	}
	out, err := scanCourse(s.writeRow(ctx, upsertCourseSQL, upsertCourseArgs(c, micros(s.now()))...))
	if err != nil {
		return domain.Course{}, fmt.Errorf("sqlite: upsert course (moodle course %d): %w", c.MoodleCourseID, classify(err))
	}
	return out, nil
}

// upsertCourseSQL is UpsertCourse's statement; it returns the stored row
// (courseColumns).
const upsertCourseSQL = `INSERT INTO courses (moodle_course_id, shortname, fullname, startdate, enddate, created_at,
		updated_at)
	VALUES (?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (moodle_course_id) DO UPDATE SET
		shortname = excluded.shortname,
		fullname = excluded.fullname,
		startdate = excluded.startdate,
		enddate = excluded.enddate,
		updated_at = excluded.updated_at
	RETURNING ` + courseColumns

// upsertCourseArgs are upsertCourseSQL's arguments, at now (micros).
func upsertCourseArgs(c domain.Course, now int64) []any {
	return []any{c.MoodleCourseID, c.ShortName, c.FullName, timeIn(c.StartDate), timeIn(c.EndDate), now, now}
}

// GetCourse returns the course with id, or app.ErrNotFound.
func (s *Store) GetCourse(ctx context.Context, id int64) (domain.Course, error) {
	c, err := scanCourse(s.read.QueryRowContext(ctx, `SELECT `+courseColumns+` FROM courses WHERE id = ?`, id))
	if err != nil {
		return domain.Course{}, fmt.Errorf("sqlite: get course %d: %w", id, classify(err))
	}
	return c, nil
}
