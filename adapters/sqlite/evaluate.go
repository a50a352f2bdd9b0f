package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/acme/notifier/app"
	"github.com/acme/notifier/domain"
)

// EvaluateLocked loads what the rules look at, stores the progress it is
// given when it differs, asks decide, and inserts the rows it returns, in
// one transaction that holds the file's write lock from its start:
// evaluations take turns, so the history each sees includes the rows of the
// one before (window rules); the partial unique index drops a second row of
// a once rule whatever happens.
func (s *Store) EvaluateLocked(ctx context.Context, enrollmentID int64, progress *domain.Progress,
	decide func(app.EnrollmentState) ([]domain.MessageLog, error)) ([]domain.MessageLog, error) {
	var created []domain.MessageLog
	err := s.transact(ctx, func(sqlTx *sql.Tx) error {
		tx := cachedTx{sqlTx, s.writeStmts}
		st, err := loadState(ctx, tx, enrollmentID)
		if err != nil {
			return err
		}
		update := progress != nil && !progress.Equal(st.Enrollment.Progress)
		if update {
			// decide sees the enrollment as the update leaves it.
			now := fromMicros(micros(s.now()))
			st.Enrollment.Progress, st.Enrollment.UpdatedAt = *progress, now
		}
		rows, err := decide(st)
		if err != nil {
			return err
		}
		if update {
			p := st.Enrollment.Progress
			if _, err := tx.ExecContext(ctx, updateProgressSQL, p.Total, p.Completed, p.Percent,
				micros(st.Enrollment.UpdatedAt), enrollmentID); err != nil {
				return fmt.Errorf("store progress: %w", err)
			}
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

// ReadEnrollmentStates implements app.Store: each enrollment, its
// student, course and history from one statement (one snapshot) on the read
// pool, without taking the write lock. SQLite answers in process, so the
// enrollments are read one after the other with the prepared statement.
func (s *Store) ReadEnrollmentStates(ctx context.Context, enrollmentIDs ...int64) (map[int64]app.EnrollmentState, error) {
	states := make(map[int64]app.EnrollmentState, len(enrollmentIDs))
	for _, id := range enrollmentIDs {
		st, err := s.readState(ctx, id)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("sqlite: read enrollment %d: %w", id, classify(err))
		}
		states[id] = st
	}
	return states, nil
}

func (s *Store) readState(ctx context.Context, enrollmentID int64) (app.EnrollmentState, error) {
	var st app.EnrollmentState
	var rows *sql.Rows
	var err error
	if stmt := s.readStmts.get(readStateSQL); stmt != nil {
		rows, err = stmt.QueryContext(ctx, enrollmentID)
	} else {
		rows, err = s.read.QueryContext(ctx, readStateSQL, enrollmentID)
	}
	if err != nil {
		return st, err
	}
	defer rows.Close()
	found := false
	for rows.Next() {
		var (
			e                               enrollmentDest
			sd                              studentDest
			cd                              courseDest
			rule, template, status, errCode sql.NullString
			created                         sql.NullInt64
		)
		targets := append(append(append(e.targets(), sd.targets()...), cd.targets()...),
			&rule, &template, &status, &errCode, &created)
		if err := rows.Scan(targets...); err != nil {
			return st, err
		}
		if !found {
			if st.Enrollment, err = e.value(); err != nil {
				return st, err
			}
			st.Student, st.Course, found = sd.value(), cd.value(), true
		}
		if rule.Valid {
			st.History = append(st.History, domain.PriorMessage{Rule: rule.String, Template: template.String,
				Status: domain.Status(status.String), ErrorCode: errCode.String, CreatedAt: fromMicros(created.Int64)})
		}
	}
	if err := rows.Err(); err != nil {
		return st, err
	}
	if !found {
		return st, sql.ErrNoRows
	}
	return st, nil
}

// readStateSQL is the enrollment, student and course once per earlier row
// of the history (once with NULLs when there is none), oldest first.
var readStateSQL = `SELECT ` + qualify("e", enrollmentColumns) + `, ` + qualify("s", studentColumns) + `, ` +
	qualify("c", courseColumns) + `, m.rule, m.template, m.status, m.error_code, m.created_at
	FROM enrollments e JOIN students s ON s.id = e.student_id JOIN courses c ON c.id = e.course_id
	LEFT JOIN message_logs m ON m.student_id = e.student_id AND m.course_id = e.course_id
	WHERE e.id = ?
	ORDER BY m.id`

// qualify prefixes every column of a column list with a table alias.
func qualify(alias, columns string) string {
	parts := strings.Split(columns, ",")
	for i, p := range parts {
		parts[i] = alias + "." + strings.TrimSpace(p)
	}
	return strings.Join(parts, ", ")
}

// loadState reads the enrollment, its student, course and history.
func loadState(ctx context.Context, tx txQuerier, enrollmentID int64) (app.EnrollmentState, error) {
	var st app.EnrollmentState
	var err error
	if st.Enrollment, err = scanEnrollment(tx.QueryRowContext(ctx, enrollmentByIDSQL, enrollmentID)); err != nil {
		return st, err
	}
	if st.Student, err = scanStudent(tx.QueryRowContext(ctx, studentByIDSQL, st.Enrollment.StudentID)); err != nil {
		return st, fmt.Errorf("student %d: %w", st.Enrollment.StudentID, err)
	}
	if st.Course, err = scanCourse(tx.QueryRowContext(ctx, courseByIDSQL, st.Enrollment.CourseID)); err != nil {
		return st, fmt.Errorf("course %d: %w", st.Enrollment.CourseID, err)
	}
	st.History, err = history(ctx, tx, st.Enrollment.StudentID, st.Enrollment.CourseID)
	return st, err
}

// history lists the earlier rows of a student in a course, oldest first.
func history(ctx context.Context, tx txQuerier, studentID, courseID int64) ([]domain.PriorMessage, error) {
	rows, err := tx.QueryContext(ctx, historySQL, studentID, courseID)
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
func insertMessage(ctx context.Context, tx txQuerier, m domain.MessageLog) (domain.MessageLog, bool, error) {
	args, err := messageArgs(m)
	if err != nil {
		return domain.MessageLog{}, false, err
	}
	out, err := scanMessage(tx.QueryRowContext(ctx, insertMessageSQL, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return domain.MessageLog{}, false, nil
	}
	return out, err == nil, err
}

// The statements of an evaluation, prepared once (see stmtCache).
const (
	enrollmentByIDSQL = `SELECT ` + enrollmentColumns + ` FROM enrollments WHERE id = ?`
	studentByIDSQL    = `SELECT ` + studentColumns + ` FROM students WHERE id = ?`
	courseByIDSQL     = `SELECT ` + courseColumns + ` FROM courses WHERE id = ?`
	historySQL        = `SELECT rule, template, status, error_code, created_at
		FROM message_logs WHERE student_id = ? AND course_id = ? ORDER BY id`
	updateProgressSQL = `UPDATE enrollments SET progress_total = ?, progress_completed = ?,
		progress_percent = ?, updated_at = ? WHERE id = ?`
	insertMessageSQL = `INSERT INTO message_logs (rule, template, language, params,
			status, dry_run, student_id, moodle_user_id, course_id, moodle_course_id, enrollment_id, once_key,
			to_phone, provider_message_id, error_code, error_message, trigger_kind, trigger_ref, request,
			response, attempts, claimed_at, next_attempt_at, created_at, sent_at, delivered_at, read_at, failed_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (student_id, course_id, once_key) WHERE once_key IS NOT NULL AND status <> 'FAILED'
		DO NOTHING
		RETURNING ` + messageColumns
)
