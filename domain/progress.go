package domain

import "math"

// Progress is a student's SCORM progress in a course (CONTRACT section 3).
// Percent is nil when the course has no tracked SCORM activity, and then the
// progress-based rules do not apply.
type Progress struct {
	Total     int
	Completed int
	Percent   *float64
}

// Known reports whether the progress has a percentage.
func (p Progress) Known() bool { return p.Percent != nil }

// Equal reports whether p and q are the same figures: the same counts and
// the same percentage, or both unknown.
func (p Progress) Equal(q Progress) bool {
	if p.Total != q.Total || p.Completed != q.Completed || p.Known() != q.Known() {
		return false
	}
	return !p.Known() || *p.Percent == *q.Percent
}

// WholePercent is the percentage rounded down, the unit rules compare in:
// 99.5 % is still 99 %, and only a finished course reaches 100.
func (p Progress) WholePercent() int {
	if p.Percent == nil {
		return 0
	}
	return int(math.Floor(*p.Percent))
}

// NewProgress builds a Progress from counts, with a nil percentage when there
// is nothing to count.
func NewProgress(total, completed int) Progress {
	if total <= 0 {
		return Progress{}
	}
	completed = max(0, min(completed, total))
	pct := float64(completed) * 100 / float64(total)
	return Progress{Total: total, Completed: completed, Percent: &pct}
}

// CompletionState is Moodle's activity completion state.
type CompletionState int

const (
	CompletionIncomplete   CompletionState = 0
	CompletionComplete     CompletionState = 1
	CompletionCompletePass CompletionState = 2
	CompletionCompleteFail CompletionState = 3
)

// ActivityCompletion is one activity's completion status for one student, as
// core_completion_get_activities_completion_status reports it.
type ActivityCompletion struct {
	ModName     string // "scorm", "page", ...
	Tracking    int    // 0 none, 1 manual, 2 automatic
	State       CompletionState
	UserVisible bool
}

// ScormProgress counts the visible SCORM activities with completion tracking
// and those the student completed (complete or complete-pass; a failed
// attempt is not a completion).
func ScormProgress(activities []ActivityCompletion) Progress {
	total, done := 0, 0
	for _, a := range activities {
		if a.ModName != "scorm" || a.Tracking == 0 || !a.UserVisible {
			continue
		}
		total++
		if a.State == CompletionComplete || a.State == CompletionCompletePass {
			done++
		}
	}
	return NewProgress(total, done)
}
