package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/acme/notifier/app"
	"github.com/acme/notifier/domain"
)

// EvaluateLocked loads what the rules look at, asks decide, and inserts the
// rows it returns, in one transaction that holds the file's write lock from
// its start: evaluations take turns, so the history each sees includes the
// rows of the one before (window rules); the partial unique index drops a
// second row of a once rule whatever happens.
func (s *Store) EvaluateLocked(ctx context.Context, enrollmentID int64,
	decide func(app.EnrollmentState) ([]domain.MessageLog, error)) ([]domain.MessageLog, error) {
	var created []domain.MessageLog
	err := s.transact(ctx, func(tx *sql.Tx) error {
		st, err := loadState(ctx, tx, enrollmentID)
		if err != nil {
			return err
		}
		rows, err := decide(st)
		if err != nil {
			return err
		}
		for _, m := range rows {
			inserted, ok, err := insertMessage(ctx, tx, m)
			if err != nil {
				return fmt.Errorf("insert %s message: %w", m.Rule, err)
			}
			if ok {
				created = append(created, inserted)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: evaluate enrollment %d: %w", enrollmentID, classify(err))
	}
	return created, nil
}

// loadState reads the enrollment, its student, course and history.
func loadState(ctx context.Context, tx *sql.Tx, enrollmentID int64) (app.EnrollmentState, error) {
	var st app.EnrollmentState
	var err error
	if st.Enrollment, err = scanEnrollment(tx.QueryRowContext(ctx,
		`SELECT `+enrollmentColumns+` FROM enrollments WHERE id = ?`, enrollmentID)); err != nil {
		return st, err
	}
	if st.Student, err = scanStudent(tx.QueryRowContext(ctx,
		`SELECT `+studentColumns+` FROM students WHERE id = ?`, st.Enrollment.StudentID)); err != nil {
		return st, fmt.Errorf("student %d: %w", st.Enrollment.StudentID, err)
	}
	if st.Course, err = scanCourse(tx.QueryRowContext(ctx,
		`SELECT `+courseColumns+` FROM courses WHERE id = ?`, st.Enrollment.CourseID)); err != nil {
		return st, fmt.Errorf("course %d: %w", st.Enrollment.CourseID, err)
	}
	st.History, err = history(ctx, tx, st.Enrollment.StudentID, st.Enrollment.CourseID)
	return st, err
}

// history lists the earlier rows of a student in a course, oldest first.
func history(ctx context.Context, tx *sql.Tx, studentID, courseID int64) ([]domain.PriorMessage, error) {
	rows, err := tx.QueryContext(ctx, `SELECT rule, template, status, error_code, created_at
		FROM message_logs WHERE student_id = ? AND course_id = ? ORDER BY id`, studentID, courseID)
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	defer rows.Close()
	var out []domain.PriorMessage
	for rows.Next() {
		var p domain.PriorMessage
		var code sql.NullString
		var created int64
		if err := rows.Scan(&p.Rule, &p.Template, &p.Status, &code, &created); err != nil {
			return nil, fmt.Errorf("history: %w", err)
		}
		p.ErrorCode, p.CreatedAt = code.String, fromMicros(created)
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	return out, nil
}

// insertMessage inserts m and returns the stored row; ok is false when the
// once-rule index already holds a row that counts for the same student,
// course and rule, and nothing was inserted.
func insertMessage(ctx context.Context, tx *sql.Tx, m domain.MessageLog) (domain.MessageLog, bool, error) {
	args, err := messageArgs(m)
	if err != nil {
		return domain.MessageLog{}, false, err
	}
	out, err := scanMessage(tx.QueryRowContext(ctx, `INSERT INTO message_logs (rule, template, language, params,
			status, dry_run, student_id, moodle_user_id, course_id, moodle_course_id, enrollment_id, once_key,
			to_phone, provider_message_id, error_code, error_message, trigger_kind, trigger_ref, request,
			response, attempts, claimed_at, next_attempt_at, created_at, sent_at, delivered_at, read_at, failed_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (student_id, course_id, once_key) WHERE once_key IS NOT NULL AND status <> 'FAILED'
		DO NOTHING
		RETURNING `+messageColumns, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return domain.MessageLog{}, false, nil
	}
	return out, err == nil, err
}
