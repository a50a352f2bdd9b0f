package moodle_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/notifier/adapters/moodle"
	"github.com/acme/notifier/adapters/moodle/moodletest"
	"github.com/acme/notifier/app"
)

func TestFiveHundredsAreUnavailableAndReadsAreRetried(t *testing.T) {
	s := moodletest.New(t)
	c := newClient(t, s)

	s.FailWith(http.StatusBadGateway, 2, "core_course_get_courses_by_field")
	courses, err := c.GetCourses(ctx, 3)
	require.NoError(t, err, "two failures, then the third attempt answers")
	assert.Len(t, courses, 1)
	assert.Equal(t, 3, s.Calls("core_course_get_courses_by_field"))

	s.ResetCounters()
	s.FailWith(http.StatusServiceUnavailable, 0)
	_, err = c.GetCourses(ctx, 3)
	assert.ErrorIs(t, err, app.ErrUnavailable)
	assert.NotErrorIs(t, err, moodle.ErrOutcomeUnknown, "a read has no outcome to lose")
	assert.Equal(t, 4, s.Calls("core_course_get_courses_by_field"), "MaxAttempts (default 4)")
	s.ClearFaults()
}

func TestWritesAreNeverRetried(t *testing.T) {
	s := moodletest.New(t)
	c := newClient(t, s)
	s.FailWith(http.StatusInternalServerError, 0)

	_, err := c.CreateUsers(ctx, moodle.NewUser{Username: "eva", Password: "Eva-2026!", FirstName: "Eva",
		LastName: "Paz", Email: "eva@example.com"})
	assert.ErrorIs(t, err, app.ErrUnavailable)
	assert.ErrorIs(t, err, moodle.ErrOutcomeUnknown, "a 5xx after the request arrived: it may have been applied")
	assert.Equal(t, 1, s.Calls("core_user_create_users"))

	err = c.EnrolUsers(ctx, moodle.Enrolment{UserID: 3, CourseID: 2})
	assert.ErrorIs(t, err, moodle.ErrOutcomeUnknown)
	assert.Equal(t, 1, s.Calls("enrol_manual_enrol_users"))
}

func TestMoodleErrorsAreNotRetried(t *testing.T) {
	s := moodletest.New(t)
	c := newClient(t, s)
	_, err := c.GetUsersByField(ctx, "phone1", "x")
	assert.ErrorIs(t, err, moodle.ErrInvalidParameter)
	_, err = newClient(t, s, func(cfg *moodle.Config) { cfg.Token = "wrong" }).GetCourses(ctx)
	assert.ErrorIs(t, err, moodle.ErrInvalidToken)
	assert.Equal(t, 2, s.TotalCalls())
}

func TestEachAttemptHasItsOwnTimeout(t *testing.T) {
	s := moodletest.New(t)
	c := newClient(t, s, func(cfg *moodle.Config) { cfg.CallTimeout = 100 * time.Millisecond; cfg.MaxAttempts = 2 })
	s.Hang()

	start := time.Now()
	_, err := c.GetEnrolledUsers(ctx, 3, moodle.EnrolledUsersOptions{})
	assert.ErrorIs(t, err, app.ErrUnavailable)
	assert.Less(t, time.Since(start), 2*time.Second)
	assert.Equal(t, 2, s.Calls("core_enrol_get_enrolled_users"), "a timed-out read is retried")

	err = c.EnrolUsers(ctx, moodle.Enrolment{UserID: 3, CourseID: 2})
	assert.ErrorIs(t, err, app.ErrUnavailable)
	assert.ErrorIs(t, err, moodle.ErrOutcomeUnknown, "no answer to a write: unknown")
	assert.Equal(t, 1, s.Calls("enrol_manual_enrol_users"))
	s.ClearFaults()
}

func TestCallerCancellationIsNotUnavailable(t *testing.T) {
	s := moodletest.New(t)
	c := newClient(t, s)
	s.Hang()
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_, err := c.GetCourses(cctx, 3)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.NotErrorIs(t, err, app.ErrUnavailable)
	assert.Equal(t, 1, s.TotalCalls(), "no retry once the caller gave up")
	s.ClearFaults()
}

func TestUnreachableMoodleIsUnavailable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // connection refused from now on
	c, err := moodle.New(moodle.Config{BaseURL: url, Token: "t", BackoffBase: time.Millisecond, BackoffMax: time.Millisecond})
	require.NoError(t, err)

	_, err = c.GetCourses(ctx, 2)
	assert.ErrorIs(t, err, app.ErrUnavailable)
	_, err = c.CreateUsers(ctx, moodle.NewUser{Username: "a", Password: "p", FirstName: "A", LastName: "B", Email: "a@b.c"})
	assert.ErrorIs(t, err, app.ErrUnavailable)
	assert.NotErrorIs(t, err, moodle.ErrOutcomeUnknown, "no connection: the write was never sent")
}

func TestConcurrencyLimitIsHonoured(t *testing.T) {
	s := moodletest.New(t)
	c := newClient(t, s, func(cfg *moodle.Config) { cfg.MaxConcurrent = 3 })
	s.SetDelay(30 * time.Millisecond)

	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			_, err := c.GetCourses(ctx, 3)
			assert.NoError(t, err)
		})
	}
	wg.Wait()
	assert.Equal(t, 20, s.Calls("core_course_get_courses_by_field"))
	assert.Equal(t, 3, s.MaxInFlight(), "never more than MaxConcurrent at the fake, and the limit is used")
}

func TestAnswersThatAreNotMoodlesJSON(t *testing.T) {
	for name, h := range map[string]http.HandlerFunc{
		"html page": func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte("<html><body>Maintenance</body></html>"))
		},
		"404": func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) },
		"php notice before the JSON": func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte("Notice: Undefined index in /var/www/lib.php on line 3\n{\"courses\":[]}"))
		},
		"empty": func(w http.ResponseWriter, r *http.Request) {},
	} {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(h)
			defer srv.Close()
			c, err := moodle.New(moodle.Config{BaseURL: srv.URL, Token: "t"})
			require.NoError(t, err)
			_, err = c.GetCourses(ctx, 2)
			assert.ErrorIs(t, err, moodle.ErrBadResponse)
			assert.NotErrorIs(t, err, app.ErrUnavailable)
			err = c.EnrolUsers(ctx, moodle.Enrolment{UserID: 3, CourseID: 2})
			assert.ErrorIs(t, err, moodle.ErrOutcomeUnknown)
		})
	}
}

func TestNullAnswerIsEmpty(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("null"))
	}))
	defer srv.Close()
	c, err := moodle.New(moodle.Config{BaseURL: srv.URL, Token: "t"})
	require.NoError(t, err)
	users, err := c.GetUsersByID(ctx, 3)
	require.NoError(t, err)
	assert.Empty(t, users)
	require.NoError(t, c.EnrolUsers(ctx, moodle.Enrolment{UserID: 3, CourseID: 2}))
}

func TestRequestShape(t *testing.T) {
	var got *http.Request
	var form map[string][]string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.NoError(t, r.ParseForm())
		got, form = r, r.PostForm
		_, _ = w.Write([]byte("null"))
	}))
	defer srv.Close()
	c, err := moodle.New(moodle.Config{BaseURL: srv.URL + "/", Token: "secret-token"})
	require.NoError(t, err)
	start := time.Unix(1796312687, 0)
	require.NoError(t, c.EnrolUsers(ctx, moodle.Enrolment{UserID: 4, CourseID: 2, Start: start, End: start.Add(time.Hour)}))

	assert.Equal(t, http.MethodPost, got.Method)
	assert.Equal(t, "/webservice/rest/server.php", got.URL.Path)
	assert.Empty(t, got.URL.RawQuery, "the token never goes in the URL")
	assert.Equal(t, "application/x-www-form-urlencoded", got.Header.Get("Content-Type"))
	assert.Equal(t, map[string][]string{
		"wstoken": {"secret-token"}, "wsfunction": {"enrol_manual_enrol_users"}, "moodlewsrestformat": {"json"},
		"enrolments[0][roleid]": {"5"}, "enrolments[0][userid]": {"4"}, "enrolments[0][courseid]": {"2"},
		"enrolments[0][timestart]": {"1796312687"}, "enrolments[0][timeend]": {"1796316287"},
	}, form)
}

func TestBackoffWaitsBetweenReadAttempts(t *testing.T) {
	s := moodletest.New(t)
	c := newClient(t, s, func(cfg *moodle.Config) {
		cfg.BackoffBase, cfg.BackoffMax, cfg.MaxAttempts = 40*time.Millisecond, 80*time.Millisecond, 3
	})
	s.FailWith(http.StatusServiceUnavailable, 0)
	start := time.Now()
	_, err := c.GetCourses(ctx, 3)
	assert.True(t, errors.Is(err, app.ErrUnavailable))
	// pauses of 20..40 ms then 40..80 ms
	assert.GreaterOrEqual(t, time.Since(start), 60*time.Millisecond)
	s.ClearFaults()
}
