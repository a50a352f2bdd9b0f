package moodle_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/notifier/adapters/moodle"
	"github.com/acme/notifier/adapters/moodle/moodletest"
)

// Every kind of error Moodle was recorded answering, through the client
// against the fake, and the kinds each one matches.
func TestRecordedMoodleErrorsAreTyped(t *testing.T) {
	s := moodletest.New(t)
	c := newClient(t, s)
	student := newClient(t, s, func(cfg *moodle.Config) { cfg.Token = moodletest.StudentToken })
	wrongToken := newClient(t, s, func(cfg *moodle.Config) { cfg.Token = "not-the-token" })
	withoutCourses := moodletest.New(t, moodletest.WithService("core_user_get_users_by_field"))
	noPlugin := moodletest.New(t, moodletest.WithoutBulk())
	noPluginDebug := moodletest.New(t, moodletest.WithoutBulk(), moodletest.WithDebug())

	cases := []struct {
		name      string
		recorded  string // the fixture whose answer this is
		call      func() error
		kinds     []string
		errorcode string
	}{
		{"wrong token", "errors/invalid_token.json", func() error {
			_, err := wrongToken.GetCourses(ctx, 2)
			return err
		}, []string{"invalid_token"}, "invalidtoken"},
		{"function not in the service", "errors/function_not_in_service.json", func() error {
			_, err := newClient(t, withoutCourses).GetCourses(ctx, 2)
			return err
		}, []string{"access_denied", "missing_function"}, "accessexception"},
		{"unknown function (plugin absent)", "errors/unknown_wsfunction.json", func() error {
			_, err := newClient(t, noPlugin).BulkCourseProgress(ctx, 3, nil)
			return err
		}, []string{"not_found"}, "invalidrecordunknown"},
		{"unknown function, debugging on", "errors/unknown_wsfunction.json + debuginfo", func() error {
			_, err := newClient(t, noPluginDebug).BulkCourseProgress(ctx, 3, nil)
			return err
		}, []string{"missing_function"}, "invalidrecordunknown"},
		{"invalid field", "errors/invalid_field.get_users_by_field.json", func() error {
			_, err := c.GetUsersByField(ctx, "phone1", "+15551230001")
			return err
		}, []string{"invalid_parameter"}, "invalidparameter"},
		{"duplicate username", "errors/duplicate_username.create_users.json", func() error {
			_, err := c.CreateUsers(ctx, moodle.NewUser{Username: "student2", Password: "Student123!", FirstName: "Dup",
				LastName: "User", Email: "dup@example.com"})
			return err
		}, []string{"invalid_parameter"}, "invalidparameter"},
		{"weak password", "errors/weak_password.create_users.json", func() error {
			_, err := c.CreateUsers(ctx, moodle.NewUser{Username: "student9", Password: "x", FirstName: "Weak",
				LastName: "Pw", Email: "weak@example.com"})
			return err
		}, []string{"invalid_parameter", "password_policy"}, ""},
		{"no permission to create users", "errors/no_permission.student_create_users.json", func() error {
			_, err := student.CreateUsers(ctx, moodle.NewUser{Username: "student8", Password: "Student123!",
				FirstName: "No", LastName: "Perm", Email: "np@example.com"})
			return err
		}, []string{"access_denied"}, "nopermissions"},
		{"no permission to read another's completion", "errors/no_permission.student_other_completion.json", func() error {
			_, err := student.ActivitiesCompletion(ctx, 2, 4)
			return err
		}, []string{"access_denied"}, "nopermissions"},
		{"unknown user", "errors/unknown_user.completion_activities.json", func() error {
			_, err := c.ActivitiesCompletion(ctx, 2, 999999)
			return err
		}, []string{"not_found"}, "invalidrecordunknown"},
		{"unknown course", "errors/unknown_course.enrolled_users.json", func() error {
			_, err := c.GetEnrolledUsers(ctx, 999999, moodle.EnrolledUsersOptions{})
			return err
		}, []string{"not_found"}, "invalidrecordunknown"},
		{"unknown user to enrol", "errors/unknown_user.enrol_manual_enrol_users.json", func() error {
			return c.EnrolUsers(ctx, moodle.Enrolment{UserID: 999999, CourseID: 2})
		}, []string{"not_found"}, "invalidrecordunknown"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			require.Error(t, err, tc.recorded)
			var me *moodle.Error
			require.ErrorAs(t, err, &me)
			assert.NotEmpty(t, me.Function)
			assert.NotEmpty(t, me.Exception)
			assert.NotEmpty(t, me.Message)
			if tc.errorcode != "" {
				assert.Equal(t, tc.errorcode, me.ErrorCode)
			}
			assert.ElementsMatch(t, tc.kinds, kinds(err), tc.recorded)
		})
	}
}

func TestWeakPasswordReadsAsText(t *testing.T) {
	s := moodletest.New(t)
	_, err := newClient(t, s).CreateUsers(ctx, moodle.NewUser{Username: "student9", Password: "x", FirstName: "Weak",
		LastName: "Pw", Email: "weak@example.com"})
	var me *moodle.Error
	require.ErrorAs(t, err, &me)
	assert.Contains(t, me.ErrorCode, "<div>", "Moodle puts the HTML in errorcode")
	assert.Equal(t, "Passwords must be at least 8 characters long. Passwords must have at least 1 digit(s). "+
		"Passwords must have at least 1 upper case letter(s). "+
		"The password must have at least 1 special character(s) such as *, -, or #.", me.Detail())
	assert.Equal(t, "moodle core_user_create_users: "+me.Detail()+` [core\exception\moodle_exception]`, err.Error())
}

// Moodle's XML error (recorded for a call without moodlewsrestformat) is
// read too, should a proxy or a site drop the format.
func TestXMLErrorsAreRead(t *testing.T) {
	s := moodletest.New(t) // for the fixtures
	for file, code := range map[string]string{
		"errors/invalid_token.xml_default_format.xml":     "invalidtoken",
		"errors/missing_parameter.xml_default_format.xml": "invalidparameter",
	} {
		body, err := s.Fixtures().Read(file)
		require.NoError(t, err)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/xml; charset=utf-8")
			_, _ = w.Write(body)
		}))
		c, err := moodle.New(moodle.Config{BaseURL: srv.URL, Token: "t"})
		require.NoError(t, err)
		_, err = c.GetCourses(ctx, 2)
		var me *moodle.Error
		require.ErrorAs(t, err, &me, file)
		assert.Equal(t, code, me.ErrorCode)
		assert.NotEmpty(t, me.Exception)
		srv.Close()
	}
}

// Error bodies Moodle can send that the recordings do not hold
// (testdata/unrecorded_errors.json, written by hand from Moodle's source).
func TestUnrecordedMoodleErrorsAreTyped(t *testing.T) {
	raw, err := os.ReadFile("testdata/unrecorded_errors.json")
	require.NoError(t, err)
	var cases []struct {
		Name  string          `json:"name"`
		Body  json.RawMessage `json:"body"`
		Kinds []string        `json:"kinds"`
	}
	require.NoError(t, json.Unmarshal(raw, &cases))
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write(tc.Body)
			}))
			defer srv.Close()
			c, err := moodle.New(moodle.Config{BaseURL: srv.URL, Token: "t", BackoffBase: 1, BackoffMax: 1})
			require.NoError(t, err)
			_, err = c.GetCourses(ctx, 2)
			var me *moodle.Error
			require.ErrorAs(t, err, &me)
			assert.ElementsMatch(t, tc.Kinds, kinds(err))
			if slices.Contains(tc.Kinds, "unavailable") {
				assert.EqualValues(t, 4, calls.Load(), "a transient Moodle error is retried for reads")
			} else {
				assert.EqualValues(t, 1, calls.Load())
			}
		})
	}
}

func TestErrorMatchesNothingElse(t *testing.T) {
	err := &moodle.Error{Function: "f", Exception: `core\exception\moodle_exception`, ErrorCode: "invalidtoken",
		Message: "Invalid token - token not found"}
	assert.True(t, errors.Is(err, moodle.ErrInvalidToken))
	assert.False(t, errors.Is(err, moodle.ErrNotFound))
	assert.False(t, errors.Is(err, errors.New("other")))
	assert.Equal(t, "moodle f: Invalid token - token not found [invalidtoken]", err.Error())
}

// The mapping, file by file: every recorded error answer served as is.
func TestEveryRecordedErrorFileMapsToItsKind(t *testing.T) {
	want := map[string][]string{
		"errors/duplicate_username.create_users.json":              {"invalid_parameter"},
		"errors/function_not_in_service.json":                      {"access_denied", "missing_function"},
		"errors/invalid_field.get_users_by_field.json":             {"invalid_parameter"},
		"errors/invalid_parameter_type.json":                       {"invalid_parameter"},
		"errors/invalid_token.json":                                {"invalid_token"},
		"errors/invalid_token.xml_default_format.xml":              {"invalid_token"},
		"errors/missing_parameter.json":                            {"invalid_parameter"},
		"errors/missing_parameter.xml_default_format.xml":          {"invalid_parameter"},
		"errors/missing_token.json":                                {"invalid_token"},
		"errors/missing_wsfunction.json":                           {"invalid_parameter"},
		"errors/no_permission.student_create_users.json":           {"access_denied"},
		"errors/no_permission.student_other_completion.json":       {"access_denied"},
		"errors/unknown_course.completion_course.json":             {"not_found"},
		"errors/unknown_course.enrolled_users.json":                {"not_found"},
		"errors/unknown_sco.scorm_sco_tracks.json":                 {"not_found"},
		"errors/unknown_scorm.scorm_attempt_count.json":            {"not_found"},
		"errors/unknown_user.completion_activities.json":           {"not_found"},
		"errors/unknown_user.completion_course.json":               {"not_found"},
		"errors/unknown_user.enrol_manual_enrol_users.json":        {"not_found"},
		"errors/unknown_user.scorm_attempt_count.json":             {"not_found"},
		"errors/unknown_wsfunction.json":                           {"not_found"}, // same body as an unknown record
		"errors/usernotenroled.completion_course_site_course.json": {"not_found"},
		"errors/weak_password.create_users.json":                   {"invalid_parameter", "password_policy"},
	}
	fx := moodletest.LoadFixtures(t)
	seen := 0
	for _, r := range fx.Recordings {
		if !r.IsError() {
			continue
		}
		seen++
		kindsWanted, ok := want[r.File]
		if !assert.True(t, ok, "%s: a recorded error without an expected kind", r.File) {
			continue
		}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", r.ContentType)
			_, _ = w.Write(r.Body)
		}))
		c, err := moodle.New(moodle.Config{BaseURL: srv.URL, Token: "t"})
		require.NoError(t, err)
		_, err = c.GetCourses(ctx, 2)
		srv.Close()
		var me *moodle.Error
		require.ErrorAs(t, err, &me, r.File)
		assert.ElementsMatch(t, kindsWanted, kinds(err), r.File)
	}
	assert.Equal(t, len(want), seen)
}
