package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/acme/notifier/domain"
)

// SyncAbandonedAfter is how long a running sync may go without a heartbeat
// before FailAbandoned declares it abandoned (its process died).
const SyncAbandonedAfter = 10 * time.Minute

// MaxSyncCourses bounds the courses one sync may name.
const MaxSyncCourses = 1000

// maxSyncErrors bounds the errors a sync keeps in its record.
const maxSyncErrors = 5

// SyncHandler imports students and enrolments from Moodle (POST /syncs,
// notifier sync): the enrolled users of the named courses, or of every
// visible course that has not ended, with their roles, phone, language and
// SCORM progress. Enrolments it brings in are Imported: they began before
// the notifier knew of them, so the rules for new enrolments (the welcome)
// skip them; a sync evaluates no rule at all.
//
// A sync changes only what differs from Moodle, so a second sync of
// unchanged data writes nothing. It never clears a phone, language, time
// zone or email that Moodle does not show (the service account may not see
// hidden fields), and it never moves an enrollment's dates, which Moodle's
// listing does not give. Courses are imported SyncConcurrency at a time,
// their users in pages of SyncPageSize.
type SyncHandler struct {
	adminBase
	roles       []string // the roles the rules message
	bg          context.Context
	pageSize    int
	concurrency int
	running     sync.WaitGroup
}

// Start records a sync and runs it in the background; the sync record
// tells how it goes. Empty moodleCourseIDs: every visible course that has
// not ended.
func (h *SyncHandler) Start(ctx context.Context, moodleCourseIDs []int64) (Sync, error) {
	sc, err := h.create(ctx, moodleCourseIDs)
	if err != nil {
		return Sync{}, err
	}
	h.running.Add(1)
	go func() {
		defer h.running.Done()
		if _, err := h.run(h.bg, sc); err != nil {
			h.log.ErrorContext(h.bg, "sync", "sync_id", sc.ID, "err", err)
		}
	}()
	return sc, nil
}

// Run records a sync and runs it to its end (the CLI's --wait).
func (h *SyncHandler) Run(ctx context.Context, moodleCourseIDs []int64) (Sync, error) {
	sc, err := h.create(ctx, moodleCourseIDs)
	if err != nil {
		return Sync{}, err
	}
	return h.run(ctx, sc)
}

// Wait blocks until the syncs started in the background have ended.
func (h *SyncHandler) Wait() { h.running.Wait() }

// Get returns one sync, or ErrNotFound.
func (h *SyncHandler) Get(ctx context.Context, id int64) (Sync, error) {
	return h.admin.GetSync(ctx, id)
}

// FailAbandoned marks failed the syncs whose process died while running
// them (no heartbeat for SyncAbandonedAfter).
func (h *SyncHandler) FailAbandoned(ctx context.Context) (int, error) {
	now := h.now()
	return h.admin.FailAbandonedSyncs(ctx, now.Add(-SyncAbandonedAfter), now)
}

func (h *SyncHandler) create(ctx context.Context, moodleCourseIDs []int64) (Sync, error) {
	if err := h.needMoodle(); err != nil {
		return Sync{}, err
	}
	if len(moodleCourseIDs) > MaxSyncCourses {
		return Sync{}, invalid("moodle_course_ids", fmt.Sprintf("name at most %d courses", MaxSyncCourses))
	}
	var ids []int64
	for i, id := range moodleCourseIDs {
		if id <= 0 {
			return Sync{}, invalid(fmt.Sprintf("moodle_course_ids[%d]", i), "must be a positive integer")
		}
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	sc, err := h.admin.CreateSync(ctx, ids, h.now())
	if err != nil {
		return Sync{}, fmt.Errorf("record sync: %w", err)
	}
	h.log.InfoContext(ctx, "sync started", "sync_id", sc.ID, "moodle_course_ids", ids)
	return sc, nil
}

// syncRun is the state of one running sync, shared by its courses.
type syncRun struct {
	h      *SyncHandler
	id     int64
	mu     sync.Mutex
	counts SyncCounts
	errs   []string
	nerrs  int
}

func (r *syncRun) fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.nerrs++
	if len(r.errs) < maxSyncErrors {
		r.errs = append(r.errs, err.Error())
	}
}

func (r *syncRun) add(fn func(c *SyncCounts)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fn(&r.counts)
}

func (r *syncRun) snapshot() SyncCounts {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.counts
}

func (r *syncRun) message() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	msg := strings.Join(r.errs, "; ")
	if more := r.nerrs - len(r.errs); more > 0 {
		msg += fmt.Sprintf("; and %d more", more)
	}
	return msg
}

// heartbeat stores the counts so far.
func (r *syncRun) heartbeat(ctx context.Context) {
	if _, err := r.h.admin.SaveSyncProgress(ctx, r.id, r.snapshot(), r.h.now()); err != nil {
		r.h.log.WarnContext(ctx, "save sync progress", "sync_id", r.id, "err", err)
	}
}

// run imports every course of the sync and records how it ended.
func (h *SyncHandler) run(ctx context.Context, sc Sync) (Sync, error) {
	r := &syncRun{h: h, id: sc.ID}
	courses, err := h.courses(ctx, sc.MoodleCourseIDs, r)
	if err != nil {
		r.fail(err)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(h.concurrency)
	for _, c := range courses {
		g.Go(func() error {
			if err := h.syncCourse(gctx, r, c); err != nil {
				r.fail(fmt.Errorf("course %d: %w", c.ID, err))
			}
			return nil
		})
	}
	_ = g.Wait()
	if err := ctx.Err(); err != nil {
		r.fail(fmt.Errorf("interrupted: %w", err))
	}

	status := SyncDone
	if r.nerrs > 0 {
		status = SyncFailed
	}
	// The record is written even when ctx ended (a shutdown).
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	counts := r.snapshot()
	if _, err := h.admin.FinishSync(fctx, sc.ID, status, counts, r.message(), h.now()); err != nil {
		return Sync{}, fmt.Errorf("finish sync %d: %w", sc.ID, err)
	}
	h.log.InfoContext(ctx, "sync finished", "sync_id", sc.ID, "status", status, "courses", counts.Courses,
		"added", counts.Added, "updated", counts.Updated, "skipped", counts.Skipped, "failed", counts.Failed)
	return h.admin.GetSync(fctx, sc.ID)
}

// courses are the Moodle courses to import: those named (an unknown one is
// an error of the sync), or every visible course that has not ended.
func (h *SyncHandler) courses(ctx context.Context, ids []int64, r *syncRun) ([]MoodleCourseInfo, error) {
	all, err := h.moodle.Courses(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("list Moodle courses: %w", err)
	}
	if len(ids) > 0 {
		var out []MoodleCourseInfo
		for _, id := range ids {
			i := slices.IndexFunc(all, func(c MoodleCourseInfo) bool { return c.ID == id })
			if i < 0 {
				r.fail(fmt.Errorf("course %d: %w", id, ErrMoodleNotFound))
				continue
			}
			out = append(out, all[i])
		}
		return out, nil
	}
	today := domain.DateOf(h.now(), h.settings.Location)
	var out []MoodleCourseInfo
	for _, c := range all {
		if c.Visible && !c.course().HasEnded(today, h.settings.Location) {
			out = append(out, c)
		}
	}
	return out, nil
}

// syncCourse imports one course and its enrolled users, page by page.
func (h *SyncHandler) syncCourse(ctx context.Context, r *syncRun, mc MoodleCourseInfo) error {
	c, err := h.saveCourse(ctx, mc.MoodleCourse)
	if err != nil {
		return err
	}
	active, err := h.moodle.ActiveUserIDs(ctx, mc.ID)
	if err != nil {
		return fmt.Errorf("active enrolments: %w", err)
	}
	progress, err := h.moodle.CourseProgress(ctx, mc.ID, nil)
	if err != nil {
		// The users are still worth importing; their progress comes with
		// the next scan or event.
		r.fail(fmt.Errorf("course %d: progress: %w", mc.ID, err))
		progress = nil
	}
	seen := map[int64]bool{}
	for from := 0; ; from += h.pageSize {
		users, err := h.moodle.EnrolledUsers(ctx, mc.ID, from, h.pageSize)
		if err != nil {
			return fmt.Errorf("enrolled users from %d: %w", from, err)
		}
		for _, u := range users {
			if seen[u.ID] { // enrolments changed between two pages
				continue
			}
			seen[u.ID] = true
			p, hasProgress := progress[u.ID]
			outcome, err := h.importMember(ctx, c, u, active[u.ID], p, hasProgress)
			if err != nil {
				r.fail(fmt.Errorf("course %d, user %d: %w", mc.ID, u.ID, err))
				r.add(func(c *SyncCounts) { c.Failed++ })
				continue
			}
			r.add(outcome)
		}
		r.heartbeat(ctx)
		if len(users) < h.pageSize {
			break
		}
	}
	r.add(func(c *SyncCounts) { c.Courses++ })
	r.heartbeat(ctx)
	return nil
}

// saveCourse writes the course when it is new or differs from Moodle.
func (h *SyncHandler) saveCourse(ctx context.Context, mc MoodleCourse) (domain.Course, error) {
	want := mc.course()
	have, err := h.admin.FindCourseByMoodleID(ctx, mc.ID)
	switch {
	case err == nil && have.ShortName == want.ShortName && have.FullName == want.FullName &&
		have.StartDate.Equal(want.StartDate) && have.EndDate.Equal(want.EndDate):
		return have, nil
	case err != nil && !errors.Is(err, ErrNotFound):
		return domain.Course{}, err
	}
	return h.store.UpsertCourse(ctx, want)
}

// importMember brings one enrolled user of a course here and says how it
// counts.
func (h *SyncHandler) importMember(ctx context.Context, c domain.Course, u MoodleUser, active bool,
	p domain.Progress, hasProgress bool) (func(*SyncCounts), error) {
	skipped := func(c *SyncCounts) { c.Skipped++ }
	messaged := slices.ContainsFunc(u.Roles, func(r string) bool { return slices.Contains(h.roles, r) })

	st, err := h.store.FindStudentByMoodleID(ctx, u.ID)
	studentChanged := false
	switch {
	case errors.Is(err, ErrNotFound):
		if !messaged {
			return skipped, nil // not someone the rules message, and not known here
		}
		if st, err = h.store.UpsertStudent(ctx, u.student()); err != nil {
			return nil, err
		}
		studentChanged = true
	case err != nil:
		return nil, err
	default:
		if next := mergeStudent(st, u); next != st {
			if st, err = h.store.UpdateStudent(ctx, st.ID, func(s *domain.Student) error {
				*s = mergeStudent(*s, u)
				return nil
			}); err != nil {
				return nil, err
			}
			studentChanged = true
		}
	}

	e, err := h.store.FindEnrollment(ctx, u.ID, c.MoodleCourseID)
	switch {
	case errors.Is(err, ErrNotFound):
		if !messaged {
			if studentChanged {
				return func(c *SyncCounts) { c.Updated++ }, nil
			}
			return skipped, nil
		}
		e := domain.Enrollment{StudentID: st.ID, CourseID: c.ID, Status: domain.EnrolmentActive,
			Roles: sortedRoles(u.Roles), Imported: true}
		if !active {
			e.Status = domain.EnrolmentSuspended
		}
		if hasProgress {
			e.Progress = p
		}
		if _, err := h.store.UpsertEnrollment(ctx, e); err != nil {
			return nil, err
		}
		return func(c *SyncCounts) { c.Added++ }, nil
	case err != nil:
		return nil, err
	}
	now := h.now()
	apply := func(e *domain.Enrollment) bool {
		changed := false
		if roles := sortedRoles(u.Roles); !slices.Equal(sortedRoles(e.Roles), roles) {
			e.Roles, changed = roles, true
		}
		if e.Deleted {
			e.Deleted, changed = false, true
		}
		// Moodle's "active" folds the status and the dates together: a
		// status moves only when the dates known here do not explain it.
		switch {
		case active && e.Status != domain.EnrolmentActive:
			e.Status, changed = domain.EnrolmentActive, true
		case !active && e.ActiveAt(now):
			e.Status, changed = domain.EnrolmentSuspended, true
		}
		if hasProgress && !p.Equal(e.Progress) {
			e.Progress, changed = p, true
		}
		return changed
	}
	probe := e
	probe.Roles = slices.Clone(e.Roles)
	if !apply(&probe) {
		if studentChanged {
			return func(c *SyncCounts) { c.Updated++ }, nil
		}
		return skipped, nil
	}
	if _, err := h.store.UpdateEnrollment(ctx, e.ID, func(e *domain.Enrollment) error {
		apply(e)
		return nil
	}); err != nil {
		return nil, err
	}
	return func(c *SyncCounts) { c.Updated++ }, nil
}

// mergeStudent is s with what Moodle says of u; a field Moodle leaves
// empty (hidden from the service account) keeps its value here.
func mergeStudent(s domain.Student, u MoodleUser) domain.Student {
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&s.Username, u.Username)
	set(&s.FirstName, u.FirstName)
	set(&s.LastName, u.LastName)
	set(&s.Email, u.Email)
	set(&s.Phone, u.Phone)
	set(&s.Lang, u.Lang)
	set(&s.Timezone, u.Timezone)
	return s
}

func sortedRoles(roles []string) []string {
	if len(roles) == 0 {
		return nil
	}
	out := slices.Clone(roles)
	slices.Sort(out)
	return slices.Compact(out)
}
