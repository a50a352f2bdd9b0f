package domain_test

import (
	"encoding/json"
	"fmt"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/notifier/domain"
	"github.com/acme/notifier/internal/testenv"
)

// loadCompletion decodes an answer of Moodle's
// core_completion_get_activities_completion_status recorded in ../shared.
func loadCompletion(t *testing.T, rel string) []domain.ActivityCompletion {
	t.Helper()
	raw, err := os.ReadFile(testenv.SharedFile(t, rel))
	require.NoError(t, err)
	var body struct {
		Statuses []struct {
			ModName     string `json:"modname"`
			Tracking    int    `json:"tracking"`
			State       int    `json:"state"`
			UserVisible bool   `json:"uservisible"`
		} `json:"statuses"`
	}
	require.NoError(t, json.Unmarshal(raw, &body))
	out := make([]domain.ActivityCompletion, len(body.Statuses))
	for i, s := range body.Statuses {
		out[i] = domain.ActivityCompletion{
			ModName: s.ModName, Tracking: s.Tracking, State: domain.CompletionState(s.State), UserVisible: s.UserVisible,
		}
	}
	return out
}

// The expected numbers are counted by hand from the recorded files. LAB102
// has three tracked SCORM activities (A, B, C), a SCORM with completion off
// (Moodle leaves it out of the answer), a page and an assignment.
func TestScormProgress_RecordedMoodleAnswers(t *testing.T) {
	const lab = "fixtures/moodle/lab102/core_completion_get_activities_completion_status."
	for _, tc := range []struct {
		file            string
		activities      int
		total, done     int
		percent         float64
		wholePercent    int
		progressRuleHit bool // within the default progress rule's 1..99
	}{
		// Nothing done yet.
		{lab + "student1.before.json", 5, 3, 0, 0, 0, false},
		// A completed, B passed (state 1), C not started; the page and the
		// assignment, both complete, do not count; the untracked SCORM is absent.
		{lab + "student1.json", 5, 3, 2, 200.0 / 3, 66, true},
		// A completed, B failed (state 0), C not started; the page, complete, does not count.
		{lab + "student2.json", 5, 3, 1, 100.0 / 3, 33, true},
		// A incomplete: 0 of 3.
		{lab + "student3.json", 5, 3, 0, 0, 0, false},
		// The teacher is not a tracked user (istrackeduser false): every state 0.
		{lab + "teacher1.json", 5, 3, 0, 0, 0, false},
		// One SCORM with a required passing grade: failed gives state 3, no completion.
		{"fixtures/moodle/lab102/labtmp_passgrade/core_completion_get_activities_completion_status.student1.after_failed40.json", 1, 1, 0, 0, 0, false},
		// ... and passed gives state 2, a completion.
		{"fixtures/moodle/lab102/labtmp_passgrade/core_completion_get_activities_completion_status.student1.after_passed90.json", 1, 1, 1, 100, 100, false},
		// The single-SCORM course at the top of the fixtures.
		{"fixtures/moodle/core_completion_get_activities_completion_status.before.json", 1, 1, 0, 0, 0, false},
		{"fixtures/moodle/core_completion_get_activities_completion_status.json", 1, 1, 1, 100, 100, false},
	} {
		t.Run(tc.file, func(t *testing.T) {
			acts := loadCompletion(t, tc.file)
			require.Len(t, acts, tc.activities)

			p := domain.ScormProgress(acts)

			assert.Equal(t, tc.total, p.Total)
			assert.Equal(t, tc.done, p.Completed)
			require.True(t, p.Known())
			assert.InDelta(t, tc.percent, *p.Percent, 1e-9)
			assert.Equal(t, tc.wholePercent, p.WholePercent())
			assert.Equal(t, tc.progressRuleHit, rule("progress").Progress.Contains(p))
		})
	}
}

func TestScormProgress(t *testing.T) {
	scorm := func(state domain.CompletionState) domain.ActivityCompletion {
		return domain.ActivityCompletion{ModName: "scorm", Tracking: 2, State: state, UserVisible: true}
	}
	hidden := func(a domain.ActivityCompletion) domain.ActivityCompletion { a.UserVisible = false; return a }
	untracked := func(a domain.ActivityCompletion) domain.ActivityCompletion { a.Tracking = 0; return a }
	manual := func(a domain.ActivityCompletion) domain.ActivityCompletion { a.Tracking = 1; return a }
	page := domain.ActivityCompletion{ModName: "page", Tracking: 2, State: domain.CompletionComplete, UserVisible: true}
	quiz := domain.ActivityCompletion{ModName: "quiz", Tracking: 2, State: domain.CompletionCompletePass, UserVisible: true}

	for _, tc := range []struct {
		name        string
		acts        []domain.ActivityCompletion
		total, done int
		percent     *float64 // nil: unknown
	}{
		{"no activities", nil, 0, 0, nil},
		{"only other modules, all complete", []domain.ActivityCompletion{page, quiz}, 0, 0, nil},
		{"only a SCORM without tracking, complete", []domain.ActivityCompletion{untracked(scorm(domain.CompletionComplete))}, 0, 0, nil},
		{"only a hidden SCORM, complete", []domain.ActivityCompletion{hidden(scorm(domain.CompletionComplete))}, 0, 0, nil},
		{"state 0 incomplete", []domain.ActivityCompletion{scorm(domain.CompletionIncomplete)}, 1, 0, ptr(0.0)},
		{"state 1 complete", []domain.ActivityCompletion{scorm(domain.CompletionComplete)}, 1, 1, ptr(100.0)},
		{"state 2 complete-pass", []domain.ActivityCompletion{scorm(domain.CompletionCompletePass)}, 1, 1, ptr(100.0)},
		{"state 3 complete-fail is not a completion", []domain.ActivityCompletion{scorm(domain.CompletionCompleteFail)}, 1, 0, ptr(0.0)},
		{"manual tracking counts", []domain.ActivityCompletion{manual(scorm(domain.CompletionComplete)), scorm(domain.CompletionIncomplete)}, 2, 1, ptr(50.0)},
		{"all four states", []domain.ActivityCompletion{
			scorm(domain.CompletionIncomplete), scorm(domain.CompletionComplete),
			scorm(domain.CompletionCompletePass), scorm(domain.CompletionCompleteFail),
		}, 4, 2, ptr(50.0)},
		{"other modules complete do not raise it", []domain.ActivityCompletion{
			scorm(domain.CompletionIncomplete), scorm(domain.CompletionIncomplete), page, quiz,
		}, 2, 0, ptr(0.0)},
		{"untracked complete SCORM counts in neither", []domain.ActivityCompletion{
			scorm(domain.CompletionComplete), scorm(domain.CompletionIncomplete), untracked(scorm(domain.CompletionComplete)),
		}, 2, 1, ptr(50.0)},
		{"hidden SCORM counts in neither, complete or not", []domain.ActivityCompletion{
			scorm(domain.CompletionComplete), scorm(domain.CompletionIncomplete),
			hidden(scorm(domain.CompletionComplete)), hidden(scorm(domain.CompletionIncomplete)),
		}, 2, 1, ptr(50.0)},
		{"hidden incomplete SCORM does not hold back 100", []domain.ActivityCompletion{
			scorm(domain.CompletionComplete), hidden(scorm(domain.CompletionIncomplete)),
		}, 1, 1, ptr(100.0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := domain.ScormProgress(tc.acts)
			assert.Equal(t, tc.total, p.Total)
			assert.Equal(t, tc.done, p.Completed)
			if tc.percent == nil {
				assert.Nil(t, p.Percent)
				assert.False(t, p.Known())
				return
			}
			require.NotNil(t, p.Percent)
			assert.InDelta(t, *tc.percent, *p.Percent, 1e-9)
		})
	}
}

func TestNewProgress(t *testing.T) {
	for _, tc := range []struct {
		total, completed int
		wantCompleted    int
		percent          *float64
		whole            int
	}{
		{0, 0, 0, nil, 0},
		{0, 3, 0, nil, 0},
		{-2, 1, 0, nil, 0},
		{3, 0, 0, ptr(0.0), 0},
		{3, 1, 1, ptr(100.0 / 3), 33},
		{3, 3, 3, ptr(100.0), 100},
		{4, 5, 4, ptr(100.0), 100}, // clamped to total
		{4, -1, 0, ptr(0.0), 0},    // clamped to zero
		{200, 1, 1, ptr(0.5), 0},
		{100, 1, 1, ptr(1.0), 1},
		{100, 99, 99, ptr(99.0), 99},
		{200, 199, 199, ptr(99.5), 99},
		{1000, 999, 999, ptr(99.9), 99},
	} {
		t.Run(fmt.Sprintf("%d_of_%d", tc.completed, tc.total), func(t *testing.T) {
			p := domain.NewProgress(tc.total, tc.completed)
			assert.Equal(t, tc.whole, p.WholePercent())
			if tc.percent == nil {
				assert.Equal(t, domain.Progress{}, p)
				assert.False(t, p.Known())
				return
			}
			assert.Equal(t, tc.total, p.Total)
			assert.Equal(t, tc.wantCompleted, p.Completed)
			require.NotNil(t, p.Percent)
			assert.InDelta(t, *tc.percent, *p.Percent, 1e-9)
		})
	}
}

func TestProgressEqual(t *testing.T) {
	half := domain.NewProgress(4, 2)
	samePercent := domain.NewProgress(2, 1) // 50 % too, from other counts
	for _, tc := range []struct {
		name string
		a, b domain.Progress
		want bool
	}{
		{"both unknown", domain.Progress{}, domain.Progress{}, true},
		{"same figures, distinct pointers", half, domain.NewProgress(4, 2), true},
		{"unknown and known", domain.Progress{}, domain.NewProgress(4, 0), false},
		{"other counts, same percent", half, samePercent, false},
		{"other percent", half, domain.NewProgress(4, 3), false},
		{"same counts, other percent", half, domain.Progress{Total: 4, Completed: 2, Percent: ptr(49.0)}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.a.Equal(tc.b))
			assert.Equal(t, tc.want, tc.b.Equal(tc.a))
		})
	}
}

// Every count up to 1000 activities: the whole percent is never rounded up
// to a value the student has not reached, and 100 only when all are done.
func TestNewProgress_WholePercentNeverOvershoots(t *testing.T) {
	for total := 1; total <= 1000; total++ {
		for done := 0; done <= total; done++ {
			w := domain.NewProgress(total, done).WholePercent()
			if w*total > done*100 || (w+1)*total <= done*100 {
				t.Fatalf("%d of %d: whole percent %d", done, total, w)
			}
		}
	}
}

func TestProgressRangeContains(t *testing.T) {
	r := domain.ProgressRange{Min: 1, Max: 99}
	for _, tc := range []struct {
		name string
		p    domain.Progress
		want bool
	}{
		{"unknown", domain.Progress{}, false},
		{"0", percent(0), false},
		{"0.99", percent(0.99), false},
		{"1", percent(1), true},
		{"50", percent(50), true},
		{"99", percent(99), true},
		{"99.5", percent(99.5), true},
		{"99.999", percent(99.999), true},
		{"100", percent(100), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, r.Contains(tc.p))
		})
	}
	full := domain.ProgressRange{Min: 100, Max: 100}
	assert.True(t, full.Contains(percent(100)))
	assert.False(t, full.Contains(percent(99.999)))
	assert.False(t, domain.ProgressRange{Min: 0, Max: 100}.Contains(domain.Progress{}), "unknown progress is in no range")
}
