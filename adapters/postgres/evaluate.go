package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/acme/notifier/app"
	"github.com/acme/notifier/domain"
)

// EvaluateLocked locks the enrollment row, loads what the rules look at,
// stores the progress it is given when it differs, asks decide, and inserts
// the rows it returns, in one transaction. The row lock serialises
// evaluations of the same enrollment, so the history each sees includes the
// rows of the one before (window rules); the partial unique index drops a
// second row of a once rule whatever happens.
//
// It costs two round trips: BEGIN, the lock (joined with the student and
// the course) and the history in one; the progress update, the inserts and
// COMMIT in the other. The history is a statement of its own that runs
// after the lock is granted, so it sees every row committed before (READ
// COMMITTED).
func (s *Store) EvaluateLocked(ctx context.Context, enrollmentID int64, progress *domain.Progress,
	decide func(app.EnrollmentState) ([]domain.MessageLog, error)) ([]domain.MessageLog, error) {
	var created []domain.MessageLog
	err := s.batchTransact(ctx, func(c *pgxpool.Conn) error {
		created = nil // the transaction may run again
		st, err := lockState(ctx, c, enrollmentID)
		if err != nil {
			return err
		}
		var stmts []query
		update := progress != nil && !progress.Equal(st.Enrollment.Progress)
		if update {
			// decide sees the enrollment as the update leaves it.
			p, now := *progress, dbTime(s.now())
			st.Enrollment.Progress, st.Enrollment.UpdatedAt = p, now
			stmts = append(stmts, query{updateProgressSQL, []any{enrollmentID, p.Total, p.Completed, p.Percent, now}})
		}
		rows, err := decide(st)
		if err != nil {
			return err
		}
		for _, m := range rows {
			args, err := messageArgs(m)
			if err != nil {
				return fmt.Errorf("insert %s message: %w", m.Rule, err)
			}
			stmts = append(stmts, query{insertMessageSQL, args})
		}
		return commitWith(ctx, c, stmts, func(br pgx.BatchResults) error {
			if update {
				if _, err := br.Exec(); err != nil {
					return fmt.Errorf("store progress: %w", err)
				}
			}
			for _, m := range rows {
				inserted, err := scanMessage(br.QueryRow())
				if errors.Is(err, pgx.ErrNoRows) {
					continue // the once-rule index holds a row that counts
				}
				if err != nil {
					return fmt.Errorf("insert %s message: %w", m.Rule, err)
				}
				created = append(created, inserted)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: evaluate enrollment %d: %w", enrollmentID, classify(err))
	}
	return created, nil
}

// updateProgressSQL stores an enrollment's progress; the row is locked.
const updateProgressSQL = `UPDATE enrollments SET progress_total = $2, progress_completed = $3,
	progress_percent = $4, updated_at = $5 WHERE id = $1`

// lockState begins the transaction, locks the enrollment and reads its
// student, course and history, in one round trip.
func lockState(ctx context.Context, c *pgxpool.Conn, enrollmentID int64) (app.EnrollmentState, error) {
	var st app.EnrollmentState
	err := beginWith(ctx, c, []query{{lockStateSQL, []any{enrollmentID}}, {historySQL, []any{enrollmentID}}},
		func(br pgx.BatchResults) error {
			var (
				e  enrollmentDest
				sd studentDest
				cd courseDest
			)
			if err := br.QueryRow().Scan(joinTargets(&e, &sd, &cd)...); err != nil {
				return err
			}
			st.Enrollment, st.Student, st.Course = e.value(), sd.value(), cd.value()
			rows, err := br.Query()
			if err != nil {
				return fmt.Errorf("history: %w", err)
			}
			st.History, err = collectHistory(rows)
			return err
		})
	return st, err
}

// lockStateSQL locks the enrollment (only its row: FOR NO KEY UPDATE, see
// lockEnrollment) and reads it with its student and course.
var lockStateSQL = `SELECT ` + qualify("e", enrollmentColumns) + `, ` + qualify("s", studentColumns) + `, ` +
	qualify("c", courseColumns) + `
	FROM enrollments e JOIN students s ON s.id = e.student_id JOIN courses c ON c.id = e.course_id
	WHERE e.id = $1 FOR NO KEY UPDATE OF e`

// historySQL lists the earlier rows of the enrollment's student in its
// course, oldest first. An enrollment's student and course never change.
const historySQL = `SELECT rule, template, status, error_code, created_at FROM message_logs
	WHERE (student_id, course_id) = (SELECT student_id, course_id FROM enrollments WHERE id = $1)
	ORDER BY id`

func collectHistory(rows pgx.Rows) ([]domain.PriorMessage, error) {
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

// ReadEnrollmentStates implements app.Store: the enrollments, their
// students, courses and histories, without a lock, from one statement (one
// snapshot for them all).
func (s *Store) ReadEnrollmentStates(ctx context.Context, enrollmentIDs ...int64) (map[int64]app.EnrollmentState, error) {
	states := make(map[int64]app.EnrollmentState, len(enrollmentIDs))
	if len(enrollmentIDs) == 0 {
		return states, nil
	}
	rows, err := s.pool.Query(ctx, readStatesSQL, enrollmentIDs)
	if err != nil {
		return nil, fmt.Errorf("postgres: read %d enrollments: %w", len(enrollmentIDs), classify(err))
	}
	defer rows.Close()
	for rows.Next() {
		var (
			e                               enrollmentDest
			sd                              studentDest
			cd                              courseDest
			rule, template, status, errCode *string
			created                         *time.Time
		)
		if err := rows.Scan(append(joinTargets(&e, &sd, &cd), &rule, &template, &status, &errCode, &created)...); err != nil {
			return nil, fmt.Errorf("postgres: read %d enrollments: %w", len(enrollmentIDs), classify(err))
		}
		st, seen := states[e.e.ID]
		if !seen {
			st = app.EnrollmentState{Enrollment: e.value(), Student: sd.value(), Course: cd.value()}
		}
		if rule != nil {
			st.History = append(st.History, domain.PriorMessage{Rule: *rule, Template: value(template),
				Status: domain.Status(value(status)), ErrorCode: value(errCode), CreatedAt: timeOut(created)})
		}
		states[e.e.ID] = st
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: read %d enrollments: %w", len(enrollmentIDs), classify(err))
	}
	return states, nil
}

// readStatesSQL is each enrollment, its student and course once per earlier
// row of its history (once with NULLs when there is none), oldest first.
var readStatesSQL = `SELECT ` + qualify("e", enrollmentColumns) + `, ` + qualify("s", studentColumns) + `, ` +
	qualify("c", courseColumns) + `, m.rule, m.template, m.status, m.error_code, m.created_at
	FROM enrollments e JOIN students s ON s.id = e.student_id JOIN courses c ON c.id = e.course_id
	LEFT JOIN message_logs m ON m.student_id = e.student_id AND m.course_id = e.course_id
	WHERE e.id = ANY($1)
	ORDER BY e.id, m.id`

func joinTargets(e *enrollmentDest, s *studentDest, c *courseDest) []any {
	return append(append(e.targets(), s.targets()...), c.targets()...)
}

// qualify prefixes every column of a column list with a table alias.
func qualify(alias, columns string) string {
	parts := strings.Split(columns, ",")
	for i, p := range parts {
		parts[i] = alias + "." + strings.TrimSpace(p)
	}
	return strings.Join(parts, ", ")
}

// insertMessageSQL inserts a row unless the once-rule index holds one that
// counts, and returns it (no row when nothing was inserted).
const insertMessageSQL = `INSERT INTO message_logs (rule, template, language, params, status,
		dry_run, student_id, moodle_user_id, course_id, moodle_course_id, enrollment_id, once_key, to_phone,
		provider_message_id, error_code, error_message, trigger_kind, trigger_ref, request, response,
		attempts, claimed_at, next_attempt_at, created_at, sent_at, delivered_at, read_at, failed_at)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20,
		$21, $22, $23, $24, $25, $26, $27, $28)
	ON CONFLICT (student_id, course_id, once_key) WHERE once_key IS NOT NULL AND status <> 'FAILED'
	DO NOTHING
	RETURNING ` + messageColumns
