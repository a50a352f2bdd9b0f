package domain_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/acme/notifier/domain"
)

func TestEnrollmentActiveAt(t *testing.T) {
	now := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		e    domain.Enrollment
		want bool
	}{
		{"active, no limits", domain.Enrollment{}, true},
		{"suspended", domain.Enrollment{Status: domain.EnrolmentSuspended}, false},
		{"deleted", domain.Enrollment{Deleted: true}, false},
		{"starts in a second", domain.Enrollment{TimeStart: now.Add(time.Second)}, false},
		{"starts now", domain.Enrollment{TimeStart: now}, true},
		{"started a second ago", domain.Enrollment{TimeStart: now.Add(-time.Second)}, true},
		{"ended a second ago", domain.Enrollment{TimeEnd: now.Add(-time.Second)}, false},
		{"ends now", domain.Enrollment{TimeEnd: now}, false},
		{"ends in a second", domain.Enrollment{TimeEnd: now.Add(time.Second)}, true},
		{"within start and end", domain.Enrollment{TimeStart: now.Add(-time.Hour), TimeEnd: now.Add(time.Hour)}, true},
		{"suspended within start and end", domain.Enrollment{Status: domain.EnrolmentSuspended, TimeStart: now.Add(-time.Hour), TimeEnd: now.Add(time.Hour)}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.e.ActiveAt(now))
		})
	}
}

func TestEnrollmentHasAnyRole(t *testing.T) {
	for _, tc := range []struct {
		name  string
		has   []string
		rules []string
		want  bool
	}{
		{"student", []string{"student"}, []string{"student"}, true},
		{"editingteacher", []string{"editingteacher"}, []string{"student"}, false},
		{"teacher and student", []string{"editingteacher", "student"}, []string{"student"}, true},
		{"none", nil, []string{"student"}, false},
		{"custom list", []string{"learner"}, []string{"student", "learner"}, true},
		{"custom list without the role", []string{"student"}, []string{"learner"}, false},
		{"no roles required matches nothing", []string{"student"}, nil, false},
		{"case matters", []string{"Student"}, []string{"student"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, domain.Enrollment{Roles: tc.has}.HasAnyRole(tc.rules))
		})
	}
}
