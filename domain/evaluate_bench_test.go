package domain_test

import (
	"testing"
	"time"

	"github.com/acme/notifier/domain"
)

// BenchmarkDecide is the rules' decision for one enrollment of a scan with
// a history of earlier messages: what every scan item pays at least once.
func BenchmarkDecide(b *testing.B) {
	now := time.Date(2026, 3, 10, 8, 0, 0, 0, time.UTC)
	rules := domain.DefaultRules(168 * time.Hour)
	ev := domain.Evaluation{
		Occasion: domain.OnScan, Now: now, Today: domain.DateOf(now, time.UTC), Location: time.UTC,
		Student:    domain.Student{ID: 1, MoodleUserID: 42, FirstName: "Ana", Phone: "+34 600 111 222"},
		Course:     domain.Course{ID: 1, MoodleCourseID: 7, FullName: "Curso", EndDate: now.AddDate(0, 1, 0)},
		Enrollment: domain.Enrollment{ID: 1, Roles: []string{"student"}, Progress: domain.NewProgress(4, 2)},
		History: []domain.PriorMessage{
			{Rule: "welcome", Template: "welcome", Status: domain.StatusRead, CreatedAt: now.AddDate(0, -2, 0)},
			{Rule: "progress", Template: "progress", Status: domain.StatusSent, CreatedAt: now.AddDate(0, 0, -30)},
		},
	}
	b.ReportAllocs()
	for b.Loop() {
		if fired := domain.Decide(rules, ev); len(fired) != 1 {
			b.Fatalf("%d rules fired, want the progress rule", len(fired))
		}
	}
}

// BenchmarkNewMessage builds the row of a rule that fired: parameters and
// the phone number's E.164 form.
func BenchmarkNewMessage(b *testing.B) {
	now := time.Date(2026, 3, 10, 8, 0, 0, 0, time.UTC)
	rules := domain.DefaultRules(168 * time.Hour)
	ev := domain.Evaluation{
		Occasion: domain.OnScan, Now: now, Today: domain.DateOf(now, time.UTC), Location: time.UTC,
		Student:    domain.Student{ID: 1, MoodleUserID: 42, FirstName: "Ana", Phone: "+34 600 111 222"},
		Course:     domain.Course{ID: 1, MoodleCourseID: 7, FullName: "Curso"},
		Enrollment: domain.Enrollment{ID: 1, Roles: []string{"student"}, Progress: domain.NewProgress(4, 2)},
	}
	trigger := domain.Trigger{Kind: domain.TriggerScan, Ref: "1"}
	b.ReportAllocs()
	for b.Loop() {
		if m := domain.NewMessage(rules[1], ev, trigger, "ES"); m.To == "" {
			b.Fatal("no phone")
		}
	}
}
