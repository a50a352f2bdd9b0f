package moodle_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/notifier/adapters/moodle"
	"github.com/acme/notifier/adapters/moodle/moodletest"
	"github.com/acme/notifier/app"
	"github.com/acme/notifier/domain"
)

const (
	completionFn = "core_completion_get_activities_completion_status"
	enrolledFn   = "core_enrol_get_enrolled_users"
)

// lab102: three tracked SCORMs (A, B, C), an untracked one, a page and an
// assignment. student1 (3) completed A and passed B, student2 (4) completed A
// and failed B, student3 (5) has A incomplete, teacher1 (6) is not tracked.
func lab102Want() map[int64]domain.Progress {
	return map[int64]domain.Progress{
		3: domain.NewProgress(3, 2), 4: domain.NewProgress(3, 1), 5: domain.NewProgress(3, 0), 6: domain.NewProgress(3, 0),
	}
}

func TestBulkAndFallbackGiveTheSamePercentagesOnLab102(t *testing.T) {
	bulkSite := moodletest.New(t)
	bulk, err := newClient(t, bulkSite).CourseProgress(ctx, 3, nil)
	require.NoError(t, err)
	assert.Equal(t, 1, bulkSite.Calls(moodle.BulkProgressFunction))
	assert.Equal(t, 1, bulkSite.TotalCalls(), "one call for the whole course")

	for name, site := range map[string]*moodletest.Server{
		"plugin absent": moodletest.New(t, moodletest.WithoutBulk()),
		"function outside the service": func() *moodletest.Server {
			s := moodletest.New(t)
			s.BulkOutOfService()
			return s
		}(),
	} {
		t.Run(name, func(t *testing.T) {
			fallback, err := newClient(t, site).CourseProgress(ctx, 3, nil)
			require.NoError(t, err)
			assert.Equal(t, 1, site.Calls(moodle.BulkProgressFunction))
			assert.Equal(t, 1, site.Calls(enrolledFn))
			assert.Equal(t, 4, site.Calls(completionFn), "one per enrolled user")
			assert.Equal(t, 4, site.Replays(), "the per-user answers are lab102's recorded completion files")

			assert.Equal(t, bulk, fallback)
			assert.Equal(t, lab102Want(), fallback)
			for id, p := range fallback {
				require.NotNil(t, p.Percent, "user %d", id)
				assert.Equal(t, *bulk[id].Percent, *p.Percent, "user %d: the very same float", id)
			}
		})
	}
	assert.InDelta(t, 66.67, *bulk[3].Percent, 0.005)
	assert.InDelta(t, 33.33, *bulk[4].Percent, 0.005)
	assert.Equal(t, 66, bulk[3].WholePercent())
}

func TestCourseProgressOfSomeUsers(t *testing.T) {
	want := map[int64]domain.Progress{5: domain.NewProgress(3, 0), 3: domain.NewProgress(3, 2)}
	users := []int64{5, 3, 999, 3} // 999 is not enrolled: left out, as the plugin does

	bulkSite := moodletest.New(t)
	got, err := newClient(t, bulkSite).CourseProgress(ctx, 3, users)
	require.NoError(t, err)
	assert.Equal(t, want, got)

	site := moodletest.New(t, moodletest.WithoutBulk())
	got, err = newClient(t, site).CourseProgress(ctx, 3, users)
	require.NoError(t, err)
	assert.Equal(t, want, got)
	assert.Equal(t, 2, site.Calls(completionFn))
}

func TestBulkReport(t *testing.T) {
	rep, err := newClient(t, moodletest.New(t)).BulkCourseProgress(ctx, 3, []int64{3, 999})
	require.NoError(t, err)
	assert.Equal(t, int64(3), rep.CourseID)
	assert.Equal(t, 3, rep.ScormTotal)
	require.Len(t, rep.Users, 1)
	assert.Equal(t, int64(3), rep.Users[0].UserID)
	assert.Equal(t, 2, rep.Users[0].ScormCompleted)
	assert.Equal(t, 200.0/3, *rep.Users[0].Percent)
	assert.Equal(t, []moodle.Warning{{Item: "user", ItemID: 999, WarningCode: "notenrolled",
		Message: "The user is not enrolled in the course"}}, rep.Warnings)
}

func TestBulkSplitsLongUserLists(t *testing.T) {
	s := moodletest.New(t)
	c := newClient(t, s, func(cfg *moodle.Config) { cfg.MaxListParams = 2 })
	rep, err := c.BulkCourseProgress(ctx, 3, []int64{3, 4, 5, 6, 7})
	require.NoError(t, err)
	assert.Len(t, rep.Users, 4)
	assert.Len(t, rep.Warnings, 1)
	assert.Equal(t, 3, s.Calls(moodle.BulkProgressFunction))
}

// Both paths follow changes the same way: new completions, a hidden SCORM,
// an untracked one, and a course with no SCORM at all (no percentage).
func TestBothPathsAgreeAfterChanges(t *testing.T) {
	build := func(opts ...moodletest.Option) (*moodletest.Server, int64) {
		s := moodletest.New(t, opts...)
		s.SetCompletion(4, 5, 1) // student3 completes A
		s.SetCompletion(6, 3, 2) // student1 passes C
		s.SetCompletion(6, 4, 3) // student2 fails C
		hidden := s.AddActivity(moodletest.Activity{CourseID: 3, ModName: "scorm", Instance: 9, Tracking: 2})
		s.SetCompletion(hidden.CMID, 4, 1)
		s.AddActivity(moodletest.Activity{CourseID: 3, ModName: "scorm", Instance: 10, Tracking: 0, Visible: true})
		empty := s.AddCourse(moodletest.Course{ShortName: "NOSCORM", FullName: "No SCORM", CategoryID: 1,
			Visible: true, EnableCompletion: true})
		s.AddActivity(moodletest.Activity{CourseID: empty.ID, ModName: "page", Tracking: 2, Visible: true})
		s.Enrol(moodletest.Enrolment{UserID: 5, CourseID: empty.ID, RoleIDs: []int64{moodletest.RoleStudent}})
		return s, empty.ID
	}
	bulkSite, empty := build()
	fallbackSite, _ := build(moodletest.WithoutBulk())
	bc, fc := newClient(t, bulkSite), newClient(t, fallbackSite)

	b, err := bc.CourseProgress(ctx, 3, nil)
	require.NoError(t, err)
	f, err := fc.CourseProgress(ctx, 3, nil)
	require.NoError(t, err)
	assert.Equal(t, map[int64]domain.Progress{
		3: domain.NewProgress(3, 3), 4: domain.NewProgress(3, 1), 5: domain.NewProgress(3, 1), 6: domain.NewProgress(3, 0),
	}, b)
	assert.Equal(t, b, f)
	assert.Zero(t, fallbackSite.Replays(), "the model answered: the state changed")

	b, err = bc.CourseProgress(ctx, empty, nil)
	require.NoError(t, err)
	f, err = fc.CourseProgress(ctx, empty, nil)
	require.NoError(t, err)
	assert.Equal(t, map[int64]domain.Progress{5: {}}, b)
	assert.Equal(t, b, f)
	assert.False(t, b[5].Known())
}

func TestFallbackIsRememberedUntilRecheck(t *testing.T) {
	s := moodletest.New(t, moodletest.WithoutBulk())
	c := newClient(t, s, func(cfg *moodle.Config) { cfg.BulkRecheck = time.Hour })
	now := time.Now()
	moodle.SetNow(c, func() time.Time { return now })

	_, err := c.CourseProgress(ctx, 3, nil)
	require.NoError(t, err)
	_, err = c.CourseProgress(ctx, 2, nil)
	require.NoError(t, err)
	assert.Equal(t, 1, s.Calls(moodle.BulkProgressFunction), "not asked again within BulkRecheck")

	s.RestoreBulk()
	now = now.Add(2 * time.Hour)
	got, err := c.CourseProgress(ctx, 3, nil)
	require.NoError(t, err)
	assert.Equal(t, 2, s.Calls(moodle.BulkProgressFunction), "asked again after BulkRecheck")
	assert.Equal(t, lab102Want(), got)
	assert.Equal(t, 6, s.Calls(completionFn), "course 3 (4 users) and course 2 (2 users), then the bulk function")
}

// An unknown course and an unknown function look alike from the bulk
// function; the fallback's first call tells them apart.
func TestUnknownCourseIsNotTakenForAMissingPlugin(t *testing.T) {
	s := moodletest.New(t)
	c := newClient(t, s)
	_, err := c.CourseProgress(ctx, 999999, nil)
	assert.ErrorIs(t, err, moodle.ErrNotFound)
	_, err = c.CourseProgress(ctx, 3, nil)
	require.NoError(t, err)
	assert.Equal(t, 2, s.Calls(moodle.BulkProgressFunction), "still asking the bulk function")
	assert.Zero(t, s.Calls(completionFn))
}

func TestFallbackConcurrencyIsBounded(t *testing.T) {
	s := moodletest.New(t, moodletest.WithoutBulk())
	for i := range 12 {
		u := s.AddUser(moodletest.User{Username: "bulk" + string(rune('a'+i)), FirstName: "B", LastName: "U",
			Email: "b" + string(rune('a'+i)) + "@example.com"})
		s.Enrol(moodletest.Enrolment{UserID: u.ID, CourseID: 3, RoleIDs: []int64{moodletest.RoleStudent}})
	}
	c := newClient(t, s, func(cfg *moodle.Config) { cfg.ProgressConcurrency = 2 })
	s.SetDelay(20 * time.Millisecond)
	got, err := c.CourseProgress(ctx, 3, nil)
	require.NoError(t, err)
	assert.Len(t, got, 16)
	assert.Equal(t, 16, s.Calls(completionFn))
	assert.Equal(t, 2, s.MaxInFlight())
}

func TestFallbackStopsAtTheFirstError(t *testing.T) {
	s := moodletest.New(t, moodletest.WithoutBulk())
	c := newClient(t, s, func(cfg *moodle.Config) { cfg.ProgressConcurrency = 1 })
	s.FailWith(http.StatusServiceUnavailable, 0, completionFn)
	_, err := c.CourseProgress(ctx, 3, nil)
	assert.ErrorIs(t, err, app.ErrUnavailable)
	assert.Equal(t, 4, s.Calls(completionFn), "the first user's attempts, then nothing more")
	s.ClearFaults()
}

func TestBulkErrorsOtherThanMissingAreReturned(t *testing.T) {
	s := moodletest.New(t)
	c := newClient(t, s, func(cfg *moodle.Config) { cfg.Token = moodletest.StudentToken })
	_, err := c.CourseProgress(ctx, 3, nil)
	assert.ErrorIs(t, err, moodle.ErrAccessDenied)
	assert.Zero(t, s.Calls(enrolledFn), "no fallback for a permission error")
}

var _ app.ProgressSource = (*moodle.Client)(nil)
