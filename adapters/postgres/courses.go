package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/acme/notifier/domain"
)

// UpsertCourse inserts the course, or updates the one with the same Moodle
// id. Every course comes from Moodle, so the Moodle id is required.
func (s *Store) UpsertCourse(ctx context.Context, c domain.Course) (domain.Course, error) {
	if c.MoodleCourseID <= 0 {
		return domain.Course{}, errors.New("postgres: upsert course: a Moodle course id is required")
	}
	q := upsertCourseQuery(c, dbTime(s.now()))
	out, err := scanCourse(s.pool.QueryRow(ctx, q.sql, q.args...))
	if err != nil {
		return domain.Course{}, fmt.Errorf("postgres: upsert course (moodle course %d): %w", c.MoodleCourseID, classify(err))
	}
	return out, nil
}

// upsertCourseQuery is UpsertCourse's statement, at now (dbTime): it returns
// the stored row (courseColumns).
func upsertCourseQuery(c domain.Course, now time.Time) query {
	return query{upsertCourseSQL, []any{c.MoodleCourseID, c.ShortName, c.FullName, timeIn(c.StartDate),
		timeIn(c.EndDate), now}}
}

const upsertCourseSQL = `INSERT INTO courses (moodle_course_id, shortname, fullname, startdate, enddate, created_at,
		updated_at)
	VALUES ($1, $2, $3, $4, $5, $6, $6)
	ON CONFLICT (moodle_course_id) DO UPDATE SET
		shortname = excluded.shortname,
		fullname = excluded.fullname,
		startdate = excluded.startdate,
		enddate = excluded.enddate,
		updated_at = excluded.updated_at
	RETURNING ` + courseColumns

// GetCourse returns the course with id, or app.ErrNotFound.
func (s *Store) GetCourse(ctx context.Context, id int64) (domain.Course, error) {
	c, err := scanCourse(s.pool.QueryRow(ctx, `SELECT `+courseColumns+` FROM courses WHERE id = $1`, id))
	if err != nil {
		return domain.Course{}, fmt.Errorf("postgres: get course %d: %w", id, classify(err))
	}
	return c, nil
}
