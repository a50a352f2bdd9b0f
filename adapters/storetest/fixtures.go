package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/acme/notifier/app"
	"github.com/acme/notifier/domain"
)

// errBoom is what the tests' closures fail with.
var errBoom = errors.New("boom")

// base is the instant the tests' data revolve around; its nanoseconds show
// whether a store keeps microseconds and drops the rest.
var base = time.Date(2026, time.December, 3, 10, 15, 0, 123456789, time.UTC)

// madrid is a zone other than UTC: stores give instants back in UTC.
var madrid = time.FixedZone("CET", 3600)

// stored is t as a store gives it back: microseconds, in UTC.
func stored(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.Truncate(time.Microsecond).UTC()
}

// fixture is a student enrolled in a course.
type fixture struct {
	Student    domain.Student
	Course     domain.Course
	Enrollment domain.Enrollment
}

func newStudent(moodleID int64) domain.Student {
	return domain.Student{
		MoodleUserID: moodleID,
		Username:     fmt.Sprintf("user%d", moodleID),
		FirstName:    "Ana",
		LastName:     "Ruiz",
		Email:        fmt.Sprintf("user%d@example.com", moodleID),
		Phone:        "+34 600 111 222",
		Lang:         "es",
		Timezone:     "Europe/Madrid",
	}
}

func newCourse(moodleID int64) domain.Course {
	return domain.Course{
		MoodleCourseID: moodleID,
		ShortName:      fmt.Sprintf("PRL-%02d", moodleID),
		FullName:       "Prevención de riesgos",
		StartDate:      time.Date(2026, time.December, 1, 0, 0, 0, 0, time.UTC),
		EndDate:        time.Date(2027, time.January, 1, 0, 0, 0, 0, time.UTC),
	}
}

func mustStudent(t *testing.T, s app.Store, moodleID int64) domain.Student {
	t.Helper()
	st, err := s.UpsertStudent(t.Context(), newStudent(moodleID))
	require.NoError(t, err)
	return st
}

func mustCourse(t *testing.T, s app.Store, moodleID int64) domain.Course {
	t.Helper()
	c, err := s.UpsertCourse(t.Context(), newCourse(moodleID))
	require.NoError(t, err)
	return c
}

// mustEnroll enrolls the student as an active student of the course, with
// its progress.
func mustEnroll(t *testing.T, s app.Store, st domain.Student, c domain.Course, p domain.Progress) fixture {
	t.Helper()
	e, err := s.UpsertEnrollment(t.Context(), domain.Enrollment{
		StudentID: st.ID, CourseID: c.ID, MoodleEnrolmentID: st.MoodleUserID*1000 + c.MoodleCourseID,
		Status: domain.EnrolmentActive, Roles: []string{"student"}, Progress: p,
	})
	require.NoError(t, err)
	return fixture{Student: st, Course: c, Enrollment: e}
}

// seed creates student n (Moodle user n) enrolled in course n (Moodle course
// 100+n), with no progress yet.
func seed(t *testing.T, s app.Store, n int64) fixture {
	t.Helper()
	return mustEnroll(t, s, mustStudent(t, s, n), mustCourse(t, s, 100+n), domain.Progress{})
}

// message is a PENDING row of rule for the fixture's enrollment, created at
// at. Rules named "welcome", "review" and "completion" are deduplicated once
// and carry their name as once key, as domain.NewMessage does.
func (f fixture) message(rule string, at time.Time) domain.MessageLog {
	m := domain.MessageLog{
		Rule:           rule,
		Template:       rule,
		Language:       "es",
		Params:         []string{f.Student.FirstName, f.Course.FullName},
		Status:         domain.StatusPending,
		StudentID:      f.Student.ID,
		MoodleUserID:   f.Student.MoodleUserID,
		CourseID:       f.Course.ID,
		MoodleCourseID: f.Course.MoodleCourseID,
		EnrollmentID:   f.Enrollment.ID,
		To:             "+34600111222",
		Trigger:        domain.Trigger{Kind: domain.TriggerScan, Ref: "scan-1"},
		CreatedAt:      at,
	}
	if rule != "progress" {
		m.OnceKey = rule
	}
	return m
}

// insert writes rows through EvaluateLocked for the enrollment they name and
// returns what the store inserted.
func insert(t *testing.T, s app.Store, rows ...domain.MessageLog) []domain.MessageLog {
	t.Helper()
	var out []domain.MessageLog
	for _, m := range rows {
		created, err := s.EvaluateLocked(t.Context(), m.EnrollmentID, nil, decideRows(m))
		require.NoError(t, err)
		out = append(out, created...)
	}
	return out
}

// insertOne writes one row that must not be dropped.
func insertOne(t *testing.T, s app.Store, m domain.MessageLog) domain.MessageLog {
	t.Helper()
	created := insert(t, s, m)
	require.Len(t, created, 1, "row %s was dropped", m.Rule)
	return created[0]
}

// decideRows is a decide function that returns rows whatever the state.
func decideRows(rows ...domain.MessageLog) func(app.EnrollmentState) ([]domain.MessageLog, error) {
	return func(app.EnrollmentState) ([]domain.MessageLog, error) { return rows, nil }
}

// storedMessage is m as the store keeps it, with the id it was given.
func storedMessage(m domain.MessageLog, id int64) domain.MessageLog {
	m.ID = id
	for _, t := range []*time.Time{&m.ClaimedAt, &m.NextAttemptAt, &m.CreatedAt, &m.SentAt, &m.DeliveredAt,
		&m.ReadAt, &m.FailedAt} {
		*t = stored(*t)
	}
	if len(m.Params) == 0 {
		m.Params = nil
	}
	if len(m.Request) == 0 {
		m.Request = nil
	}
	if len(m.Response) == 0 {
		m.Response = nil
	}
	return m
}

func ids(rows []domain.MessageLog) []int64 {
	out := make([]int64, len(rows))
	for i, m := range rows {
		out[i] = m.ID
	}
	return out
}

// allMessages lists every row of the store, newest first.
func allMessages(t *testing.T, s app.Store, f app.MessageFilter) []domain.MessageLog {
	t.Helper()
	f.Limit = 10_000
	rows, err := s.ListMessages(t.Context(), f)
	require.NoError(t, err)
	return rows
}
