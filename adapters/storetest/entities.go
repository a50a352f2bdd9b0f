package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/notifier/app"
	"github.com/acme/notifier/domain"
)

var studentTests = []contractTest{
	{"UpsertStudent/InsertsThenUpdatesByMoodleID", testUpsertStudent},
	{"UpsertStudent/ContactChangesOnlyWithThePhone", testUpsertStudentContact},
	{"UpsertStudent/KeepsTheOptOut", testUpsertStudentOptOut},
	{"UpsertStudent/LocalStudentsWithoutMoodleID", testLocalStudents},
	{"UpdateStudent/SavesAndTracksContactChanges", testUpdateStudent},
	{"UpdateStudent/ClosureErrorSavesNothing", testUpdateStudentError},
	{"Get/MissingIsNotFound", testMissing},
}

var courseTests = []contractTest{
	{"UpsertCourse/InsertsThenUpdatesByMoodleID", testUpsertCourse},
}

var enrollmentTests = []contractTest{
	{"UpsertEnrollment/RoundTrip", testUpsertEnrollment},
	{"UpsertEnrollment/UpdateKeepsImportedClearsDeleted", testUpsertEnrollmentUpdate},
	{"UpsertEnrollment/MissingStudentOrCourseIsNotFound", testUpsertEnrollmentMissing},
	{"UpdateEnrollment/SavesEveryMutableField", testUpdateEnrollment},
}

func testUpsertStudent(t *testing.T, s app.Store) {
	ctx := t.Context()
	in := newStudent(42)
	first, err := s.UpsertStudent(ctx, in)
	require.NoError(t, err)
	assert.Positive(t, first.ID)
	assert.False(t, first.CreatedAt.IsZero())
	assert.Equal(t, first.CreatedAt, first.UpdatedAt)
	assert.Equal(t, first.CreatedAt, first.ContactChangedAt, "a new student's contact is new")
	want := in
	want.ID, want.CreatedAt, want.UpdatedAt, want.ContactChangedAt = first.ID, first.CreatedAt, first.UpdatedAt, first.ContactChangedAt
	assert.Equal(t, want, first)

	got, err := s.GetStudent(ctx, first.ID)
	require.NoError(t, err)
	assert.Equal(t, first, got)

	in.Username, in.FirstName, in.LastName, in.Email = "ana.r", "Ana María", "Ruiz Gil", "ana@example.org"
	in.Lang, in.Timezone = "pt_br", "99"
	second, err := s.UpsertStudent(ctx, in)
	require.NoError(t, err)
	want = in
	want.ID, want.CreatedAt, want.ContactChangedAt = first.ID, first.CreatedAt, first.ContactChangedAt
	want.UpdatedAt = second.UpdatedAt
	assert.Equal(t, want, second)
	assert.False(t, second.UpdatedAt.Before(first.UpdatedAt))

	got, err = s.GetStudent(ctx, first.ID)
	require.NoError(t, err)
	assert.Equal(t, second, got)
}

func testUpsertStudentContact(t *testing.T, s app.Store) {
	ctx := t.Context()
	in := newStudent(7)
	first, err := s.UpsertStudent(ctx, in)
	require.NoError(t, err)

	time.Sleep(2 * time.Millisecond)
	in.Email = "other@example.com"
	same, err := s.UpsertStudent(ctx, in)
	require.NoError(t, err)
	assert.Equal(t, first.ContactChangedAt, same.ContactChangedAt, "the phone did not change")

	time.Sleep(2 * time.Millisecond)
	in.Phone = "+34 600 333 444"
	changed, err := s.UpsertStudent(ctx, in)
	require.NoError(t, err)
	assert.Equal(t, "+34 600 333 444", changed.Phone)
	assert.True(t, changed.ContactChangedAt.After(first.ContactChangedAt), "the phone changed")
	assert.Equal(t, changed.UpdatedAt, changed.ContactChangedAt)
}

func testUpsertStudentOptOut(t *testing.T, s app.Store) {
	ctx := t.Context()
	in := newStudent(8)
	st, err := s.UpsertStudent(ctx, in)
	require.NoError(t, err)
	_, err = s.UpdateStudent(ctx, st.ID, func(st *domain.Student) error {
		st.OptedOut = true
		return nil
	})
	require.NoError(t, err)

	in.OptedOut = false
	in.FirstName = "Anita"
	got, err := s.UpsertStudent(ctx, in)
	require.NoError(t, err)
	assert.True(t, got.OptedOut, "Moodle data must not undo an opt-out")
	assert.Equal(t, "Anita", got.FirstName)

	optedOut := newStudent(9)
	optedOut.OptedOut = true
	got, err = s.UpsertStudent(ctx, optedOut)
	require.NoError(t, err)
	assert.True(t, got.OptedOut, "an insert takes the opt-out given")
}

func testLocalStudents(t *testing.T, s app.Store) {
	ctx := t.Context()
	local := newStudent(0)
	a, err := s.UpsertStudent(ctx, local)
	require.NoError(t, err)
	b, err := s.UpsertStudent(ctx, local)
	require.NoError(t, err)
	assert.NotEqual(t, a.ID, b.ID, "students without a Moodle id are never merged")
	assert.Zero(t, a.MoodleUserID)
	assert.Zero(t, b.MoodleUserID)

	// Linked to Moodle later, the student is then found by its Moodle id.
	_, err = s.UpdateStudent(ctx, a.ID, func(st *domain.Student) error {
		st.MoodleUserID = 77
		return nil
	})
	require.NoError(t, err)
	linked, err := s.UpsertStudent(ctx, newStudent(77))
	require.NoError(t, err)
	assert.Equal(t, a.ID, linked.ID)
	assert.Equal(t, int64(77), linked.MoodleUserID)
}

func testUpdateStudent(t *testing.T, s app.Store) {
	ctx := t.Context()
	st := mustStudent(t, s, 5)

	time.Sleep(2 * time.Millisecond)
	got, err := s.UpdateStudent(ctx, st.ID, func(st *domain.Student) error {
		st.Username, st.FirstName, st.LastName, st.Email = "u5", "Eva", "Sanz", "eva@example.com"
		st.Lang, st.Timezone = "en", "UTC"
		return nil
	})
	require.NoError(t, err)
	want := st
	want.Username, want.FirstName, want.LastName, want.Email = "u5", "Eva", "Sanz", "eva@example.com"
	want.Lang, want.Timezone, want.UpdatedAt = "en", "UTC", got.UpdatedAt
	assert.Equal(t, want, got, "no contact change: ContactChangedAt stays")
	assert.True(t, got.UpdatedAt.After(st.UpdatedAt))
	fetched, err := s.GetStudent(ctx, st.ID)
	require.NoError(t, err)
	assert.Equal(t, got, fetched)

	for name, change := range map[string]func(*domain.Student){
		"phone":   func(st *domain.Student) { st.Phone = "+34 600 999 888" },
		"opt-out": func(st *domain.Student) { st.OptedOut = !st.OptedOut },
	} {
		before, err := s.GetStudent(ctx, st.ID)
		require.NoError(t, err)
		time.Sleep(2 * time.Millisecond)
		after, err := s.UpdateStudent(ctx, st.ID, func(st *domain.Student) error {
			change(st)
			return nil
		})
		require.NoError(t, err, name)
		assert.True(t, after.ContactChangedAt.After(before.ContactChangedAt), "a %s change moves ContactChangedAt", name)
	}
}

func testUpdateStudentError(t *testing.T, s app.Store) {
	ctx := t.Context()
	st := mustStudent(t, s, 6)
	_, err := s.UpdateStudent(ctx, st.ID, func(st *domain.Student) error {
		st.Phone = "+34 611 000 000"
		return errBoom
	})
	require.ErrorIs(t, err, errBoom)
	got, err := s.GetStudent(ctx, st.ID)
	require.NoError(t, err)
	assert.Equal(t, st, got)
}

func testMissing(t *testing.T, s app.Store) {
	ctx := t.Context()
	const id = 987654
	_, err := s.GetStudent(ctx, id)
	assert.ErrorIs(t, err, app.ErrNotFound, "GetStudent")
	_, err = s.GetCourse(ctx, id)
	assert.ErrorIs(t, err, app.ErrNotFound, "GetCourse")
	_, err = s.GetEnrollment(ctx, id)
	assert.ErrorIs(t, err, app.ErrNotFound, "GetEnrollment")
	_, err = s.GetMessage(ctx, id)
	assert.ErrorIs(t, err, app.ErrNotFound, "GetMessage")

	called := false
	_, err = s.UpdateStudent(ctx, id, func(*domain.Student) error { called = true; return nil })
	assert.ErrorIs(t, err, app.ErrNotFound, "UpdateStudent")
	_, err = s.UpdateEnrollment(ctx, id, func(*domain.Enrollment) error { called = true; return nil })
	assert.ErrorIs(t, err, app.ErrNotFound, "UpdateEnrollment")
	_, err = s.UpdateMessage(ctx, id, func(*domain.MessageLog) error { called = true; return nil })
	assert.ErrorIs(t, err, app.ErrNotFound, "UpdateMessage")
	_, err = s.EvaluateLocked(ctx, id, nil, func(app.EnrollmentState) ([]domain.MessageLog, error) {
		called = true
		return nil, nil
	})
	assert.ErrorIs(t, err, app.ErrNotFound, "EvaluateLocked")
	assert.False(t, called, "no closure runs for a missing row")
}

func testUpsertCourse(t *testing.T, s app.Store) {
	ctx := t.Context()
	in := domain.Course{
		MoodleCourseID: 7, ShortName: "PRL-01", FullName: "Prevención de riesgos",
		StartDate: time.Date(2026, time.December, 1, 9, 30, 0, 999999999, madrid),
		EndDate:   time.Date(2027, time.January, 1, 0, 0, 0, 1000, madrid),
	}
	first, err := s.UpsertCourse(ctx, in)
	require.NoError(t, err)
	want := in
	want.ID, want.CreatedAt, want.UpdatedAt = first.ID, first.CreatedAt, first.UpdatedAt
	want.StartDate, want.EndDate = stored(in.StartDate), stored(in.EndDate)
	assert.Equal(t, want, first)
	assert.False(t, first.CreatedAt.IsZero())
	got, err := s.GetCourse(ctx, first.ID)
	require.NoError(t, err)
	assert.Equal(t, first, got)

	in.ShortName, in.FullName, in.EndDate = "PRL-02", "Riesgos laborales", time.Time{}
	second, err := s.UpsertCourse(ctx, in)
	require.NoError(t, err)
	assert.Equal(t, first.ID, second.ID)
	assert.Equal(t, first.CreatedAt, second.CreatedAt)
	assert.Equal(t, "PRL-02", second.ShortName)
	assert.Equal(t, "Riesgos laborales", second.FullName)
	assert.True(t, second.EndDate.IsZero(), "no end date")
	got, err = s.GetCourse(ctx, first.ID)
	require.NoError(t, err)
	assert.Equal(t, second, got)

	_, err = s.UpsertCourse(ctx, domain.Course{ShortName: "no id"})
	assert.Error(t, err, "a course needs its Moodle id")
}

func testUpsertEnrollment(t *testing.T, s app.Store) {
	ctx := t.Context()
	st, c := mustStudent(t, s, 1), mustCourse(t, s, 101)
	in := domain.Enrollment{
		StudentID: st.ID, CourseID: c.ID, MoodleEnrolmentID: 991, Status: domain.EnrolmentSuspended,
		TimeStart: base, TimeEnd: base.Add(90 * 24 * time.Hour).In(madrid),
		Roles:    []string{"student", "editingteacher"},
		Progress: domain.NewProgress(3, 1), Imported: true,
	}
	got, err := s.UpsertEnrollment(ctx, in)
	require.NoError(t, err)
	want := in
	want.ID, want.CreatedAt, want.UpdatedAt = got.ID, got.CreatedAt, got.UpdatedAt
	want.TimeStart, want.TimeEnd = stored(in.TimeStart), stored(in.TimeEnd)
	assert.Equal(t, want, got)
	assert.Positive(t, got.ID)
	assert.False(t, got.CreatedAt.IsZero())

	fetched, err := s.GetEnrollment(ctx, got.ID)
	require.NoError(t, err)
	assert.Equal(t, got, fetched)

	// Zero values read back as zero values.
	bare, err := s.UpsertEnrollment(ctx, domain.Enrollment{StudentID: st.ID, CourseID: mustCourse(t, s, 102).ID})
	require.NoError(t, err)
	assert.Zero(t, bare.MoodleEnrolmentID)
	assert.True(t, bare.TimeStart.IsZero())
	assert.True(t, bare.TimeEnd.IsZero())
	assert.Nil(t, bare.Roles)
	assert.Equal(t, domain.Progress{}, bare.Progress)
}

func testUpsertEnrollmentUpdate(t *testing.T, s app.Store) {
	ctx := t.Context()
	st, c := mustStudent(t, s, 1), mustCourse(t, s, 101)
	first, err := s.UpsertEnrollment(ctx, domain.Enrollment{
		StudentID: st.ID, CourseID: c.ID, MoodleEnrolmentID: 991, Roles: []string{"student"},
		Progress: domain.NewProgress(3, 1), Imported: true,
	})
	require.NoError(t, err)
	_, err = s.UpdateEnrollment(ctx, first.ID, func(e *domain.Enrollment) error {
		e.Deleted = true
		return nil
	})
	require.NoError(t, err)

	// An event without progress or enrolment id, and not from a sync.
	second, err := s.UpsertEnrollment(ctx, domain.Enrollment{
		StudentID: st.ID, CourseID: c.ID, Status: domain.EnrolmentSuspended, TimeStart: base,
		Roles: []string{"student", "teacher"},
	})
	require.NoError(t, err)
	assert.Equal(t, first.ID, second.ID)
	assert.Equal(t, first.CreatedAt, second.CreatedAt)
	assert.True(t, second.Imported, "Imported keeps its stored value")
	assert.False(t, second.Deleted, "an upsert revives a deleted enrollment")
	assert.Equal(t, first.Progress, second.Progress, "unknown progress keeps the stored one")
	assert.Equal(t, int64(991), second.MoodleEnrolmentID, "no enrolment id keeps the stored one")
	assert.Equal(t, domain.EnrolmentSuspended, second.Status)
	assert.Equal(t, stored(base), second.TimeStart)
	assert.Equal(t, []string{"student", "teacher"}, second.Roles)

	// Known progress replaces the stored one, even when it went down.
	third, err := s.UpsertEnrollment(ctx, domain.Enrollment{
		StudentID: st.ID, CourseID: c.ID, MoodleEnrolmentID: 992, Roles: []string{"student"},
		Progress: domain.NewProgress(4, 0),
	})
	require.NoError(t, err)
	assert.Equal(t, domain.NewProgress(4, 0), third.Progress)
	assert.Equal(t, int64(992), third.MoodleEnrolmentID)
	assert.True(t, third.Imported)

	fetched, err := s.GetEnrollment(ctx, first.ID)
	require.NoError(t, err)
	assert.Equal(t, third, fetched)
}

func testUpsertEnrollmentMissing(t *testing.T, s app.Store) {
	ctx := t.Context()
	st, c := mustStudent(t, s, 1), mustCourse(t, s, 101)
	_, err := s.UpsertEnrollment(ctx, domain.Enrollment{StudentID: st.ID + 1000, CourseID: c.ID})
	assert.ErrorIs(t, err, app.ErrNotFound, "missing student")
	_, err = s.UpsertEnrollment(ctx, domain.Enrollment{StudentID: st.ID, CourseID: c.ID + 1000})
	assert.ErrorIs(t, err, app.ErrNotFound, "missing course")
}

func testUpdateEnrollment(t *testing.T, s app.Store) {
	ctx := t.Context()
	f := seed(t, s, 1)
	other := mustStudent(t, s, 2)
	time.Sleep(2 * time.Millisecond)
	got, err := s.UpdateEnrollment(ctx, f.Enrollment.ID, func(e *domain.Enrollment) error {
		e.MoodleEnrolmentID = 5555
		e.Status = domain.EnrolmentSuspended
		e.TimeStart, e.TimeEnd = base.In(madrid), base.Add(time.Hour)
		e.Roles = []string{"teacher"}
		e.Progress = domain.NewProgress(7, 3)
		e.Imported, e.Deleted = true, true
		e.StudentID = other.ID // the enrollment's identity: not saved
		return nil
	})
	require.NoError(t, err)
	want := f.Enrollment
	want.MoodleEnrolmentID, want.Status = 5555, domain.EnrolmentSuspended
	want.TimeStart, want.TimeEnd = stored(base), stored(base.Add(time.Hour))
	want.Roles, want.Progress = []string{"teacher"}, domain.NewProgress(7, 3)
	want.Imported, want.Deleted, want.UpdatedAt = true, true, got.UpdatedAt
	assert.Equal(t, want, got)
	assert.True(t, got.UpdatedAt.After(f.Enrollment.UpdatedAt))
	fetched, err := s.GetEnrollment(ctx, f.Enrollment.ID)
	require.NoError(t, err)
	assert.Equal(t, got, fetched)

	_, err = s.UpdateEnrollment(ctx, f.Enrollment.ID, func(e *domain.Enrollment) error {
		e.Deleted = false
		return errBoom
	})
	require.ErrorIs(t, err, errBoom)
	fetched, err = s.GetEnrollment(ctx, f.Enrollment.ID)
	require.NoError(t, err)
	assert.Equal(t, got, fetched, "a failed closure saves nothing")
}
