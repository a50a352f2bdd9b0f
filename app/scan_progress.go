package app

import (
	"cmp"
	"context"
	"slices"
	"sync"

	"github.com/acme/notifier/domain"
)

// progressCache holds one Moodle answer per scan and course, so that a scan
// asks Moodle once per course however many enrollments the course has.
type progressCache struct {
	mu      sync.Mutex
	entries map[[2]int64]*progressEntry
}

type progressEntry struct {
	once sync.Once
	val  courseProgress
	err  error
}

func newProgressCache() *progressCache {
	return &progressCache{entries: map[[2]int64]*progressEntry{}}
}

func (c *progressCache) get(ctx context.Context, scanID, courseID int64,
	load func(context.Context) (map[int64]domain.Progress, error)) (courseProgress, error) {
	key := [2]int64{scanID, courseID}
	c.mu.Lock()
	e, ok := c.entries[key]
	if !ok {
		e = &progressEntry{}
		c.entries[key] = e
	}
	c.mu.Unlock()
	e.once.Do(func() {
		var byUser map[int64]domain.Progress
		if byUser, e.err = load(ctx); e.err == nil {
			e.val = newCourseProgress(byUser)
		}
	})
	if e.err != nil {
		// A failure is not cached: the item's retry asks Moodle again.
		c.mu.Lock()
		if c.entries[key] == e {
			delete(c.entries, key)
		}
		c.mu.Unlock()
	}
	return e.val, e.err
}

func (c *progressCache) forget(scanID int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.entries {
		if k[0] == scanID {
			delete(c.entries, k)
		}
	}
}

// courseProgress is Moodle's answer for one course, sorted by user and kept
// compact: a scan holds every course's answer until it ends, and a map
// entry with its percentage on the heap took three times the room (a
// 1,000,000-enrollment scan held 240 MiB).
type courseProgress []userProgress

// userProgress is one student's progress; SCORM counts fit 32 bits.
type userProgress struct {
	user             int64
	total, completed int32
	percent          float64
	known            bool
}

func newCourseProgress(byUser map[int64]domain.Progress) courseProgress {
	out := make(courseProgress, 0, len(byUser))
	for user, p := range byUser {
		u := userProgress{user: user, total: int32(p.Total), completed: int32(p.Completed)}
		if p.Percent != nil {
			u.percent, u.known = *p.Percent, true
		}
		out = append(out, u)
	}
	slices.SortFunc(out, func(a, b userProgress) int { return cmp.Compare(a.user, b.user) })
	return out
}

// of returns the user's progress, and false when Moodle did not list them.
func (c courseProgress) of(user int64) (domain.Progress, bool) {
	i, ok := slices.BinarySearchFunc(c, user, func(u userProgress, id int64) int { return cmp.Compare(u.user, id) })
	if !ok {
		return domain.Progress{}, false
	}
	u := c[i]
	p := domain.Progress{Total: int(u.total), Completed: int(u.completed)}
	if u.known {
		percent := u.percent
		p.Percent = &percent
	}
	return p, true
}
