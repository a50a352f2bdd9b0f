package sqlite

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/acme/notifier/domain"
)

// Column lists, in the order the scan functions below read them.
const (
	studentColumns = `id, moodle_user_id, username, firstname, lastname, email, phone, lang, timezone,
		opted_out, contact_changed_at, created_at, updated_at`
	courseColumns     = `id, moodle_course_id, shortname, fullname, startdate, enddate, created_at, updated_at`
	enrollmentColumns = `id, student_id, course_id, moodle_enrolment_id, status, time_start, time_end, roles,
		progress_total, progress_completed, progress_percent, imported, deleted, created_at, updated_at`
	messageColumns = `id, rule, template, language, params, status, dry_run, student_id, moodle_user_id,
		course_id, moodle_course_id, enrollment_id, once_key, to_phone, provider_message_id, error_code,
		error_message, trigger_kind, trigger_ref, request, response, attempts, claimed_at, next_attempt_at,
		created_at, sent_at, delivered_at, read_at, failed_at`
)

// scanner is a *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

func scanStudent(row scanner) (domain.Student, error) {
	var d studentDest
	if err := row.Scan(d.targets()...); err != nil {
		return domain.Student{}, err
	}
	return d.value(), nil
}

// studentDest receives the columns of studentColumns, also when they are
// part of a longer row (a join).
type studentDest struct {
	s                           domain.Student
	moodleID, contactChanged    sql.NullInt64
	createdMicros, updatedMicro int64
}

func (d *studentDest) targets() []any {
	s := &d.s
	return []any{&s.ID, &d.moodleID, &s.Username, &s.FirstName, &s.LastName, &s.Email, &s.Phone, &s.Lang,
		&s.Timezone, &s.OptedOut, &d.contactChanged, &d.createdMicros, &d.updatedMicro}
}

func (d *studentDest) value() domain.Student {
	s := d.s
	s.MoodleUserID = d.moodleID.Int64
	s.ContactChangedAt = timeOut(d.contactChanged)
	s.CreatedAt, s.UpdatedAt = fromMicros(d.createdMicros), fromMicros(d.updatedMicro)
	return s
}

func scanCourse(row scanner) (domain.Course, error) {
	var d courseDest
	if err := row.Scan(d.targets()...); err != nil {
		return domain.Course{}, err
	}
	return d.value(), nil
}

// courseDest receives the columns of courseColumns.
type courseDest struct {
	c                      domain.Course
	start, end             sql.NullInt64
	createdMicros, updated int64
}

func (d *courseDest) targets() []any {
	c := &d.c
	return []any{&c.ID, &c.MoodleCourseID, &c.ShortName, &c.FullName, &d.start, &d.end, &d.createdMicros, &d.updated}
}

func (d *courseDest) value() domain.Course {
	c := d.c
	c.StartDate, c.EndDate = timeOut(d.start), timeOut(d.end)
	c.CreatedAt, c.UpdatedAt = fromMicros(d.createdMicros), fromMicros(d.updated)
	return c
}

func scanEnrollment(row scanner) (domain.Enrollment, error) {
	var d enrollmentDest
	if err := row.Scan(d.targets()...); err != nil {
		return domain.Enrollment{}, err
	}
	return d.value()
}

// enrollmentDest receives the columns of enrollmentColumns.
type enrollmentDest struct {
	e                          domain.Enrollment
	moodleID, start, end       sql.NullInt64
	roles                      string
	percent                    sql.NullFloat64
	createdMicros, updatedMics int64
}

func (d *enrollmentDest) targets() []any {
	e := &d.e
	return []any{&e.ID, &e.StudentID, &e.CourseID, &d.moodleID, &e.Status, &d.start, &d.end, &d.roles,
		&e.Progress.Total, &e.Progress.Completed, &d.percent, &e.Imported, &e.Deleted, &d.createdMicros, &d.updatedMics}
}

func (d *enrollmentDest) value() (domain.Enrollment, error) {
	e := d.e
	var err error
	if e.Roles, err = listOut(d.roles); err != nil {
		return domain.Enrollment{}, fmt.Errorf("enrollment %d: roles: %w", e.ID, err)
	}
	e.MoodleEnrolmentID = d.moodleID.Int64
	e.TimeStart, e.TimeEnd = timeOut(d.start), timeOut(d.end)
	if d.percent.Valid {
		pct := d.percent.Float64
		e.Progress.Percent = &pct
	}
	e.CreatedAt, e.UpdatedAt = fromMicros(d.createdMicros), fromMicros(d.updatedMics)
	return e, nil
}

func scanMessage(row scanner) (domain.MessageLog, error) {
	var (
		m                                              domain.MessageLog
		params                                         string
		moodleUser, moodleCourse                       sql.NullInt64
		once, to, providerID, errCode, errMsg          sql.NullString
		request, response                              sql.NullString
		claimed, next, sent, delivered, read, failedAt sql.NullInt64
		createdMicros                                  int64
	)
	err := row.Scan(&m.ID, &m.Rule, &m.Template, &m.Language, &params, &m.Status, &m.DryRun, &m.StudentID,
		&moodleUser, &m.CourseID, &moodleCourse, &m.EnrollmentID, &once, &to, &providerID, &errCode, &errMsg,
		&m.Trigger.Kind, &m.Trigger.Ref, &request, &response, &m.Attempts, &claimed, &next, &createdMicros,
		&sent, &delivered, &read, &failedAt)
	if err != nil {
		return domain.MessageLog{}, err
	}
	if m.Params, err = listOut(params); err != nil {
		return domain.MessageLog{}, fmt.Errorf("message %d: params: %w", m.ID, err)
	}
	m.MoodleUserID, m.MoodleCourseID = moodleUser.Int64, moodleCourse.Int64
	m.OnceKey, m.To, m.ProviderMessageID = once.String, to.String, providerID.String
	m.ErrorCode, m.ErrorMessage = errCode.String, errMsg.String
	m.Request, m.Response = rawOut(request), rawOut(response)
	m.ClaimedAt, m.NextAttemptAt = timeOut(claimed), timeOut(next)
	m.CreatedAt = fromMicros(createdMicros)
	m.SentAt, m.DeliveredAt, m.ReadAt, m.FailedAt = timeOut(sent), timeOut(delivered), timeOut(read), timeOut(failedAt)
	return m, nil
}

// messageArgs are the values of every column of messageColumns but id, in
// that order.
func messageArgs(m domain.MessageLog) ([]any, error) {
	params, err := listIn(m.Params)
	if err != nil {
		return nil, fmt.Errorf("params: %w", err)
	}
	return []any{
		m.Rule, m.Template, m.Language, params, string(m.Status), m.DryRun, m.StudentID, nullable(m.MoodleUserID),
		m.CourseID, nullable(m.MoodleCourseID), m.EnrollmentID, nullable(m.OnceKey), nullable(m.To),
		nullable(m.ProviderMessageID), nullable(m.ErrorCode), nullable(m.ErrorMessage),
		string(m.Trigger.Kind), m.Trigger.Ref, rawIn(m.Request), rawIn(m.Response), m.Attempts,
		timeIn(m.ClaimedAt), timeIn(m.NextAttemptAt), micros(m.CreatedAt),
		timeIn(m.SentAt), timeIn(m.DeliveredAt), timeIn(m.ReadAt), timeIn(m.FailedAt),
	}, nil
}

// micros is t as the database keeps it: microseconds since the Unix epoch,
// PostgreSQL's precision, so that both stores give back the same instants.
func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

// timeIn maps the zero time, which the domain uses for "none", to NULL.
func timeIn(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return micros(t)
}

func timeOut(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return fromMicros(v.Int64)
}

// nullable maps the zero value, which the domain uses for "none", to NULL.
func nullable[T comparable](v T) any {
	var zero T
	if v == zero {
		return nil
	}
	return v
}

// rawIn stores JSON as TEXT (STRICT tables refuse a BLOB there).
func rawIn(raw json.RawMessage) any {
	if len(raw) == 0 {
		return nil
	}
	return string(raw)
}

func rawOut(s sql.NullString) json.RawMessage {
	if !s.Valid {
		return nil
	}
	return json.RawMessage(s.String)
}

// listIn encodes a list column as a JSON array; nil is the empty array.
func listIn(list []string) (string, error) {
	if len(list) == 0 {
		return "[]", nil
	}
	b, err := json.Marshal(list)
	return string(b), err
}

// listOut decodes a list column; the empty array reads as nil.
func listOut(s string) ([]string, error) {
	var list []string
	if err := json.Unmarshal([]byte(s), &list); err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return nil, nil
	}
	return list, nil
}
