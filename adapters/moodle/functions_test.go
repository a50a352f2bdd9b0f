package moodle_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/notifier/adapters/moodle"
	"github.com/acme/notifier/adapters/moodle/moodletest"
	"github.com/acme/notifier/domain"
)

var ctx = context.Background()

func TestNewNeedsURLAndToken(t *testing.T) {
	_, err := moodle.New(moodle.Config{Token: "t"})
	assert.ErrorIs(t, err, moodle.ErrNotConfigured)
	_, err = moodle.New(moodle.Config{BaseURL: "https://moodle.example.com"})
	assert.ErrorIs(t, err, moodle.ErrNotConfigured)
	_, err = moodle.New(moodle.Config{BaseURL: "moodle.example.com", Token: "t"})
	assert.Error(t, err)
	_, err = moodle.New(moodle.Config{BaseURL: "https://moodle.example.com/", Token: "t"})
	assert.NoError(t, err)
}

func TestCreateUsersThenReadThemBack(t *testing.T) {
	s := moodletest.New(t)
	c := newClient(t, s)

	created, err := c.CreateUsers(ctx, moodle.NewUser{Username: "ana", Password: "Ana-2026!", FirstName: "Ana",
		LastName: "Ruiz", Email: "ana@example.com", Phone1: "+34 600 111 222", Lang: "es",
		Timezone: "Europe/Madrid", City: "Madrid", Country: "ES", IDNumber: "S-0042",
		CustomFields: map[string]string{"mobile": "+34600111222"}})
	require.NoError(t, err)
	require.Len(t, created, 1)
	assert.Equal(t, "ana", created[0].Username)
	assert.Positive(t, created[0].ID)

	users, err := c.GetUsersByField(ctx, moodle.UserByUsername, "ana")
	require.NoError(t, err)
	require.Len(t, users, 1)
	u := users[0]
	assert.Equal(t, created[0].ID, u.ID)
	assert.Equal(t, "Ana Ruiz", u.FullName)
	assert.Equal(t, "es", u.Lang)
	assert.Equal(t, "Europe/Madrid", u.Timezone)
	assert.Equal(t, "+34 600 111 222", u.Phone("phone1"))
	assert.Equal(t, "+34600111222", u.Phone("profile_field_mobile"))
	assert.Equal(t, "", u.Phone("phone2"))
	assert.True(t, u.Confirmed)
	assert.False(t, u.Suspended)
	assert.True(t, u.FirstAccess.IsZero(), "0 is no time")

	byID, err := c.GetUsersByID(ctx, u.ID)
	require.NoError(t, err)
	assert.Equal(t, users, byID)
	one, err := c.GetUserByUsername(ctx, "ana")
	require.NoError(t, err)
	assert.Equal(t, u, one)

	inFake, ok := s.UserByUsername("ana")
	require.True(t, ok)
	assert.Equal(t, "Ana-2026!", inFake.Password)
}

func TestCreateUsersWithoutPasswordLetsMoodleCreateOne(t *testing.T) {
	s := moodletest.New(t)
	created, err := newClient(t, s).CreateUsers(ctx, moodle.NewUser{Username: "bea", FirstName: "Bea",
		LastName: "Gil", Email: "bea@example.com"})
	require.NoError(t, err)
	u, ok := s.User(created[0].ID)
	require.True(t, ok)
	assert.Empty(t, u.Password, "sent createpassword=1 (without it the fake, like Moodle, refuses the call)")
}

func TestCreateUsersIsAllOrNothing(t *testing.T) {
	s := moodletest.New(t)
	_, err := newClient(t, s).CreateUsers(ctx,
		moodle.NewUser{Username: "carla", Password: "Carla-2026!", FirstName: "Carla", LastName: "Sanz", Email: "carla@example.com"},
		moodle.NewUser{Username: "student2", Password: "Student123!", FirstName: "Dup", LastName: "User", Email: "dup@example.com"})
	assert.ErrorIs(t, err, moodle.ErrInvalidParameter)
	_, ok := s.UserByUsername("carla")
	assert.False(t, ok)
}

func TestCreateUsersChecksRequiredFieldsBeforeCalling(t *testing.T) {
	s := moodletest.New(t)
	_, err := newClient(t, s).CreateUsers(ctx, moodle.NewUser{Username: "x", FirstName: "X", LastName: "Y"})
	assert.ErrorIs(t, err, moodle.ErrInvalidParameter)
	assert.Zero(t, s.TotalCalls())
}

func TestGetUsersByFieldAsRecorded(t *testing.T) {
	s := moodletest.New(t)
	c := newClient(t, s)

	users, err := c.GetUsersByField(ctx, moodle.UserByUsername, "student1", "student2")
	require.NoError(t, err)
	require.Len(t, users, 2)
	assert.Equal(t, moodle.User{ID: 3, Username: "student1", FirstName: "Stu", LastName: "Dent", FullName: "Stu Dent",
		Email: "student1@example.com", Phone1: "+15551230001", Phone2: "+15559870001", IDNumber: "S-0001",
		City: "Testville", Country: "US", Lang: "en", Timezone: "99", Auth: "manual", Confirmed: true}, users[0])
	assert.Equal(t, int64(4), users[1].ID)

	byID, err := c.GetUsersByID(ctx, 3)
	require.NoError(t, err)
	assert.Equal(t, "student1", byID[0].Username)
	byEmail, err := c.GetUsersByField(ctx, moodle.UserByEmail, "student1@example.com")
	require.NoError(t, err)
	assert.Equal(t, int64(3), byEmail[0].ID)
	lab, err := c.GetUsersByField(ctx, moodle.UserByUsername, "student3", "teacher1")
	require.NoError(t, err)
	assert.Equal(t, "es", lab[0].Lang)
	assert.Equal(t, "+34600111333", lab[0].Phone1)
	assert.Equal(t, 4, s.Replays(), "all answered with the recorded bytes")

	none, err := c.GetUsersByField(ctx, moodle.UserByUsername, "nosuchuser")
	require.NoError(t, err)
	assert.Empty(t, none)
	_, err = c.GetUserByUsername(ctx, "nosuchuser")
	assert.ErrorIs(t, err, moodle.ErrNotFound)

	_, err = c.GetUsersByField(ctx, "phone1", "+15551230001")
	assert.ErrorIs(t, err, moodle.ErrInvalidParameter)
}

func TestGetUsersByFieldSplitsLongLists(t *testing.T) {
	s := moodletest.New(t)
	c := newClient(t, s, func(cfg *moodle.Config) { cfg.MaxListParams = 2 })
	users, err := c.GetUsersByID(ctx, 3, 4, 5, 6, 999)
	require.NoError(t, err)
	assert.Len(t, users, 4)
	assert.Equal(t, 3, s.Calls("core_user_get_users_by_field"))
}

func TestEnrolUsersThenListThem(t *testing.T) {
	s := moodletest.New(t)
	c := newClient(t, s)
	created, err := c.CreateUsers(ctx, moodle.NewUser{Username: "dani", Password: "Dani-2026!", FirstName: "Dani",
		LastName: "Mora", Email: "dani@example.com", Phone1: "+34600999000"})
	require.NoError(t, err)
	id := created[0].ID
	start := time.Unix(moodletest.DefaultNow+86400, 0) // tomorrow for the fake site
	end := start.Add(30 * 24 * time.Hour)

	require.NoError(t, c.EnrolUsers(ctx, moodle.Enrolment{UserID: id, CourseID: 3, Start: start, End: end}))

	e, ok := s.Enrolment(id, 3)
	require.True(t, ok)
	assert.Equal(t, moodletest.Enrolment{UserID: id, CourseID: 3, RoleIDs: []int64{moodletest.RoleStudent},
		TimeStart: start.Unix(), TimeEnd: end.Unix()}, e)

	all, err := c.GetEnrolledUsers(ctx, 3, moodle.EnrolledUsersOptions{})
	require.NoError(t, err)
	require.Len(t, all, 5)
	assert.Equal(t, id, all[4].ID)
	assert.Equal(t, []string{"student"}, all[4].RoleShortNames())
	assert.Equal(t, "+34600999000", all[4].Phone("phone1"))

	active, err := c.GetEnrolledUsers(ctx, 3, moodle.EnrolledUsersOptions{OnlyActive: true})
	require.NoError(t, err)
	assert.Len(t, active, 4, "an enrolment that starts tomorrow is not active")

	// Enrolling again updates: no dates now, suspended, and a second role.
	require.NoError(t, c.EnrolUsers(ctx, moodle.Enrolment{UserID: id, CourseID: 3, RoleID: moodletest.RoleTeacher, Suspend: true}))
	e, _ = s.Enrolment(id, 3)
	assert.Equal(t, moodletest.Enrolment{UserID: id, CourseID: 3, RoleIDs: []int64{moodletest.RoleStudent, moodletest.RoleTeacher},
		Suspended: true}, e)
	suspended, err := c.GetEnrolledUsers(ctx, 3, moodle.EnrolledUsersOptions{OnlySuspended: true})
	require.NoError(t, err)
	require.Len(t, suspended, 1)
	assert.True(t, suspended[0].HasRole("teacher"))
}

func TestEnrolUsersAnswersNullAsRecorded(t *testing.T) {
	s := moodletest.New(t)
	c := newClient(t, s)
	// enrol_manual_enrol_users.json: roleid=5, userid=4, courseid=2; Moodle answers the literal null.
	require.NoError(t, c.EnrolUsers(ctx, moodle.Enrolment{UserID: 4, CourseID: 2}))
	// lab102's four enrolments in one call, the teacher with role 3.
	require.NoError(t, c.EnrolUsers(ctx,
		moodle.Enrolment{UserID: 3, CourseID: 3}, moodle.Enrolment{UserID: 4, CourseID: 3},
		moodle.Enrolment{UserID: 5, CourseID: 3}, moodle.Enrolment{UserID: 6, CourseID: 3, RoleID: 3}))
	assert.Equal(t, 2, s.Calls("enrol_manual_enrol_users"))
}

func TestEnrolUsersErrors(t *testing.T) {
	s := moodletest.New(t)
	c := newClient(t, s)
	err := c.EnrolUsers(ctx, moodle.Enrolment{UserID: 999999, CourseID: 2})
	assert.ErrorIs(t, err, moodle.ErrNotFound, "recorded: unknown_user.enrol_manual_enrol_users.json")
	err = c.EnrolUsers(ctx, moodle.Enrolment{UserID: 3, CourseID: 999999})
	assert.ErrorIs(t, err, moodle.ErrInvalidParameter, "Moodle: context does not exist")
	err = c.EnrolUsers(ctx, moodle.Enrolment{UserID: 3, CourseID: 3, RoleID: 99})
	assert.ErrorIs(t, err, moodle.ErrAccessDenied, "wsusercannotassign")
	err = c.EnrolUsers(ctx, moodle.Enrolment{UserID: 3, CourseID: 1})
	var me *moodle.Error
	require.ErrorAs(t, err, &me)
	assert.Equal(t, "wsnoinstance", me.ErrorCode, "the site course has no manual enrolment")
	err = c.EnrolUsers(ctx, moodle.Enrolment{UserID: 3})
	assert.ErrorIs(t, err, moodle.ErrInvalidParameter)
	// All or nothing: a bad second enrolment keeps the first out.
	err = c.EnrolUsers(ctx, moodle.Enrolment{UserID: 2, CourseID: 3}, moodle.Enrolment{UserID: 999999, CourseID: 3})
	assert.ErrorIs(t, err, moodle.ErrNotFound)
	_, ok := s.Enrolment(2, 3)
	assert.False(t, ok)
}

func TestGetCoursesByField(t *testing.T) {
	s := moodletest.New(t)
	c := newClient(t, s)

	lab102, err := c.GetCoursesByField(ctx, moodle.CourseByID, "3")
	require.NoError(t, err)
	require.Len(t, lab102, 1)
	assert.Equal(t, moodle.Course{ID: 3, ShortName: "LAB102", FullName: "Lab Course 102", DisplayName: "Lab Course 102",
		IDNumber: "LAB-102", CategoryID: 1, CategoryName: "Category 1", Format: "topics", Visible: true,
		EnableCompletion: true, StartDate: time.Unix(1793664000, 0).UTC(), EndDate: time.Unix(1796299200, 0).UTC(),
		TimeModified: time.Unix(1796312878, 0).UTC(), EnrolmentMethods: []string{"manual"}}, lab102[0])
	assert.True(t, lab102[0].Ended(time.Unix(moodletest.DefaultNow, 0)))

	both, err := c.GetCourses(ctx, 2, 3)
	require.NoError(t, err)
	assert.Equal(t, []int64{2, 3}, []int64{both[0].ID, both[1].ID})
	byName, err := c.GetCoursesByField(ctx, moodle.CourseByShortName, "LAB102")
	require.NoError(t, err)
	assert.Equal(t, lab102, byName)
	assert.Equal(t, 3, s.Replays())

	all, err := c.GetCourses(ctx)
	require.NoError(t, err)
	require.NotEmpty(t, all)
	assert.True(t, all[0].IsSite())
	assert.True(t, all[0].EndDate.IsZero(), "enddate 0 is no end date")

	none, err := c.GetCourses(ctx, 999999)
	require.NoError(t, err)
	assert.Empty(t, none)

	added := s.AddCourse(moodletest.Course{ShortName: "PRL-01", FullName: "Prevención de riesgos", CategoryID: 1,
		StartDate: 1764547200, Visible: true, EnableCompletion: true})
	got, err := c.GetCoursesByField(ctx, moodle.CourseByIDNumber, "LAB-102")
	require.NoError(t, err)
	assert.Equal(t, lab102, got)
	got, err = c.GetCourses(ctx, added.ID)
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, "Prevención de riesgos", got[0].FullName)
	assert.True(t, got[0].EndDate.IsZero())
}

func TestGetEnrolledUsersAsRecorded(t *testing.T) {
	s := moodletest.New(t)
	c := newClient(t, s)

	users, err := c.GetEnrolledUsers(ctx, 3, moodle.EnrolledUsersOptions{})
	require.NoError(t, err)
	require.Len(t, users, 4)
	assert.Equal(t, []int64{3, 4, 5, 6}, []int64{users[0].ID, users[1].ID, users[2].ID, users[3].ID})
	assert.Equal(t, []moodle.Role{{ID: 5, ShortName: "student"}}, users[0].Roles)
	assert.Equal(t, "+15551239999", users[0].Phone1, "after the recorded phone change")
	assert.Equal(t, []moodle.CourseRef{{ID: 3, ShortName: "LAB102", FullName: "Lab Course 102"},
		{ID: 2, ShortName: "LAB101", FullName: "Lab Course 101"}}, users[0].EnrolledCourses)
	assert.True(t, users[3].HasRole("editingteacher"))
	assert.False(t, users[3].HasRole("student"))

	active, err := c.GetEnrolledUsers(ctx, 3, moodle.EnrolledUsersOptions{OnlyActive: true})
	require.NoError(t, err)
	assert.Equal(t, users, active)

	// lab102/core_enrol_get_enrolled_users.userfields_roles.json: lang is asked for but never comes.
	slim, err := c.GetEnrolledUsers(ctx, 3, moodle.EnrolledUsersOptions{UserFields: []string{"id", "username", "roles", "phone1", "lang"}})
	require.NoError(t, err)
	assert.Equal(t, moodle.EnrolledUser{ID: 5, Username: "student3", FullName: "Tercera Alumna", Phone1: "+34600111333",
		Roles: []moodle.Role{{ID: 5, ShortName: "student"}}}, slim[2])
	assert.Equal(t, 3, s.Replays())

	_, err = c.GetEnrolledUsers(ctx, 999999, moodle.EnrolledUsersOptions{})
	assert.ErrorIs(t, err, moodle.ErrNotFound)
}

func TestAllEnrolledUsersPages(t *testing.T) {
	s := moodletest.New(t)
	c := newClient(t, s)
	users, err := c.AllEnrolledUsers(ctx, 3, moodle.EnrolledUsersOptions{UserFields: []string{"id"}}, 3)
	require.NoError(t, err)
	assert.Len(t, users, 4)
	assert.Equal(t, 2, s.Calls("core_enrol_get_enrolled_users"), "a page of 3, then a short page")

	exact, err := c.AllEnrolledUsers(ctx, 3, moodle.EnrolledUsersOptions{}, 2)
	require.NoError(t, err)
	assert.Len(t, exact, 4)
	assert.Equal(t, 5, s.Calls("core_enrol_get_enrolled_users"), "two full pages, then an empty one")

	byName, err := c.GetEnrolledUsers(ctx, 3, moodle.EnrolledUsersOptions{SortBy: "firstname", LimitNumber: 2})
	require.NoError(t, err)
	assert.Equal(t, []string{"Second", "Stu"}, []string{byName[0].FirstName, byName[1].FirstName})
}

func TestActivitiesCompletionAsRecorded(t *testing.T) {
	s := moodletest.New(t)
	c := newClient(t, s)

	statuses, err := c.ActivitiesCompletion(ctx, 3, 3)
	require.NoError(t, err)
	require.Len(t, statuses, 5, "the untracked SCORM is not listed")
	assert.Equal(t, moodle.ActivityStatus{CMID: 4, ModName: "scorm", Instance: 2, State: domain.CompletionComplete,
		TimeCompleted: time.Unix(1796312902, 0).UTC(), Tracking: 2, HasCompletion: true, IsAutomatic: true,
		IsTrackedUser: true, UserVisible: true, IsOverallComplete: true}, statuses[0])
	assert.Equal(t, domain.NewProgress(3, 2), domain.ScormProgress(moodle.Activities(statuses)))

	p, err := c.UserProgress(ctx, 3, 4)
	require.NoError(t, err)
	assert.Equal(t, domain.NewProgress(3, 1), p, "student2 failed B: not a completion")

	teacher, err := c.ActivitiesCompletion(ctx, 3, 6)
	require.NoError(t, err)
	assert.False(t, teacher[0].IsTrackedUser)

	notEnrolled, err := c.ActivitiesCompletion(ctx, 2, 2)
	require.NoError(t, err, "errors/not_an_error.admin_not_enrolled.completion_activities.json")
	assert.False(t, notEnrolled[0].IsTrackedUser)
	assert.Equal(t, 4, s.Replays())

	_, err = c.ActivitiesCompletion(ctx, 2, 999999)
	assert.ErrorIs(t, err, moodle.ErrNotFound)
	_, err = c.ActivitiesCompletion(ctx, 999999, 3)
	assert.ErrorIs(t, err, moodle.ErrNotFound)
}
