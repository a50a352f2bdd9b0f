package moodle_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/notifier/adapters/moodle"
	"github.com/acme/notifier/adapters/moodle/moodletest"
	"github.com/acme/notifier/app"
)

// newDirectory is the app.Moodle of a client of the fake, with quick
// retries.
func newDirectory(t *testing.T, s *moodletest.Server, token string, opts ...moodle.DirectoryOption) *moodle.Directory {
	t.Helper()
	c, err := moodle.New(moodle.Config{BaseURL: s.URL, Token: token, CallTimeout: 5 * time.Second,
		BackoffBase: time.Millisecond, BackoffMax: 5 * time.Millisecond})
	require.NoError(t, err)
	return moodle.NewDirectory(c, opts...)
}

// appKinds are the app's Moodle errors an error matches, by name.
func appKinds(err error) []string {
	var out []string
	for _, k := range []struct {
		name string
		err  error
	}{
		{"not_found", app.ErrMoodleNotFound}, {"rejected", app.ErrMoodleRejected},
		{"weak_password", app.ErrMoodleWeakPassword}, {"outcome_unknown", app.ErrMoodleOutcomeUnknown},
		{"failed", app.ErrMoodleFailed}, {"unavailable", app.ErrUnavailable},
	} {
		if errors.Is(err, k.err) {
			out = append(out, k.name)
		}
	}
	return out
}

func TestDirectoryUsers(t *testing.T) {
	s := moodletest.New(t)
	d := newDirectory(t, s, moodletest.AdminToken)

	id, err := d.CreateUser(t.Context(), app.NewMoodleUser{Username: "ana", FirstName: "Ana", LastName: "Ruiz",
		Email: "ana@example.com", Phone: "+34600111222", Lang: "es"})
	require.NoError(t, err)
	u, ok := s.User(id)
	require.True(t, ok)
	assert.Equal(t, "+34600111222", u.Phone1)
	assert.Equal(t, "es", u.Lang)

	got, err := d.UserByUsername(t.Context(), "ana")
	require.NoError(t, err)
	assert.Equal(t, app.MoodleUser{ID: id, Username: "ana", FirstName: "Ana", LastName: "Ruiz", Email: "ana@example.com",
		Phone: "+34600111222", Lang: "es", Timezone: "99"}, got)
	byID, err := d.UserByID(t.Context(), id)
	require.NoError(t, err)
	assert.Equal(t, got, byID)

	_, err = d.UserByUsername(t.Context(), "nobody")
	assert.Equal(t, []string{"not_found"}, appKinds(err))
	_, err = d.UserByID(t.Context(), 424242)
	assert.Equal(t, []string{"not_found"}, appKinds(err))

	_, err = d.CreateUser(t.Context(), app.NewMoodleUser{Username: "ana", FirstName: "A", LastName: "R",
		Email: "ana2@example.com", Phone: "+34600111223"})
	assert.Equal(t, []string{"rejected"}, appKinds(err), "a username taken")
	_, err = d.CreateUser(t.Context(), app.NewMoodleUser{Username: "weak", FirstName: "W", LastName: "P",
		Email: "weak@example.com", Password: "abc"})
	assert.Equal(t, []string{"rejected", "weak_password"}, appKinds(err))

	s.FailWith(http.StatusInternalServerError, 1, "core_user_create_users")
	_, err = d.CreateUser(t.Context(), app.NewMoodleUser{Username: "bea", FirstName: "B", LastName: "C",
		Email: "bea@example.com"})
	assert.Equal(t, []string{"outcome_unknown", "unavailable"}, appKinds(err), "a write that may have been applied")
	s.FailWith(http.StatusServiceUnavailable, 10, "core_user_get_users_by_field")
	_, err = d.UserByUsername(t.Context(), "ana")
	assert.Equal(t, []string{"unavailable"}, appKinds(err))
	s.ClearFaults()

	bad := newDirectory(t, s, "not-a-token")
	_, err = bad.UserByUsername(t.Context(), "ana")
	assert.Equal(t, []string{"failed"}, appKinds(err), "an invalid token is not the caller's to fix")
	assert.ErrorIs(t, err, moodle.ErrInvalidToken, "the client's error is kept")
}

func TestDirectoryPhoneField(t *testing.T) {
	s := moodletest.New(t)
	d := newDirectory(t, s, moodletest.AdminToken, moodle.WithPhoneField("phone2"))
	id, err := d.CreateUser(t.Context(), app.NewMoodleUser{Username: "ana", FirstName: "Ana", LastName: "Ruiz",
		Email: "ana@example.com", Phone: "+34600111222"})
	require.NoError(t, err)
	u, _ := s.User(id)
	assert.Empty(t, u.Phone1)
	assert.Equal(t, "+34600111222", u.Phone2)
	got, err := d.UserByID(t.Context(), id)
	require.NoError(t, err)
	assert.Equal(t, "+34600111222", got.Phone)

	student2, err := d.UserByID(t.Context(), 4)
	require.NoError(t, err)
	assert.Equal(t, "+15559870002", student2.Phone)
}

func TestDirectoryCoursesAndEnrolments(t *testing.T) {
	s := moodletest.New(t)
	admin, _ := s.User(2)
	s.AddUser(admin) // answer from the model, not from the recordings
	d := newDirectory(t, s, moodletest.AdminToken)
	ctx := t.Context()

	all, err := d.Courses(ctx, nil)
	require.NoError(t, err)
	var ids []int64
	for _, c := range all {
		ids = append(ids, c.ID)
		assert.True(t, c.Visible)
	}
	assert.Equal(t, []int64{2, 3}, ids, "the site's front page is not a course")
	some, err := d.Courses(ctx, []int64{3, 1, 999})
	require.NoError(t, err)
	require.Len(t, some, 1)
	assert.Equal(t, "LAB102", some[0].ShortName)
	assert.Equal(t, time.Date(2026, time.December, 3, 12, 0, 0, 0, time.UTC), some[0].EndDate)

	page, err := d.EnrolledUsers(ctx, 3, 0, 3)
	require.NoError(t, err)
	require.Len(t, page, 3)
	assert.Equal(t, app.MoodleUser{ID: 3, Username: "student1", FirstName: "Stu", LastName: "Dent",
		Email: "student1@example.com", Phone: "+15551239999", Lang: "en", Timezone: "99", Roles: []string{"student"}}, page[0])
	assert.Equal(t, "es", page[2].Lang, "the language comes from core_user_get_users_by_field")
	rest, err := d.EnrolledUsers(ctx, 3, 3, 3)
	require.NoError(t, err)
	require.Len(t, rest, 1)
	assert.Equal(t, []string{"editingteacher"}, rest[0].Roles)
	none, err := d.EnrolledUsers(ctx, 3, 4, 3)
	require.NoError(t, err)
	assert.Empty(t, none)
	_, err = d.EnrolledUsers(ctx, 999, 0, 3)
	assert.Equal(t, []string{"not_found"}, appKinds(err))

	s.Enrol(moodletest.Enrolment{UserID: 4, CourseID: 3, RoleIDs: []int64{moodletest.RoleStudent}, Suspended: true})
	active, err := d.ActiveUserIDs(ctx, 3)
	require.NoError(t, err)
	assert.Equal(t, map[int64]bool{3: true, 5: true, 6: true}, active)

	st, err := d.Enrolment(ctx, 4, 3)
	require.NoError(t, err)
	assert.Equal(t, app.MoodleEnrolmentState{Active: false, Roles: []string{"student"}}, st)
	st, err = d.Enrolment(ctx, 6, 3)
	require.NoError(t, err)
	assert.Equal(t, app.MoodleEnrolmentState{Active: true, Roles: []string{"editingteacher"}}, st)
	_, err = d.Enrolment(ctx, 5, 2)
	assert.Equal(t, []string{"not_found"}, appKinds(err), "not enrolled")

	start := time.Unix(moodletest.DefaultNow+3600, 0)
	require.NoError(t, d.Enrol(ctx, app.MoodleEnrolRequest{MoodleUserID: 5, MoodleCourseID: 2, TimeStart: start}))
	e, ok := s.Enrolment(5, 2)
	require.True(t, ok)
	assert.Equal(t, start.Unix(), e.TimeStart)
	assert.Equal(t, []int64{moodletest.RoleStudent}, e.RoleIDs)
	st, err = d.Enrolment(ctx, 5, 2)
	require.NoError(t, err)
	assert.False(t, st.Active, "not started yet")
	err = d.Enrol(ctx, app.MoodleEnrolRequest{MoodleUserID: 424242, MoodleCourseID: 2})
	assert.Equal(t, []string{"not_found"}, appKinds(err))

	p, err := d.CourseProgress(ctx, 3, nil)
	require.NoError(t, err)
	assert.Equal(t, 3, p[3].Total)
	_, err = d.CourseProgress(ctx, 999, nil)
	assert.NotEmpty(t, appKinds(err))
}
