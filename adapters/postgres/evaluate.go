package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/acme/notifier/app"
	"github.com/acme/notifier/domain"
)

// EvaluateLocked locks the enrollment row, loads what the rules look at,
// asks decide, and inserts the rows it returns, in one transaction. The row
// lock serialises evaluations of the same enrollment, so the history each
// sees includes the rows of the one before (window rules); the partial
// unique index drops a second row of a once rule whatever happens.
func (s *Store) EvaluateLocked(ctx context.Context, enrollmentID int64,
	decide func(app.EnrollmentState) ([]domain.MessageLog, error)) ([]domain.MessageLog, error) {
	var created []domain.MessageLog
	err := s.transact(ctx, func(tx pgx.Tx) error {
		created = nil // the transaction may run again
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
		return nil, fmt.Errorf("postgres: evaluate enrollment %d: %w", enrollmentID, classify(err))
	}
	return created, nil
}

// loadState locks the enrollment and reads its student, course and history.
func loadState(ctx context.Context, tx pgx.Tx, enrollmentID int64) (app.EnrollmentState, error) {
	var st app.EnrollmentState
	var err error
	if st.Enrollment, err = lockEnrollment(ctx, tx, enrollmentID); err != nil {
		return st, err
	}
	if st.Student, err = scanStudent(tx.QueryRow(ctx,
		`SELECT `+studentColumns+` FROM students WHERE id = $1`, st.Enrollment.StudentID)); err != nil {
		return st, fmt.Errorf("student %d: %w", st.Enrollment.StudentID, err)
	}
	if st.Course, err = scanCourse(tx.QueryRow(ctx,
		`SELECT `+courseColumns+` FROM courses WHERE id = $1`, st.Enrollment.CourseID)); err != nil {
		return st, fmt.Errorf("course %d: %w", st.Enrollment.CourseID, err)
	}
	st.History, err = history(ctx, tx, st.Enrollment.StudentID, st.Enrollment.CourseID)
	return st, err
}

// history lists the earlier rows of a student in a course, oldest first.
func history(ctx context.Context, tx pgx.Tx, studentID, courseID int64) ([]domain.PriorMessage, error) {
	rows, err := tx.Query(ctx, `SELECT rule, template, status, error_code, created_at
		FROM message_logs WHERE student_id = $1 AND course_id = $2 ORDER BY id`, studentID, courseID)
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (domain.PriorMessage, error) {
		var p domain.PriorMessage
		var code *string
		err := row.Scan(&p.Rule, &p.Template, &p.Status, &code, &p.CreatedAt)
		p.ErrorCode, p.CreatedAt = value(code), p.CreatedAt.UTC()
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	return out, nil
}

// insertMessage inserts m and returns the stored row; ok is false when the
// once-rule index already holds a row that counts for the same student,
// course and rule, and nothing was inserted.
func insertMessage(ctx context.Context, tx pgx.Tx, m domain.MessageLog) (domain.MessageLog, bool, error) {
	args, err := messageArgs(m)
	if err != nil {
		return domain.MessageLog{}, false, err
	}
	out, err := scanMessage(tx.QueryRow(ctx, `INSERT INTO message_logs (rule, template, language, params, status,
			dry_run, student_id, moodle_user_id, course_id, moodle_course_id, enrollment_id, once_key, to_phone,
			provider_message_id, error_code, error_message, trigger_kind, trigger_ref, request, response,
			attempts, claimed_at, next_attempt_at, created_at, sent_at, delivered_at, read_at, failed_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20,
			$21, $22, $23, $24, $25, $26, $27, $28)
		ON CONFLICT (student_id, course_id, once_key) WHERE once_key IS NOT NULL AND status <> 'FAILED'
		DO NOTHING
		RETURNING `+messageColumns, args...))
	if errors.Is(err, pgx.ErrNoRows) {
		return domain.MessageLog{}, false, nil
	}
	return out, err == nil, err
}
