package postgres

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/acme/notifier/domain"
)

// Column lists, in the order the scan functions below read them.
const (
	studentColumns = `id, moodle_user_id, username, firstname, lastname, email, phone, lang, timezone,
		opted_out, contact_changed_at, created_at, updated_at`
	courseColumns = `id, moodle_course_id, shortname, fullname, startdate, enddate, created_at, updated_at`
	// enrollmentColumns leaves out nothing: the rules see the whole row.
	enrollmentColumns = `id, student_id, course_id, moodle_enrolment_id, status, time_start, time_end, roles,
		progress_total, progress_completed, progress_percent, imported, deleted, created_at, updated_at`
	messageColumns = `id, rule, template, language, params, status, dry_run, student_id, moodle_user_id,
		course_id, moodle_course_id, enrollment_id, once_key, to_phone, provider_message_id, error_code,
		error_message, trigger_kind, trigger_ref, request, response, attempts, claimed_at, next_attempt_at,
		created_at, sent_at, delivered_at, read_at, failed_at`
)

func scanStudent(row pgx.Row) (domain.Student, error) {
	var d studentDest
	if err := row.Scan(d.targets()...); err != nil {
		return domain.Student{}, err
	}
	return d.value(), nil
}

// studentDest receives the columns of studentColumns, also when they are
// part of a longer row (a join).
type studentDest struct {
	s              domain.Student
	moodleID       *int64
	contactChanged *time.Time
}

func (d *studentDest) targets() []any {
	s := &d.s
	return []any{&s.ID, &d.moodleID, &s.Username, &s.FirstName, &s.LastName, &s.Email, &s.Phone, &s.Lang,
		&s.Timezone, &s.OptedOut, &d.contactChanged, &s.CreatedAt, &s.UpdatedAt}
}

func (d *studentDest) value() domain.Student {
	s := d.s
	s.MoodleUserID = value(d.moodleID)
	s.ContactChangedAt = timeOut(d.contactChanged)
	s.CreatedAt, s.UpdatedAt = s.CreatedAt.UTC(), s.UpdatedAt.UTC()
	return s
}

func scanCourse(row pgx.Row) (domain.Course, error) {
	var d courseDest
	if err := row.Scan(d.targets()...); err != nil {
		return domain.Course{}, err
	}
	return d.value(), nil
}

// courseDest receives the columns of courseColumns.
type courseDest struct {
	c          domain.Course
	start, end *time.Time
}

func (d *courseDest) targets() []any {
	c := &d.c
	return []any{&c.ID, &c.MoodleCourseID, &c.ShortName, &c.FullName, &d.start, &d.end, &c.CreatedAt, &c.UpdatedAt}
}

func (d *courseDest) value() domain.Course {
	c := d.c
	c.StartDate, c.EndDate = timeOut(d.start), timeOut(d.end)
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	return c
}

func scanEnrollment(row pgx.Row) (domain.Enrollment, error) {
	var d enrollmentDest
	if err := row.Scan(d.targets()...); err != nil {
		return domain.Enrollment{}, err
	}
	return d.value(), nil
}

// enrollmentDest receives the columns of enrollmentColumns.
type enrollmentDest struct {
	e          domain.Enrollment
	moodleID   *int64
	start, end *time.Time
}

func (d *enrollmentDest) targets() []any {
	e := &d.e
	return []any{&e.ID, &e.StudentID, &e.CourseID, &d.moodleID, &e.Status, &d.start, &d.end, &e.Roles,
		&e.Progress.Total, &e.Progress.Completed, &e.Progress.Percent, &e.Imported, &e.Deleted,
		&e.CreatedAt, &e.UpdatedAt}
}

func (d *enrollmentDest) value() domain.Enrollment {
	e := d.e
	e.MoodleEnrolmentID = value(d.moodleID)
	e.TimeStart, e.TimeEnd = timeOut(d.start), timeOut(d.end)
	if len(e.Roles) == 0 {
		e.Roles = nil
	}
	e.CreatedAt, e.UpdatedAt = e.CreatedAt.UTC(), e.UpdatedAt.UTC()
	return e
}

func scanMessage(row pgx.Row) (domain.MessageLog, error) {
	var (
		m                                              domain.MessageLog
		params                                         []byte
		moodleUser, moodleCourse                       *int64
		once, to, providerID, errCode, errMsg          *string
		request, response                              []byte
		claimed, next, sent, delivered, read, failedAt *time.Time
	)
	err := row.Scan(&m.ID, &m.Rule, &m.Template, &m.Language, &params, &m.Status, &m.DryRun, &m.StudentID,
		&moodleUser, &m.CourseID, &moodleCourse, &m.EnrollmentID, &once, &to, &providerID, &errCode, &errMsg,
		&m.Trigger.Kind, &m.Trigger.Ref, &request, &response, &m.Attempts, &claimed, &next, &m.CreatedAt,
		&sent, &delivered, &read, &failedAt)
	if err != nil {
		return domain.MessageLog{}, err
	}
	if err := json.Unmarshal(params, &m.Params); err != nil {
		return domain.MessageLog{}, fmt.Errorf("message %d: params: %w", m.ID, err)
	}
	if len(m.Params) == 0 {
		m.Params = nil
	}
	m.MoodleUserID, m.MoodleCourseID = value(moodleUser), value(moodleCourse)
	m.OnceKey, m.To, m.ProviderMessageID = value(once), value(to), value(providerID)
	m.ErrorCode, m.ErrorMessage = value(errCode), value(errMsg)
	m.Request, m.Response = rawOut(request), rawOut(response)
	m.ClaimedAt, m.NextAttemptAt = timeOut(claimed), timeOut(next)
	m.CreatedAt = m.CreatedAt.UTC()
	m.SentAt, m.DeliveredAt, m.ReadAt, m.FailedAt = timeOut(sent), timeOut(delivered), timeOut(read), timeOut(failedAt)
	return m, nil
}

// messageArgs are the values of every column of messageColumns but id, in
// that order.
func messageArgs(m domain.MessageLog) ([]any, error) {
	params, err := json.Marshal(nonNil(m.Params))
	if err != nil {
		return nil, fmt.Errorf("params: %w", err)
	}
	return []any{
		m.Rule, m.Template, m.Language, params, string(m.Status), m.DryRun, m.StudentID, nullable(m.MoodleUserID),
		m.CourseID, nullable(m.MoodleCourseID), m.EnrollmentID, nullable(m.OnceKey), nullable(m.To),
		nullable(m.ProviderMessageID), nullable(m.ErrorCode), nullable(m.ErrorMessage),
		string(m.Trigger.Kind), m.Trigger.Ref, rawIn(m.Request), rawIn(m.Response), m.Attempts,
		timeIn(m.ClaimedAt), timeIn(m.NextAttemptAt), dbTime(m.CreatedAt),
		timeIn(m.SentAt), timeIn(m.DeliveredAt), timeIn(m.ReadAt), timeIn(m.FailedAt),
	}, nil
}

// dbTime is t as the database keeps it: PostgreSQL holds microseconds.
// Truncating first makes what a caller wrote and what it reads back equal,
// and the SQLite store does the same.
func dbTime(t time.Time) time.Time { return t.Truncate(time.Microsecond).UTC() }

// timeIn maps the zero time, which the domain uses for "none", to NULL.
func timeIn(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = dbTime(t)
	return &t
}

func timeOut(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// nullable maps the zero value, which the domain uses for "none", to NULL.
func nullable[T comparable](v T) *T {
	var zero T
	if v == zero {
		return nil
	}
	return &v
}

func value[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}

func rawIn(raw json.RawMessage) any {
	if len(raw) == 0 {
		return nil
	}
	return []byte(raw)
}

func rawOut(b []byte) json.RawMessage {
	if b == nil {
		return nil
	}
	return json.RawMessage(b)
}

// nonNil turns a nil list into an empty one: the list columns are NOT NULL.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
