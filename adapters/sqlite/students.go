package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/acme/notifier/domain"
)

// UpsertStudent inserts the student, or updates the one with the same Moodle
// id. The opt-out is only written on insert: it belongs to the student, not
// to Moodle. ContactChangedAt moves when the phone changes.
func (s *Store) UpsertStudent(ctx context.Context, st domain.Student) (domain.Student, error) {
	out, err := scanStudent(s.writeRow(ctx, upsertStudentSQL, upsertStudentArgs(st, micros(s.now()))...))
	if err != nil {
		return domain.Student{}, fmt.Errorf("sqlite: upsert student (moodle user %d): %w", st.MoodleUserID, classify(err))
	}
	return out, nil
}

// upsertStudentSQL is UpsertStudent's statement; it returns the stored row
// (studentColumns).
const upsertStudentSQL = `INSERT INTO students (moodle_user_id, username, firstname, lastname, email, phone, lang,
		timezone, opted_out, contact_changed_at, created_at, updated_at)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
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

// upsertStudentArgs are upsertStudentSQL's arguments, at now (micros).
func upsertStudentArgs(st domain.Student, now int64) []any {
	return []any{nullable(st.MoodleUserID), st.Username, st.FirstName, st.LastName, st.Email, st.Phone, st.Lang,
		st.Timezone, st.OptedOut, now, now, now}
}

// GetStudent returns the student with id, or app.ErrNotFound.
func (s *Store) GetStudent(ctx context.Context, id int64) (domain.Student, error) {
	st, err := scanStudent(s.read.QueryRowContext(ctx, `SELECT `+studentColumns+` FROM students WHERE id = ?`, id))
	if err != nil {
		return domain.Student{}, fmt.Errorf("sqlite: get student %d: %w", id, classify(err))
	}
	return st, nil
}

// UpdateStudent runs fn on the row, under the write lock, and saves every
// field but the id and the creation time. A change of phone or opt-out
// moves ContactChangedAt to now.
func (s *Store) UpdateStudent(ctx context.Context, id int64, fn func(*domain.Student) error) (domain.Student, error) {
	var out domain.Student
	err := s.transact(ctx, func(tx *sql.Tx) error {
		before, err := scanStudent(tx.QueryRowContext(ctx, `SELECT `+studentColumns+` FROM students WHERE id = ?`, id))
		if err != nil {
			return err
		}
		after := before
		if err := fn(&after); err != nil {
			return err
		}
		now := s.now()
		if after.Phone != before.Phone || after.OptedOut != before.OptedOut {
			after.ContactChangedAt = now
		}
		out, err = scanStudent(tx.QueryRowContext(ctx, `UPDATE students SET
				moodle_user_id = ?, username = ?, firstname = ?, lastname = ?, email = ?, phone = ?,
				lang = ?, timezone = ?, opted_out = ?, contact_changed_at = ?, updated_at = ?
			WHERE id = ?
			RETURNING `+studentColumns,
			nullable(after.MoodleUserID), after.Username, after.FirstName, after.LastName, after.Email,
			after.Phone, after.Lang, after.Timezone, after.OptedOut, timeIn(after.ContactChangedAt), micros(now), id))
		return err
	})
	if err != nil {
		return domain.Student{}, fmt.Errorf("sqlite: update student %d: %w", id, classify(err))
	}
	return out, nil
}
