package moodle

import (
	"context"
	"time"

	"github.com/acme/notifier/domain"
)

// ActivityStatus is one activity's completion for one user, as
// core_completion_get_activities_completion_status reports it. Activities
// whose completion is off are not listed.
type ActivityStatus struct {
	CMID              int64
	ModName           string // scorm, page, assign, ...
	Instance          int64
	State             domain.CompletionState
	TimeCompleted     time.Time
	Tracking          int // 0 none, 1 manual, 2 automatic
	OverrideBy        int64
	HasCompletion     bool
	IsAutomatic       bool
	IsTrackedUser     bool // false for users who are not tracked (teachers, not enrolled, suspended)
	UserVisible       bool
	IsOverallComplete bool
}

type wireStatus struct {
	CMID              flexInt  `json:"cmid"`
	ModName           string   `json:"modname"`
	Instance          flexInt  `json:"instance"`
	State             flexInt  `json:"state"`
	TimeCompleted     flexInt  `json:"timecompleted"`
	Tracking          flexInt  `json:"tracking"`
	OverrideBy        flexInt  `json:"overrideby"`
	HasCompletion     flexBool `json:"hascompletion"`
	IsAutomatic       flexBool `json:"isautomatic"`
	IsTrackedUser     flexBool `json:"istrackeduser"`
	UserVisible       *bool    `json:"uservisible"`
	IsOverallComplete flexBool `json:"isoverallcomplete"`
}

// ActivitiesCompletion reads a user's activity completion in a course. An
// unknown user or course answers ErrNotFound; a user who is not enrolled is
// not an error (IsTrackedUser false).
func (c *Client) ActivitiesCompletion(ctx context.Context, courseID, userID int64) ([]ActivityStatus, error) {
	p := (&params{}).setInt("courseid", courseID).setInt("userid", userID)
	var out struct {
		Statuses []wireStatus  `json:"statuses"`
		Warnings []wireWarning `json:"warnings"`
	}
	if err := c.read(ctx, "core_completion_get_activities_completion_status", p, &out); err != nil {
		return nil, err
	}
	statuses := make([]ActivityStatus, len(out.Statuses))
	for i, w := range out.Statuses {
		statuses[i] = ActivityStatus{
			CMID: int64(w.CMID), ModName: w.ModName, Instance: int64(w.Instance),
			State: domain.CompletionState(w.State), TimeCompleted: unixTime(int64(w.TimeCompleted)),
			Tracking: int(w.Tracking), OverrideBy: int64(w.OverrideBy), HasCompletion: bool(w.HasCompletion),
			IsAutomatic: bool(w.IsAutomatic), IsTrackedUser: bool(w.IsTrackedUser),
			UserVisible:       w.UserVisible == nil || *w.UserVisible, // absent before Moodle 3.11: visible
			IsOverallComplete: bool(w.IsOverallComplete),
		}
	}
	return statuses, nil
}

// Activities converts statuses to the domain's view of them.
func Activities(statuses []ActivityStatus) []domain.ActivityCompletion {
	out := make([]domain.ActivityCompletion, len(statuses))
	for i, s := range statuses {
		out[i] = domain.ActivityCompletion{ModName: s.ModName, Tracking: s.Tracking, State: s.State,
			UserVisible: s.UserVisible}
	}
	return out
}

// UserProgress is one user's SCORM progress in a course through core
// functions (one call): domain.ScormProgress over their activity statuses.
func (c *Client) UserProgress(ctx context.Context, courseID, userID int64) (domain.Progress, error) {
	statuses, err := c.ActivitiesCompletion(ctx, courseID, userID)
	if err != nil {
		return domain.Progress{}, err
	}
	return domain.ScormProgress(Activities(statuses)), nil
}
