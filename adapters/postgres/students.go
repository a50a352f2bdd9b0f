package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/acme/notifier/domain"
)

// UpsertStudent inserts the student, or updates the one with the same Moodle
// id. The opt-out is only written on insert: it belongs to the student, not
// to Moodle. ContactChangedAt moves when the phone changes.
func (s *Store) UpsertStudent(ctx context.Context, st domain.Student) (domain.Student, error) {
	q := upsertStudentQuery(st, dbTime(s.now()))
	out, err := scanStudent(s.pool.QueryRow(ctx, q.sql, q.args...))
	if err != nil {
		return domain.Student{}, fmt.Errorf("postgres: upsert student (moodle user %d): %w", st.MoodleUserID, classify(err))
	}
	return out, nil
}

// upsertStudentQuery is UpsertStudent's statement, at now (dbTime): it
// returns the stored row (studentColumns).
func upsertStudentQuery(st domain.Student, now time.Time) query {
	return query{upsertStudentSQL, []any{nullable(st.MoodleUserID), st.Username, st.FirstName, st.LastName,
		st.Email, st.Phone, st.Lang, st.Timezone, st.OptedOut, now}}
}

const upsertStudentSQL = `INSERT INTO students (moodle_user_id, username, firstname, lastname, email, phone, lang,
		timezone, opted_out, contact_changed_at, created_at, updated_at)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $10)
	ON CONFLICT (moodle_user_id) WHERE moodle_user_id IS NOT NULL DO UPDATE SET
		username = excluded.username,
		firstname = excluded.firstname,
		lastname = excluded.lastname,
		email = excluded.email,
		phone = excluded.phone,
		lang = excluded.lang,
		timezone = excluded.timezone,
		contact_changed_at = CASE WHEN students.phone <> excluded.phone
			THEN excluded.contact_changed_at ELSE students.contact_changed_at END,
		updated_at = excluded.updated_at
	RETURNING ` + studentColumns

// GetStudent returns the student with id, or app.ErrNotFound.
func (s *Store) GetStudent(ctx context.Context, id int64) (domain.Student, error) {
	st, err := scanStudent(s.pool.QueryRow(ctx, `SELECT `+studentColumns+` FROM students WHERE id = $1`, id))
	if err != nil {
		return domain.Student{}, fmt.Errorf("postgres: get student %d: %w", id, classify(err))
	}
	return st, nil
}

// UpdateStudent runs fn on the locked row and saves every field but the id
// and the creation time. A change of phone or opt-out moves
// ContactChangedAt to now.
func (s *Store) UpdateStudent(ctx context.Context, id int64, fn func(*domain.Student) error) (domain.Student, error) {
	var out domain.Student
	err := s.transact(ctx, func(tx pgx.Tx) error {
		before, err := scanStudent(tx.QueryRow(ctx, `SELECT `+studentColumns+` FROM students WHERE id = $1 FOR NO KEY UPDATE`, id))
		if err != nil {
			return err
		}
		after := before
		if err := fn(&after); err != nil {
			return err
		}
		now := dbTime(s.now())
		if after.Phone != before.Phone || after.OptedOut != before.OptedOut {
			after.ContactChangedAt = now
		}
		out, err = scanStudent(tx.QueryRow(ctx, `UPDATE students SET
				moodle_user_id = $2, username = $3, firstname = $4, lastname = $5, email = $6, phone = $7,
				lang = $8, timezone = $9, opted_out = $10, contact_changed_at = $11, updated_at = $12
			WHERE id = $1
			RETURNING `+studentColumns,
			id, nullable(after.MoodleUserID), after.Username, after.FirstName, after.LastName, after.Email,
			after.Phone, after.Lang, after.Timezone, after.OptedOut, timeIn(after.ContactChangedAt), now))
		return err
	})
	if err != nil {
		return domain.Student{}, fmt.Errorf("postgres: update student %d: %w", id, classify(err))
	}
	return out, nil
}
