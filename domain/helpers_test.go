package domain_test

import (
	"errors"
	"strings"
	"time"
	_ "time/tzdata" // the zones below load even where the system has no tz database

	"github.com/acme/notifier/domain"
)

const week = 168 * time.Hour

var (
	madrid   = mustLoadLocation("Europe/Madrid")
	santiago = mustLoadLocation("America/Santiago")
	havana   = mustLoadLocation("America/Havana")
)

func mustLoadLocation(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

func ptr[T any](v T) *T { return &v }

// inMadrid is a wall-clock instant in Europe/Madrid.
func inMadrid(y int, m time.Month, d, hh, mm int) time.Time {
	return time.Date(y, m, d, hh, mm, 0, 0, madrid)
}

func date(y int, m time.Month, d int) domain.Date { return domain.Date{Year: y, Month: m, Day: d} }

// percent is a known progress of exactly p percent.
func percent(p float64) domain.Progress {
	return domain.Progress{Total: 100, Completed: int(p), Percent: &p}
}

// fired joins the names of the rules that fired, "" for none.
func fired(rules []domain.Rule) string {
	n := make([]string, len(rules))
	for i, r := range rules {
		n[i] = r.Name
	}
	return strings.Join(n, ",")
}

// rule returns the default rule called name, built afresh so that a test may
// change it.
func rule(name string) domain.Rule {
	for _, r := range domain.DefaultRules(week) {
		if r.Name == name {
			return r
		}
	}
	panic("no default rule " + name)
}

// scanNow is the instant of the daily scan of 2026-06-15 in Madrid.
var scanNow = inMadrid(2026, time.June, 15, 8, 0)

// evaluation is an active student, enrolled since January 2026, in a course
// without an end date, with no history.
func evaluation(occ domain.Occasion, p domain.Progress) domain.Evaluation {
	return domain.Evaluation{
		Occasion: occ,
		Now:      scanNow,
		Today:    domain.DateOf(scanNow, madrid),
		Location: madrid,
		Student: domain.Student{
			ID: 3, MoodleUserID: 42, Username: "ana", FirstName: "Ana", LastName: "Ruiz",
			Phone: "600 111 222", Lang: "es",
		},
		Course: domain.Course{ID: 5, MoodleCourseID: 7, ShortName: "PRL-01", FullName: "Prevención de riesgos"},
		Enrollment: domain.Enrollment{
			ID: 9, StudentID: 3, CourseID: 5, MoodleEnrolmentID: 991,
			Status:    domain.EnrolmentActive,
			TimeStart: inMadrid(2026, time.January, 12, 9, 0),
			Roles:     []string{"student"},
			Progress:  p,
		},
	}
}

// ruleErrors collects every *domain.RuleError in err's tree.
func ruleErrors(err error) []domain.RuleError {
	var out []domain.RuleError
	var walk func(error)
	walk = func(e error) {
		var re *domain.RuleError
		switch u := e.(type) {
		case nil:
		case interface{ Unwrap() []error }:
			for _, c := range u.Unwrap() {
				walk(c)
			}
		default:
			if errors.As(e, &re) {
				out = append(out, *re)
			}
		}
	}
	walk(err)
	return out
}
