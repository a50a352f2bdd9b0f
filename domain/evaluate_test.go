package domain_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/notifier/domain"
)

func TestDecide_ProgressBoundaries(t *testing.T) {
	rules := domain.DefaultRules(week)
	for _, tc := range []struct {
		name                          string
		progress                      domain.Progress
		onEnrolment, onProgress, scan string // rules fired, in order
	}{
		{"null (no tracked SCORM)", domain.Progress{}, "welcome", "", "welcome"},
		{"0", percent(0), "welcome", "", "welcome"},
		{"0.5 (1 of 200)", domain.NewProgress(200, 1), "welcome", "", "welcome"},
		{"1", percent(1), "welcome", "progress", "welcome,progress"},
		{"50", percent(50), "welcome", "progress", "welcome,progress"},
		{"99", percent(99), "welcome", "progress", "welcome,progress"},
		{"99.5 (199 of 200)", domain.NewProgress(200, 199), "welcome", "progress", "welcome,progress"},
		// 100 without an end date: no progress nudge, and no date rule either.
		{"100", percent(100), "welcome", "", "welcome"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for occ, want := range map[domain.Occasion]string{
				domain.OnEnrolment: tc.onEnrolment,
				domain.OnProgress:  tc.onProgress,
				domain.OnScan:      tc.scan,
			} {
				assert.Equal(t, want, fired(domain.Decide(rules, evaluation(occ, tc.progress))), "on %s", occ)
			}
		})
	}
}

// welcomed is the history of a student whose welcome went out long ago.
var welcomed = []domain.PriorMessage{{
	Rule: "welcome", Template: "welcome", Status: domain.StatusRead, CreatedAt: scanNow.AddDate(0, -1, 0),
}}

func TestDecide_CourseEndDate(t *testing.T) {
	rules := domain.DefaultRules(week)
	today := date(2026, time.June, 15)
	at := func(d domain.Date, hh, mm int) time.Time { return inMadrid(d.Year, d.Month, d.Day, hh, mm) }
	for _, tc := range []struct {
		name     string
		end      time.Time
		progress domain.Progress
		occasion domain.Occasion
		want     string
	}{
		{"no end date", time.Time{}, percent(100), domain.OnScan, ""},
		{"ends today", at(today, 18, 0), percent(100), domain.OnScan, "completion"},
		{"ends tomorrow", at(today.AddDays(1), 18, 0), percent(100), domain.OnScan, "review"},
		{"ends the day after tomorrow", at(today.AddDays(2), 18, 0), percent(100), domain.OnScan, ""},
		{"ended yesterday", at(today.AddDays(-1), 18, 0), percent(100), domain.OnScan, ""},
		{"ends today at 00:00", at(today, 0, 0), percent(100), domain.OnScan, "completion"},
		{"ends today at 23:59", at(today, 23, 59), percent(100), domain.OnScan, "completion"},
		{"ends tomorrow at 00:00", at(today.AddDays(1), 0, 0), percent(100), domain.OnScan, "review"},
		// The date rules need a finished course ...
		{"ends tomorrow, 99 %", at(today.AddDays(1), 18, 0), percent(99), domain.OnScan, "progress"},
		{"ends today, 99.5 %", at(today, 18, 0), domain.NewProgress(200, 199), domain.OnScan, "progress"},
		{"ends today, progress null", at(today, 18, 0), domain.Progress{}, domain.OnScan, ""},
		// ... and are evaluated on scans only.
		{"ends today, progress event", at(today, 18, 0), percent(100), domain.OnProgress, ""},
		{"ends tomorrow, progress event", at(today.AddDays(1), 18, 0), percent(100), domain.OnProgress, ""},
		{"ends today, enrolment event", at(today, 18, 0), percent(100), domain.OnEnrolment, ""},
		{"ends tomorrow, enrolment event", at(today.AddDays(1), 18, 0), percent(100), domain.OnEnrolment, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := evaluation(tc.occasion, tc.progress)
			require.Equal(t, today, ev.Today)
			ev.Course.EndDate = tc.end
			ev.History = welcomed
			assert.Equal(t, tc.want, fired(domain.Decide(rules, ev)))
		})
	}
}

// The two 2026 daylight-saving days of Europe/Madrid, with end dates where a
// day's edges move: local midnight and 00:30 (on the day before in UTC) and
// 23:30.
func TestDecide_CourseEndDate_MadridDST(t *testing.T) {
	rules := domain.DefaultRules(week)
	for _, dst := range []domain.Date{date(2026, time.March, 29), date(2026, time.October, 25)} {
		for _, end := range []struct {
			hh, mm  int
			utcDate domain.Date // the same instant's day in UTC
		}{
			{0, 0, dst.AddDays(-1)},
			{0, 30, dst.AddDays(-1)},
			{23, 30, dst},
		} {
			endAt := inMadrid(dst.Year, dst.Month, dst.Day, end.hh, end.mm)
			require.Equal(t, dst, domain.DateOf(endAt, madrid))
			require.Equal(t, end.utcDate, domain.DateOf(endAt, time.UTC), "the case tests what it says")

			for _, scan := range []struct {
				day  domain.Date
				want string
			}{
				{dst.AddDays(-2), ""},
				{dst.AddDays(-1), "review"},
				{dst, "completion"},
				{dst.AddDays(1), ""},
			} {
				name := fmt.Sprintf("ends %s %02d:%02d, scan %s", dst, end.hh, end.mm, scan.day)
				t.Run(name, func(t *testing.T) {
					ev := evaluation(domain.OnScan, percent(100))
					ev.Now = scan.day.Start(madrid).Add(8 * time.Hour)
					ev.Today = scan.day
					ev.Course.EndDate = endAt
					ev.History = welcomed
					assert.Equal(t, scan.want, fired(domain.Decide(rules, ev)))
				})
			}
		}
	}
}

// An end date at Madrid's midnight is the day before in UTC: the zone the
// rules read it in decides the day.
func TestDecide_CourseEndDate_ReadInTheConfiguredZone(t *testing.T) {
	rules := domain.DefaultRules(week)
	end := inMadrid(2026, time.March, 29, 0, 0) // 2026-03-28T23:00Z
	for _, tc := range []struct {
		loc   *time.Location
		today domain.Date
		want  string
	}{
		{madrid, date(2026, time.March, 28), "review"},
		{madrid, date(2026, time.March, 29), "completion"},
		{time.UTC, date(2026, time.March, 27), "review"},
		{time.UTC, date(2026, time.March, 28), "completion"},
		{time.UTC, date(2026, time.March, 29), ""},
	} {
		t.Run(tc.loc.String()+"_"+tc.today.String(), func(t *testing.T) {
			ev := evaluation(domain.OnScan, percent(100))
			ev.Location, ev.Today = tc.loc, tc.today
			ev.Now = tc.today.Start(tc.loc).Add(8 * time.Hour)
			ev.Course.EndDate = end
			ev.History = welcomed
			assert.Equal(t, tc.want, fired(domain.Decide(rules, ev)))
		})
	}
}

func TestDecide_EnrollmentState(t *testing.T) {
	rules := domain.DefaultRules(week)
	for _, tc := range []struct {
		name         string
		change       func(*domain.Enrollment)
		onEnrolment  string
		onScan       string
		onProgressEv string
	}{
		{"active student", func(*domain.Enrollment) {}, "welcome", "welcome,progress", "progress"},
		{"suspended (status 1)", func(e *domain.Enrollment) { e.Status = domain.EnrolmentSuspended }, "", "", ""},
		{"unknown status 2", func(e *domain.Enrollment) { e.Status = 2 }, "", "", ""},
		{"starts in a second", func(e *domain.Enrollment) { e.TimeStart = scanNow.Add(time.Second) }, "", "", ""},
		{"starts tomorrow", func(e *domain.Enrollment) { e.TimeStart = scanNow.AddDate(0, 0, 1) }, "", "", ""},
		{"starts right now", func(e *domain.Enrollment) { e.TimeStart = scanNow }, "welcome", "welcome,progress", "progress"},
		{"no start limit", func(e *domain.Enrollment) { e.TimeStart = time.Time{} }, "welcome", "welcome,progress", "progress"},
		{"ended yesterday", func(e *domain.Enrollment) { e.TimeEnd = scanNow.AddDate(0, 0, -1) }, "", "", ""},
		{"ends right now", func(e *domain.Enrollment) { e.TimeEnd = scanNow }, "", "", ""},
		{"ends in a second", func(e *domain.Enrollment) { e.TimeEnd = scanNow.Add(time.Second) }, "welcome", "welcome,progress", "progress"},
		{"deleted", func(e *domain.Enrollment) { e.Deleted = true }, "", "", ""},
		{"imported by a sync", func(e *domain.Enrollment) { e.Imported = true }, "", "progress", "progress"},
		{"editingteacher", func(e *domain.Enrollment) { e.Roles = []string{"editingteacher"} }, "", "", ""},
		{"teacher", func(e *domain.Enrollment) { e.Roles = []string{"teacher"} }, "", "", ""},
		{"no role (enrolled before the role was assigned)", func(e *domain.Enrollment) { e.Roles = nil }, "", "", ""},
		{"editingteacher and student", func(e *domain.Enrollment) { e.Roles = []string{"editingteacher", "student"} }, "welcome", "welcome,progress", "progress"},
		{"role names are exact", func(e *domain.Enrollment) { e.Roles = []string{"Student", "students"} }, "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for occ, want := range map[domain.Occasion]string{
				domain.OnEnrolment: tc.onEnrolment,
				domain.OnScan:      tc.onScan,
				domain.OnProgress:  tc.onProgressEv,
			} {
				ev := evaluation(occ, percent(50))
				tc.change(&ev.Enrollment)
				assert.Equal(t, want, fired(domain.Decide(rules, ev)), "on %s", occ)
			}
		})
	}
}

func TestDecide_CustomRoles(t *testing.T) {
	welcome := rule("welcome")
	welcome.Roles = []string{"learner", "apprentice"}
	for _, tc := range []struct {
		roles []string
		want  string
	}{
		{[]string{"learner"}, "welcome"},
		{[]string{"editingteacher", "apprentice"}, "welcome"},
		{[]string{"student"}, ""},
		{nil, ""},
	} {
		t.Run(fmt.Sprint(tc.roles), func(t *testing.T) {
			ev := evaluation(domain.OnEnrolment, domain.Progress{})
			ev.Enrollment.Roles = tc.roles
			assert.Equal(t, tc.want, fired(domain.Decide([]domain.Rule{welcome}, ev)))
		})
	}
}

func TestDecide_KeepsTheRulesOrder(t *testing.T) {
	rules := domain.DefaultRules(week)
	reversed := []domain.Rule{rules[3], rules[2], rules[1], rules[0]}
	ev := evaluation(domain.OnScan, percent(40))
	assert.Equal(t, "progress,welcome", fired(domain.Decide(reversed, ev)))
	assert.Empty(t, domain.Decide(nil, ev))
}

func TestDuplicate_ProgressWindow(t *testing.T) {
	now := scanNow
	row := func(status domain.Status, age time.Duration) domain.PriorMessage {
		return domain.PriorMessage{Rule: "progress", Template: "progress", Status: status, CreatedAt: now.Add(-age)}
	}
	failed := func(code string, age time.Duration) domain.PriorMessage {
		p := row(domain.StatusFailed, age)
		p.ErrorCode = code
		return p
	}
	for _, tc := range []struct {
		name           string
		history        []domain.PriorMessage
		contactChanged time.Time
		blocked        bool
	}{
		{"no history", nil, time.Time{}, false},
		{"SENT just inside the window", []domain.PriorMessage{row(domain.StatusSent, week-time.Second)}, time.Time{}, true},
		{"SENT exactly one window ago", []domain.PriorMessage{row(domain.StatusSent, week)}, time.Time{}, false},
		{"SENT just past the window", []domain.PriorMessage{row(domain.StatusSent, week+time.Second)}, time.Time{}, false},
		{"SENT a second ago", []domain.PriorMessage{row(domain.StatusSent, time.Second)}, time.Time{}, true},
		{"PENDING inside", []domain.PriorMessage{row(domain.StatusPending, time.Hour)}, time.Time{}, true},
		{"DELIVERED inside", []domain.PriorMessage{row(domain.StatusDelivered, time.Hour)}, time.Time{}, true},
		{"READ inside", []domain.PriorMessage{row(domain.StatusRead, week-time.Second)}, time.Time{}, true},
		{"FAILED 131026 inside", []domain.PriorMessage{failed("131026", time.Hour)}, time.Time{}, false},
		{"FAILED outcome_unknown inside (may have been delivered)", []domain.PriorMessage{failed(domain.ErrCodeOutcomeUnknown, time.Hour)}, time.Time{}, true},
		{"FAILED outcome_unknown past the window", []domain.PriorMessage{failed(domain.ErrCodeOutcomeUnknown, week)}, time.Time{}, false},
		{"FAILED without code inside", []domain.PriorMessage{failed("", time.Hour)}, time.Time{}, false},
		{"another template inside", []domain.PriorMessage{
			{Rule: "welcome", Template: "welcome", Status: domain.StatusSent, CreatedAt: now.Add(-time.Hour)},
		}, time.Time{}, false},
		{"another rule with the same template inside", []domain.PriorMessage{
			{Rule: "progress_evening", Template: "progress", Status: domain.StatusSent, CreatedAt: now.Add(-time.Hour)},
		}, time.Time{}, true},
		{"old SENT and new FAILED", []domain.PriorMessage{
			row(domain.StatusRead, week+time.Hour), failed("131049", time.Hour),
		}, time.Time{}, false},
		{"FAILED then SENT inside", []domain.PriorMessage{
			failed(domain.ErrCodeOutcomeUnknown, 2*time.Hour), row(domain.StatusSent, time.Hour),
		}, time.Time{}, true},
		// Refusals recorded here block while the contact details stay as they were.
		{"FAILED opted_out inside, contact never changed", []domain.PriorMessage{failed(domain.ErrCodeOptedOut, time.Hour)}, time.Time{}, true},
		{"FAILED invalid_phone inside, contact never changed", []domain.PriorMessage{failed(domain.ErrCodeInvalidPhone, time.Hour)}, time.Time{}, true},
		{"FAILED opted_out inside, contact changed before it", []domain.PriorMessage{failed(domain.ErrCodeOptedOut, time.Hour)}, now.Add(-2 * time.Hour), true},
		{"FAILED opted_out inside, contact changed at the same instant", []domain.PriorMessage{failed(domain.ErrCodeOptedOut, time.Hour)}, now.Add(-time.Hour), true},
		{"FAILED opted_out inside, contact changed after it", []domain.PriorMessage{failed(domain.ErrCodeOptedOut, time.Hour)}, now.Add(-time.Hour + time.Nanosecond), false},
		{"FAILED invalid_phone inside, phone fixed after it", []domain.PriorMessage{failed(domain.ErrCodeInvalidPhone, time.Hour)}, now.Add(-time.Minute), false},
		{"FAILED invalid_phone past the window", []domain.PriorMessage{failed(domain.ErrCodeInvalidPhone, week)}, time.Time{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := evaluation(domain.OnProgress, percent(50))
			ev.Now = now
			ev.History = tc.history
			ev.Student.ContactChangedAt = tc.contactChanged
			r := rule("progress")
			assert.Equal(t, tc.blocked, r.Duplicate(ev))
			want := "progress"
			if tc.blocked {
				want = ""
			}
			assert.Equal(t, want, fired(domain.Decide(domain.DefaultRules(week), ev)))
		})
	}
}

func TestDuplicate_WindowComesFromConfiguration(t *testing.T) {
	rules := domain.DefaultRules(24 * time.Hour)
	for _, tc := range []struct {
		age  time.Duration
		want string
	}{
		{23 * time.Hour, ""},
		{24*time.Hour - time.Nanosecond, ""},
		{24 * time.Hour, "progress"},
		{25 * time.Hour, "progress"},
	} {
		t.Run(tc.age.String(), func(t *testing.T) {
			ev := evaluation(domain.OnProgress, percent(50))
			ev.History = []domain.PriorMessage{{Rule: "progress", Template: "progress", Status: domain.StatusSent, CreatedAt: ev.Now.Add(-tc.age)}}
			assert.Equal(t, tc.want, fired(domain.Decide(rules, ev)))
		})
	}
}

func TestDuplicate_OnceRules(t *testing.T) {
	longAgo := scanNow.AddDate(-2, 0, 0)
	row := func(status domain.Status, code string) domain.PriorMessage {
		return domain.PriorMessage{Rule: "welcome", Template: "welcome", Status: status, ErrorCode: code, CreatedAt: longAgo}
	}
	for _, tc := range []struct {
		name           string
		history        []domain.PriorMessage
		contactChanged time.Time
		blocked        bool
	}{
		{"no history", nil, time.Time{}, false},
		{"PENDING", []domain.PriorMessage{row(domain.StatusPending, "")}, time.Time{}, true},
		{"SENT two years ago", []domain.PriorMessage{row(domain.StatusSent, "")}, time.Time{}, true},
		{"DELIVERED", []domain.PriorMessage{row(domain.StatusDelivered, "")}, time.Time{}, true},
		{"READ", []domain.PriorMessage{row(domain.StatusRead, "")}, time.Time{}, true},
		{"SENT in the future (clock skew)", []domain.PriorMessage{{Rule: "welcome", Template: "welcome", Status: domain.StatusSent, CreatedAt: scanNow.Add(time.Minute)}}, time.Time{}, true},
		{"FAILED outcome_unknown (may have been delivered)", []domain.PriorMessage{row(domain.StatusFailed, domain.ErrCodeOutcomeUnknown)}, time.Time{}, true},
		{"FAILED 131026", []domain.PriorMessage{row(domain.StatusFailed, "131026")}, time.Time{}, false},
		{"FAILED opted_out, contact never changed", []domain.PriorMessage{row(domain.StatusFailed, domain.ErrCodeOptedOut)}, time.Time{}, true},
		{"FAILED opted_out, contact changed before it", []domain.PriorMessage{row(domain.StatusFailed, domain.ErrCodeOptedOut)}, longAgo.Add(-time.Second), true},
		{"FAILED opted_out, contact changed at the same instant", []domain.PriorMessage{row(domain.StatusFailed, domain.ErrCodeOptedOut)}, longAgo, true},
		{"FAILED opted_out, contact changed after it", []domain.PriorMessage{row(domain.StatusFailed, domain.ErrCodeOptedOut)}, longAgo.Add(time.Second), false},
		{"FAILED invalid_phone, contact never changed", []domain.PriorMessage{row(domain.StatusFailed, domain.ErrCodeInvalidPhone)}, time.Time{}, true},
		{"FAILED invalid_phone, phone fixed after it", []domain.PriorMessage{row(domain.StatusFailed, domain.ErrCodeInvalidPhone)}, longAgo.Add(time.Second), false},
		{"old refusal before the fix, new refusal after it", []domain.PriorMessage{
			row(domain.StatusFailed, domain.ErrCodeInvalidPhone),
			{Rule: "welcome", Template: "welcome", Status: domain.StatusFailed, ErrorCode: domain.ErrCodeOptedOut, CreatedAt: scanNow.Add(-time.Hour)},
		}, longAgo.Add(time.Second), true},
		{"FAILED then SENT", []domain.PriorMessage{row(domain.StatusFailed, domain.ErrCodeOutcomeUnknown), row(domain.StatusSent, "")}, time.Time{}, true},
		{"SENT of another rule", []domain.PriorMessage{{Rule: "review", Template: "review", Status: domain.StatusSent, CreatedAt: longAgo}}, time.Time{}, false},
		{"SENT of another rule with the same template", []domain.PriorMessage{{Rule: "welcome_v2", Template: "welcome", Status: domain.StatusSent, CreatedAt: longAgo}}, time.Time{}, false},
		{"opted_out of another rule", []domain.PriorMessage{{Rule: "progress", Template: "progress", Status: domain.StatusFailed, ErrorCode: domain.ErrCodeOptedOut, CreatedAt: longAgo}}, time.Time{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := evaluation(domain.OnEnrolment, domain.Progress{})
			ev.History = tc.history
			ev.Student.ContactChangedAt = tc.contactChanged
			assert.Equal(t, tc.blocked, rule("welcome").Duplicate(ev))
			want := "welcome"
			if tc.blocked {
				want = ""
			}
			assert.Equal(t, want, fired(domain.Decide(domain.DefaultRules(week), ev)))
		})
	}
}

// A student who cannot be reached gets one recorded refusal per rule, not one
// per scan, and is reached once the contact details are fixed.
func TestDecide_RefusalRecordedOnceUntilContactChanges(t *testing.T) {
	rules := domain.DefaultRules(week)
	ev := evaluation(domain.OnScan, domain.Progress{})
	ev.Student.OptedOut = true

	first := domain.Decide(rules, ev)
	require.Equal(t, "welcome", fired(first))
	m := domain.NewMessage(first[0], ev, domain.Trigger{Kind: domain.TriggerScan, Ref: "scan-1"}, "ES")
	require.Equal(t, domain.StatusFailed, m.Status)
	require.Equal(t, domain.ErrCodeOptedOut, m.ErrorCode)

	next := ev
	next.Now = ev.Now.AddDate(0, 0, 1)
	next.Today = ev.Today.AddDays(1)
	next.History = []domain.PriorMessage{m.Prior()}
	assert.Equal(t, "", fired(domain.Decide(rules, next)), "the next scan records nothing new")

	next.Student.OptedOut = false
	next.Student.ContactChangedAt = ev.Now.Add(time.Hour)
	again := domain.Decide(rules, next)
	require.Equal(t, "welcome", fired(again), "after opting back in")
	m2 := domain.NewMessage(again[0], next, domain.Trigger{Kind: domain.TriggerScan, Ref: "scan-2"}, "ES")
	assert.Equal(t, domain.StatusPending, m2.Status)
	assert.Equal(t, "+34600111222", m2.To)
}
