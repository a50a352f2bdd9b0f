package domain_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/notifier/domain"
)

func TestNewMessage(t *testing.T) {
	trigger := domain.Trigger{Kind: domain.TriggerMoodleEvent, Ref: "0f8fad5b-d9cb-469f-a165-70867728950e"}
	endsOnDSTDay := inMadrid(2026, time.March, 29, 0, 0) // 2026-03-28 in UTC
	// base is the row every case starts from: the welcome rule for Ana.
	base := func() domain.MessageLog {
		return domain.MessageLog{
			Rule: "welcome", Template: "welcome", Language: "es",
			Params:    []string{"Ana", "Prevención de riesgos"},
			Status:    domain.StatusPending,
			StudentID: 3, MoodleUserID: 42, CourseID: 5, MoodleCourseID: 7, EnrollmentID: 9,
			OnceKey:   "welcome",
			To:        "+34600111222",
			Trigger:   trigger,
			CreatedAt: scanNow,
		}
	}
	refused := func(m domain.MessageLog, code, msg string) domain.MessageLog {
		m.Status, m.To, m.ErrorCode, m.ErrorMessage, m.FailedAt = domain.StatusFailed, "", code, msg, scanNow
		return m
	}
	const (
		msgOptedOut = "the student opted out of WhatsApp messages"
		msgNoPhone  = "the student has no phone number"
		msgBadPhone = "the student's phone number is not a valid number"
	)
	for _, tc := range []struct {
		name    string
		rule    string
		student func(*domain.Student)
		course  func(*domain.Course)
		region  string
		want    func() domain.MessageLog
	}{
		{
			name: "welcome, Spanish number written nationally",
			rule: "welcome", want: base,
		},
		{
			name: "welcome, international number",
			rule: "welcome", student: func(s *domain.Student) { s.Phone = "+34 600 111 222" }, want: base,
		},
		{
			name: "a number without country code is read in the configured region",
			rule: "welcome", region: "US",
			student: func(s *domain.Student) { s.Phone = "(212) 555-0123" },
			want:    func() domain.MessageLog { m := base(); m.To = "+12125550123"; return m },
		},
		{
			name: "window rule: no once key, percent as a whole number",
			rule: "progress",
			want: func() domain.MessageLog {
				m := base()
				m.Rule, m.Template, m.OnceKey = "progress", "progress", ""
				m.Params = []string{"Ana", "Prevención de riesgos", "66"}
				return m
			},
		},
		{
			name:   "review: end date in the configured zone",
			rule:   "review",
			course: func(c *domain.Course) { c.EndDate = endsOnDSTDay },
			want: func() domain.MessageLog {
				m := base()
				m.Rule, m.Template, m.OnceKey = "review", "review", "review"
				m.Params = []string{"Ana", "Prevención de riesgos", "2026-03-29"}
				return m
			},
		},
		{
			name: "completion is a once rule",
			rule: "completion",
			want: func() domain.MessageLog {
				m := base()
				m.Rule, m.Template, m.OnceKey = "completion", "completion", "completion"
				return m
			},
		},
		{
			name:    "opted out: FAILED, nothing to send to",
			rule:    "welcome",
			student: func(s *domain.Student) { s.OptedOut = true },
			want:    func() domain.MessageLog { return refused(base(), domain.ErrCodeOptedOut, msgOptedOut) },
		},
		{
			name:    "opted out with a bad phone: the opt-out is the reason",
			rule:    "progress",
			student: func(s *domain.Student) { s.OptedOut, s.Phone = true, "12" },
			want: func() domain.MessageLog {
				m := base()
				m.Rule, m.Template, m.OnceKey = "progress", "progress", ""
				m.Params = []string{"Ana", "Prevención de riesgos", "66"}
				return refused(m, domain.ErrCodeOptedOut, msgOptedOut)
			},
		},
		{
			name:    "missing phone",
			rule:    "welcome",
			student: func(s *domain.Student) { s.Phone = "" },
			want:    func() domain.MessageLog { return refused(base(), domain.ErrCodeInvalidPhone, msgNoPhone) },
		},
		{
			name:    "blank phone",
			rule:    "welcome",
			student: func(s *domain.Student) { s.Phone = "   " },
			want:    func() domain.MessageLog { return refused(base(), domain.ErrCodeInvalidPhone, msgNoPhone) },
		},
		{
			name:    "too short",
			rule:    "welcome",
			student: func(s *domain.Student) { s.Phone = "600 111" },
			want:    func() domain.MessageLog { return refused(base(), domain.ErrCodeInvalidPhone, msgBadPhone) },
		},
		{
			name:    "not a number",
			rule:    "welcome",
			student: func(s *domain.Student) { s.Phone = "n/a" },
			want:    func() domain.MessageLog { return refused(base(), domain.ErrCodeInvalidPhone, msgBadPhone) },
		},
		{
			name:    "a national number of another region",
			rule:    "welcome",
			student: func(s *domain.Student) { s.Phone = "(212) 555-0123" },
			want:    func() domain.MessageLog { return refused(base(), domain.ErrCodeInvalidPhone, msgBadPhone) },
		},
		{
			name:    "language: exact regional match",
			rule:    "welcome",
			student: func(s *domain.Student) { s.Lang = "pt_br" },
			want:    func() domain.MessageLog { m := base(); m.Language = "pt_BR"; return m },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rule(tc.rule)
			r.Template.Languages = []string{"es", "es_MX", "pt_BR"}
			ev := evaluation(domain.OnScan, domain.NewProgress(3, 2))
			if tc.student != nil {
				tc.student(&ev.Student)
			}
			if tc.course != nil {
				tc.course(&ev.Course)
			}
			region := tc.region
			if region == "" {
				region = "ES"
			}

			got := domain.NewMessage(r, ev, trigger, region)

			assert.Equal(t, tc.want(), got)
		})
	}
}

func TestRenderParams(t *testing.T) {
	all := []domain.Param{
		domain.ParamProgressPercent, domain.ParamStudentFirstName, domain.ParamCourseEndDate,
		domain.ParamStudentFullName, domain.ParamStudentUsername, domain.ParamCourseShortName,
		domain.ParamCourseStartDate, domain.ParamProgressCompleted, domain.ParamProgressTotal,
		domain.ParamStudentLastName, domain.ParamCourseFullName, domain.ParamStudentFirstName,
	}
	require.ElementsMatch(t, domain.Params, all[:11], "every parameter is exercised")
	for _, tc := range []struct {
		name     string
		progress domain.Progress
		start    time.Time
		end      time.Time
		loc      *time.Location
		want     []string
	}{
		{
			name:     "2 of 3, dates on Madrid's DST days",
			progress: domain.NewProgress(3, 2),
			start:    inMadrid(2026, time.March, 29, 0, 30),  // 2026-03-28 in UTC
			end:      inMadrid(2026, time.October, 25, 0, 0), // 2026-10-24 in UTC
			loc:      madrid,
			want:     []string{"66", "Ana", "2026-10-25", "Ana Ruiz", "ana", "PRL-01", "2026-03-29", "2", "3", "Ruiz", "Prevención de riesgos", "Ana"},
		},
		{
			name:     "the same dates read in UTC",
			progress: domain.NewProgress(3, 2),
			start:    inMadrid(2026, time.March, 29, 0, 30),
			end:      inMadrid(2026, time.October, 25, 0, 0),
			loc:      time.UTC,
			want:     []string{"66", "Ana", "2026-10-24", "Ana Ruiz", "ana", "PRL-01", "2026-03-28", "2", "3", "Ruiz", "Prevención de riesgos", "Ana"},
		},
		{
			name:     "99.5 % is said 99, no dates are empty strings",
			progress: domain.NewProgress(200, 199),
			loc:      madrid,
			want:     []string{"99", "Ana", "", "Ana Ruiz", "ana", "PRL-01", "", "199", "200", "Ruiz", "Prevención de riesgos", "Ana"},
		},
		{
			name:     "100 %",
			progress: domain.NewProgress(4, 4),
			end:      inMadrid(2026, time.December, 31, 23, 30), // 2026-12-31T22:30Z
			loc:      madrid,
			want:     []string{"100", "Ana", "2026-12-31", "Ana Ruiz", "ana", "PRL-01", "", "4", "4", "Ruiz", "Prevención de riesgos", "Ana"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := evaluation(domain.OnScan, tc.progress)
			ev.Location = tc.loc
			ev.Course.StartDate, ev.Course.EndDate = tc.start, tc.end
			assert.Equal(t, tc.want, domain.RenderParams(all, ev))
		})
	}
	assert.Empty(t, domain.RenderParams(nil, evaluation(domain.OnScan, percent(10))))
}

func TestStudentFullName(t *testing.T) {
	for _, tc := range []struct{ first, last, want string }{
		{"Ana", "Ruiz", "Ana Ruiz"},
		{"Ana", "", "Ana"},
		{"", "Ruiz", "Ruiz"},
		{"", "", ""},
		{"María José", "García López", "María José García López"},
	} {
		assert.Equal(t, tc.want, domain.Student{FirstName: tc.first, LastName: tc.last}.FullName())
	}
}

func TestTemplateLanguageFor(t *testing.T) {
	multi := domain.Template{Name: "welcome", Language: "es", Languages: []string{"es", "es_MX", "pt_BR", "en"}}
	single := domain.Template{Name: "welcome", Language: "es"}
	brazil := domain.Template{Name: "welcome", Language: "en", Languages: []string{"pt_BR", "en_US"}}
	for _, tc := range []struct {
		name  string
		tmpl  domain.Template
		lang  string
		wants string
	}{
		{"exact es_MX", multi, "es_mx", "es_MX"},
		{"exact pt_BR", multi, "pt_br", "pt_BR"},
		{"exact, any case", multi, "PT_BR", "pt_BR"},
		{"base language of es_AR", multi, "es_ar", "es"},
		{"base language of en_US", multi, "en_us", "en"},
		{"plain es", multi, "es", "es"},
		{"plain en", multi, "en", "en"},
		{"not approved: fallback", multi, "fr", "es"},
		{"no language: fallback", multi, "", "es"},
		{"no languages listed: fallback", single, "pt_br", "es"},
		{"no languages listed, same as fallback", single, "es", "es"},
		{"base not listed, only a regional variant is", brazil, "pt", "en"},
		{"regional variant other than the listed one", brazil, "pt_pt", "en"},
		{"exact en_US", brazil, "en_us", "en_US"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.wants, tc.tmpl.LanguageFor(tc.lang))
		})
	}
}

func TestWhatsAppLanguage(t *testing.T) {
	for _, tc := range []struct{ moodle, want string }{
		{"es", "es"},
		{"en", "en"},
		{"es_mx", "es_MX"},
		{"pt_br", "pt_BR"},
		{"zh_cn", "zh_CN"},
		{"EN", "en"},
		{"Es_Mx", "es_MX"},
		{" pt_br ", "pt_BR"},
		{"es_", "es"},
		{"", ""},
	} {
		t.Run(tc.moodle, func(t *testing.T) {
			assert.Equal(t, tc.want, domain.WhatsAppLanguage(tc.moodle))
		})
	}
}
