package app

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/acme/notifier/domain"
)

// MaxStatsRange is the longest period GET /stats counts at once.
const MaxStatsRange = 400 * 24 * time.Hour

// DefaultStatsDays is how many local days GET /stats counts by default,
// today included.
const DefaultStatsDays = 30

// AdminQueries answer the admin API's reads of students, courses,
// enrollments and statistics.
type AdminQueries struct {
	adminBase
}

// Students lists students newest first.
func (q *AdminQueries) Students(ctx context.Context, p PageQuery) ([]domain.Student, error) {
	return q.admin.ListStudents(ctx, p)
}

// Student returns one student, or ErrNotFound.
func (q *AdminQueries) Student(ctx context.Context, id int64) (domain.Student, error) {
	return q.store.GetStudent(ctx, id)
}

// Courses lists courses newest first.
func (q *AdminQueries) Courses(ctx context.Context, p PageQuery) ([]domain.Course, error) {
	return q.admin.ListCourses(ctx, p)
}

// Enrollments lists enrollments newest first, with their progress.
func (q *AdminQueries) Enrollments(ctx context.Context, f EnrollmentFilter) ([]EnrollmentRecord, error) {
	return q.admin.ListEnrollments(ctx, f)
}

// Location is the zone that defines the days of the statistics.
func (q *AdminQueries) Location() *time.Location { return q.settings.Location }

// Rules are the rules in force.
func (q *AdminQueries) Rules() []domain.Rule { return q.settings.Rules }

// DayCount is the number of rows of one status and rule created on one
// local day.
type DayCount struct {
	Day    domain.Date
	Rule   string
	Status domain.Status
	Count  int
}

// DayStats are one local day's counts.
type DayStats struct {
	Day      domain.Date
	Total    int
	ByStatus map[domain.Status]int
	ByRule   map[string]int
}

// MessageStats count MessageLog rows created in [Since, Until) by status,
// rule and local day (NOTIFIER_TIMEZONE).
type MessageStats struct {
	Since    time.Time
	Until    time.Time
	Location *time.Location
	Total    int
	// ByStatus holds every status; ByRule every rule in force and any
	// other rule name found.
	ByStatus map[domain.Status]int
	ByRule   map[string]int
	// ByDay holds every local day of the period, oldest first.
	ByDay []DayStats
	// Counts are the non-zero counts by day, rule and status, in that order.
	Counts []DayCount
}

// Stats counts the MessageLog rows created in [since, until); zero since
// and until are the last DefaultStatsDays local days, today included.
func (q *AdminQueries) Stats(ctx context.Context, since, until time.Time) (MessageStats, error) {
	loc := q.settings.Location
	today := domain.DateOf(q.now(), loc)
	if until.IsZero() {
		until = today.AddDays(1).Start(loc)
	}
	if since.IsZero() {
		since = domain.DateOf(until.Add(-time.Nanosecond), loc).AddDays(1 - DefaultStatsDays).Start(loc)
	}
	switch {
	case !since.Before(until):
		return MessageStats{}, invalid("since", "must be before until")
	case until.Sub(since) > MaxStatsRange:
		return MessageStats{}, invalid("since", "the period is longer than 400 days")
	}
	counts, err := q.admin.CountMessages(ctx, since, until)
	if err != nil {
		return MessageStats{}, fmt.Errorf("count messages: %w", err)
	}
	return foldStats(counts, since, until, loc, q.settings.Rules), nil
}

// foldStats folds the store's quarter-hour counts into local days.
func foldStats(counts []MessageCount, since, until time.Time, loc *time.Location, rules []domain.Rule) MessageStats {
	st := MessageStats{Since: since, Until: until, Location: loc,
		ByStatus: map[domain.Status]int{}, ByRule: map[string]int{}}
	for _, s := range domain.Statuses {
		st.ByStatus[s] = 0
	}
	for _, r := range rules {
		st.ByRule[r.Name] = 0
	}
	days := map[domain.Date]*DayStats{}
	first, last := domain.DateOf(since, loc), domain.DateOf(until.Add(-time.Nanosecond), loc)
	for d := first; !last.Before(d); d = d.AddDays(1) {
		days[d] = &DayStats{Day: d, ByStatus: map[domain.Status]int{}, ByRule: map[string]int{}}
		st.ByDay = append(st.ByDay, DayStats{Day: d})
	}
	byKey := map[DayCount]int{}
	for _, c := range counts {
		day := domain.DateOf(c.Bucket, loc)
		ds, ok := days[day]
		if !ok { // a bucket that straddles the period's edge
			continue
		}
		st.Total += c.Count
		st.ByStatus[c.Status] += c.Count
		st.ByRule[c.Rule] += c.Count
		ds.Total += c.Count
		ds.ByStatus[c.Status] += c.Count
		ds.ByRule[c.Rule] += c.Count
		byKey[DayCount{Day: day, Rule: c.Rule, Status: c.Status}] += c.Count
	}
	for i := range st.ByDay {
		st.ByDay[i] = *days[st.ByDay[i].Day]
	}
	for k, n := range byKey {
		k.Count = n
		st.Counts = append(st.Counts, k)
	}
	slices.SortFunc(st.Counts, func(a, b DayCount) int {
		if c := a.Day.Compare(b.Day); c != 0 {
			return c
		}
		if c := strings.Compare(a.Rule, b.Rule); c != 0 {
			return c
		}
		return strings.Compare(string(a.Status), string(b.Status))
	})
	return st
}
