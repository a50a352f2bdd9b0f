package rulesfile_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/notifier/adapters/rulesfile"
	"github.com/acme/notifier/domain"
)

const valid = `
rules:
  - name: welcome
    on: [enrolment, scan]
    new_enrolments_only: true
    dedup: {mode: once}
    template: {name: welcome_v2, language: es, languages: [es, en], params: [student.firstname, course.fullname]}
  - name: nudge
    on: [scan]
    roles: [student, guest]
    progress: {min: 10, max: 50}
    dedup: {mode: window}
    template: {name: nudge, language: en, params: [progress.percent]}
  - name: last_call
    on: [scan]
    course_end_in_days: 3
    dedup: {mode: window, window: 24h}
    template: {name: last_call, language: en}
`

func TestParseValid(t *testing.T) {
	rules, err := rulesfile.Parse([]byte(valid), 72*time.Hour)
	require.NoError(t, err)
	require.Len(t, rules, 3)

	assert.Equal(t, "welcome_v2", rules[0].Template.Name)
	assert.Equal(t, []string{"student"}, rules[0].Roles, "roles default to student")
	assert.True(t, rules[0].NewEnrolmentsOnly)
	assert.Equal(t, domain.DedupOnce, rules[0].Dedup.Mode)

	assert.Equal(t, []string{"student", "guest"}, rules[1].Roles)
	assert.Equal(t, &domain.ProgressRange{Min: 10, Max: 50}, rules[1].Progress)
	assert.Equal(t, 72*time.Hour, rules[1].Dedup.Window, "a window rule without a window takes the default")

	require.NotNil(t, rules[2].CourseEndInDays)
	assert.Equal(t, 3, *rules[2].CourseEndInDays)
	assert.Equal(t, 24*time.Hour, rules[2].Dedup.Window)
}

func TestParseErrorsNameRuleAndField(t *testing.T) {
	cases := []struct {
		name, doc, want string
	}{
		{"unknown key", "rules:\n  - name: a\n    colour: red\n", "field colour not found"},
		{"bad window", "rules:\n  - name: a\n    on: [scan]\n    dedup: {mode: window, window: soon}\n    template: {name: a, language: es}\n",
			`rule "a": dedup.window: "soon" is not a duration`},
		{"window on once", "rules:\n  - name: a\n    on: [scan]\n    dedup: {mode: once, window: 1h}\n    template: {name: a, language: es}\n",
			`rule "a": dedup.window: only applies to mode window`},
		{"bad occasion", "rules:\n  - name: a\n    on: [daily]\n    dedup: {mode: once}\n    template: {name: a, language: es}\n",
			`rule "a": on[0]: unknown occasion "daily"`},
		{"bad param", "rules:\n  - name: a\n    on: [scan]\n    dedup: {mode: once}\n    template: {name: a, language: es, params: [student.phone]}\n",
			`rule "a": template.params[0]: unknown parameter "student.phone"`},
		{"bad progress", "rules:\n  - name: a\n    on: [scan]\n    progress: {min: 80, max: 20}\n    dedup: {mode: once}\n    template: {name: a, language: es}\n",
			`rule "a": progress: min 80 is greater than max 20`},
		{"no rules", "rules: []\n", "at least one rule is required"},
		{"empty", "", "the file is empty"},
		{"duplicate", "rules:\n  - {name: a, on: [scan], dedup: {mode: once}, template: {name: a, language: es}}\n  - {name: a, on: [scan], dedup: {mode: once}, template: {name: b, language: es}}\n",
			`rule "a": name: is used by more than one rule`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := rulesfile.Parse([]byte(c.doc), time.Hour)
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
		})
	}
}

func TestParseReportsEveryBadRule(t *testing.T) {
	doc := "rules:\n  - {name: a, on: [scan], dedup: {mode: sometimes}, template: {name: a, language: es}}\n" +
		"  - {name: b, on: [scan], dedup: {mode: once}, template: {name: B!, language: es}}\n"
	_, err := rulesfile.Parse([]byte(doc), time.Hour)
	var re *domain.RuleError
	require.True(t, errors.As(err, &re))
	assert.Contains(t, err.Error(), `rule "a": dedup.mode`)
	assert.Contains(t, err.Error(), `rule "b": template.name`)
}

func TestLoadNamesTheFile(t *testing.T) {
	_, err := rulesfile.Load(filepath.Join(t.TempDir(), "missing.yaml"), time.Hour)
	require.ErrorIs(t, err, os.ErrNotExist)

	p := filepath.Join(t.TempDir(), "rules.yaml")
	require.NoError(t, os.WriteFile(p, []byte("rules: [{name: x}]\n"), 0o600))
	_, err = rulesfile.Load(p, time.Hour)
	require.ErrorContains(t, err, p)
	require.ErrorContains(t, err, `rule "x": on`)
}
