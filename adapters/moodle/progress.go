package moodle

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/acme/notifier/app"
	"github.com/acme/notifier/domain"
)

// BulkProgressFunction is the plugin's bulk function.
const BulkProgressFunction = "local_whatsappnotifier_get_course_progress"

var _ app.ProgressSource = (*Client)(nil)

// CourseProgressReport is the answer of the plugin's bulk function:
//
//	{"courseid": 3, "scorm_total": 3,
//	 "users": [{"userid": 3, "scorm_total": 3, "scorm_completed": 2, "percent": 66.66666666666667}],
//	 "warnings": [{"item": "user", "itemid": 9, "warningcode": "notenrolled", "message": "..."}]}
//
// Users asked for who are not enrolled are left out, with a notenrolled
// warning each; suspended enrolments are included.
type CourseProgressReport struct {
	CourseID   int64
	ScormTotal int
	Users      []UserProgress
	Warnings   []Warning
}

// UserProgress is one user's line of the report.
type UserProgress struct {
	UserID         int64
	ScormTotal     int
	ScormCompleted int
	Percent        *float64 // nil when the course has no tracked SCORM activity
}

// Progress is the line as the domain counts it (from the counts, so that
// it is the same number whichever path produced it).
func (u UserProgress) Progress() domain.Progress {
	return domain.NewProgress(u.ScormTotal, u.ScormCompleted)
}

type wireReport struct {
	CourseID   flexInt `json:"courseid"`
	ScormTotal flexInt `json:"scorm_total"`
	Users      []struct {
		UserID         flexInt  `json:"userid"`
		ScormTotal     flexInt  `json:"scorm_total"`
		ScormCompleted flexInt  `json:"scorm_completed"`
		Percent        *float64 `json:"percent"`
	} `json:"users"`
	Warnings []wireWarning `json:"warnings"`
}

// BulkCourseProgress calls the plugin's local_whatsappnotifier_get_course_progress
// for a course: every enrolled user, or only userIDs (sent in chunks of
// Config.MaxListParams). A site without the plugin answers ErrNotFound
// (Moodle's unknown-function answer) or ErrMissingFunction.
func (c *Client) BulkCourseProgress(ctx context.Context, courseID int64, userIDs []int64) (CourseProgressReport, error) {
	rep := CourseProgressReport{CourseID: courseID}
	batches := [][]int64{nil}
	if len(userIDs) > 0 {
		batches = chunks(userIDs, c.cfg.MaxListParams)
	}
	for _, batch := range batches {
		p := (&params{}).setInt("courseid", courseID)
		p.list("userids", ids(batch))
		var out wireReport
		if err := c.read(ctx, BulkProgressFunction, p, &out); err != nil {
			return CourseProgressReport{}, err
		}
		rep.CourseID, rep.ScormTotal = int64(out.CourseID), int(out.ScormTotal)
		for _, u := range out.Users {
			rep.Users = append(rep.Users, UserProgress{UserID: int64(u.UserID), ScormTotal: int(u.ScormTotal),
				ScormCompleted: int(u.ScormCompleted), Percent: u.Percent})
		}
		rep.Warnings = append(rep.Warnings, toWarnings(out.Warnings)...)
	}
	return rep, nil
}

// CourseProgress implements app.ProgressSource: the SCORM progress of the
// course's enrolled users (or of those of moodleUserIDs who are enrolled),
// keyed by Moodle user id. It asks the plugin's bulk function first, one
// call per course; when Moodle says the function is not there it falls back
// to core functions: the enrolled users, then one activity-completion call
// per user, Config.ProgressConcurrency at a time. Both paths give the same
// numbers (domain.NewProgress over the same counts). After a fallback caused
// by a missing function, the bulk function is not asked again for
// Config.BulkRecheck.
func (c *Client) CourseProgress(ctx context.Context, moodleCourseID int64, moodleUserIDs []int64) (map[int64]domain.Progress, error) {
	ambiguous := false
	if !c.bulkKnownMissing() {
		rep, err := c.BulkCourseProgress(ctx, moodleCourseID, moodleUserIDs)
		switch {
		case err == nil:
			out := make(map[int64]domain.Progress, len(rep.Users))
			for _, u := range rep.Users {
				out[u.UserID] = u.Progress()
			}
			return out, nil
		case errors.Is(err, ErrMissingFunction):
			c.markBulkMissing(ctx, err)
		case errors.Is(err, ErrNotFound):
			// Unknown function and unknown course look alike; the
			// fallback's first call tells them apart.
			ambiguous = true
		default:
			return nil, err
		}
	}
	enrolled, err := c.AllEnrolledUsers(ctx, moodleCourseID, EnrolledUsersOptions{UserFields: []string{"id"}},
		c.cfg.EnrolPageSize)
	if err != nil {
		return nil, fmt.Errorf("moodle progress of course %d: %w", moodleCourseID, err)
	}
	if ambiguous {
		c.markBulkMissing(ctx, errors.New("the course exists but the bulk function answered not found"))
	}
	return c.perUserProgress(ctx, moodleCourseID, targets(enrolled, moodleUserIDs))
}

// targets are the enrolled users to read: all, or those asked for (once
// each, in the order asked), like the plugin.
func targets(enrolled []EnrolledUser, wanted []int64) []int64 {
	in := make(map[int64]bool, len(enrolled))
	var all []int64
	for _, u := range enrolled {
		in[u.ID] = true
		all = append(all, u.ID)
	}
	if len(wanted) == 0 {
		return all
	}
	var out []int64
	for _, id := range wanted {
		if in[id] && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// perUserProgress reads each user's progress with a bounded number of calls
// at once; the first error stops the rest.
func (c *Client) perUserProgress(ctx context.Context, courseID int64, userIDs []int64) (map[int64]domain.Progress, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu       sync.Mutex
		out      = make(map[int64]domain.Progress, len(userIDs))
		firstErr error
		wg       sync.WaitGroup
		work     = make(chan int64)
	)
	for range min(c.cfg.ProgressConcurrency, max(len(userIDs), 1)) {
		wg.Go(func() {
			for id := range work {
				p, err := c.UserProgress(ctx, courseID, id)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = fmt.Errorf("moodle progress of user %d in course %d: %w", id, courseID, err)
					cancel()
				}
				if err == nil {
					out[id] = p
				}
				mu.Unlock()
			}
		})
	}
feed:
	for _, id := range userIDs {
		select {
		case work <- id:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

func (c *Client) bulkKnownMissing() bool {
	return c.now().UnixNano() < c.bulkMissingUntil.Load()
}

func (c *Client) markBulkMissing(ctx context.Context, why error) {
	if !c.bulkKnownMissing() {
		c.log.InfoContext(ctx, "moodle: the plugin's bulk progress function is not available; using core functions",
			"function", BulkProgressFunction, "recheck_in", c.cfg.BulkRecheck, "reason", why)
	}
	c.bulkMissingUntil.Store(c.now().Add(c.cfg.BulkRecheck).UnixNano())
}
