package domain_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/notifier/domain"
)

func TestValidateRules_Defaults(t *testing.T) {
	for _, w := range []time.Duration{time.Nanosecond, time.Hour, week, 30 * 24 * time.Hour} {
		t.Run(w.String(), func(t *testing.T) {
			require.NoError(t, domain.ValidateRules(domain.DefaultRules(w)))
		})
	}
}

func TestDefaultRules_NoWindowIsAnError(t *testing.T) {
	err := domain.ValidateRules(domain.DefaultRules(0))
	assert.Equal(t, []domain.RuleError{{Rule: "progress", Field: "dedup.window", Msg: "must be a positive duration such as 168h"}}, ruleErrors(err))
}

func TestRuleValidate_EachBrokenField(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*domain.Rule)
		rule   string // the rule name the error names
		field  string // "" when the rule is valid
	}{
		{"valid as is", func(*domain.Rule) {}, "", ""},
		{"name empty", func(r *domain.Rule) { r.Name = "" }, "", "name"},
		{"name with capitals", func(r *domain.Rule) { r.Name = "Progress" }, "Progress", "name"},
		{"name with a space", func(r *domain.Rule) { r.Name = "weekly progress" }, "weekly progress", "name"},
		{"name with a dot", func(r *domain.Rule) { r.Name = "progress.v2" }, "progress.v2", "name"},
		{"name of 65 characters", func(r *domain.Rule) { r.Name = strings.Repeat("p", 65) }, strings.Repeat("p", 65), "name"},
		{"name of 64 characters", func(r *domain.Rule) { r.Name = strings.Repeat("p", 64) }, "", ""},
		{"name with digits, - and _", func(r *domain.Rule) { r.Name = "progress_v2-b" }, "", ""},
		{"on empty", func(r *domain.Rule) { r.On = nil }, "progress", "on"},
		{"on with an unknown occasion", func(r *domain.Rule) { r.On = []domain.Occasion{domain.OnScan, "daily"} }, "progress", "on[1]"},
		{"on with a capitalised occasion", func(r *domain.Rule) { r.On = []domain.Occasion{"Scan"} }, "progress", "on[0]"},
		{"progress.min below 0", func(r *domain.Rule) { r.Progress = &domain.ProgressRange{Min: -1, Max: 99} }, "progress", "progress.min"},
		{"progress.max above 100", func(r *domain.Rule) { r.Progress = &domain.ProgressRange{Min: 1, Max: 101} }, "progress", "progress.max"},
		{"progress min above max", func(r *domain.Rule) { r.Progress = &domain.ProgressRange{Min: 60, Max: 40} }, "progress", "progress"},
		{"progress min one above max", func(r *domain.Rule) { r.Progress = &domain.ProgressRange{Min: 41, Max: 40} }, "progress", "progress"},
		{"progress min equal to max", func(r *domain.Rule) { r.Progress = &domain.ProgressRange{Min: 40, Max: 40} }, "", ""},
		{"progress 0..0", func(r *domain.Rule) { r.Progress = &domain.ProgressRange{Min: 0, Max: 0} }, "", ""},
		{"progress 0..100", func(r *domain.Rule) { r.Progress = &domain.ProgressRange{Min: 0, Max: 100} }, "", ""},
		{"no progress condition", func(r *domain.Rule) { r.Progress = nil }, "", ""},
		{"course_end_in_days 367", func(r *domain.Rule) { r.CourseEndInDays = ptr(367) }, "progress", "course_end_in_days"},
		{"course_end_in_days -367", func(r *domain.Rule) { r.CourseEndInDays = ptr(-367) }, "progress", "course_end_in_days"},
		{"course_end_in_days 366", func(r *domain.Rule) { r.CourseEndInDays = ptr(366) }, "", ""},
		{"course_end_in_days -1 (the day after)", func(r *domain.Rule) { r.CourseEndInDays = ptr(-1) }, "", ""},
		{"roles empty", func(r *domain.Rule) { r.Roles = nil }, "progress", "roles"},
		{"a blank role", func(r *domain.Rule) { r.Roles = []string{"student", " "} }, "progress", "roles[1]"},
		{"custom roles", func(r *domain.Rule) { r.Roles = []string{"learner", "student"} }, "", ""},
		{"dedup.mode empty", func(r *domain.Rule) { r.Dedup = domain.Dedup{} }, "progress", "dedup.mode"},
		{"dedup.mode unknown", func(r *domain.Rule) { r.Dedup = domain.Dedup{Mode: "daily", Window: week} }, "progress", "dedup.mode"},
		{"dedup.window zero", func(r *domain.Rule) { r.Dedup.Window = 0 }, "progress", "dedup.window"},
		{"dedup.window negative", func(r *domain.Rule) { r.Dedup.Window = -time.Hour }, "progress", "dedup.window"},
		{"dedup.window on a once rule", func(r *domain.Rule) { r.Dedup = domain.Dedup{Mode: domain.DedupOnce, Window: week} }, "progress", "dedup.window"},
		{"once rule", func(r *domain.Rule) { r.Dedup = domain.Dedup{Mode: domain.DedupOnce} }, "", ""},
		{"template.name empty", func(r *domain.Rule) { r.Template.Name = "" }, "progress", "template.name"},
		{"template.name with capitals", func(r *domain.Rule) { r.Template.Name = "Progress" }, "progress", "template.name"},
		{"template.name with a dash", func(r *domain.Rule) { r.Template.Name = "progress-nudge" }, "progress", "template.name"},
		{"template.name of 513 characters", func(r *domain.Rule) { r.Template.Name = strings.Repeat("t", 513) }, "progress", "template.name"},
		{"template.name of 512 characters", func(r *domain.Rule) { r.Template.Name = strings.Repeat("t", 512) }, "", ""},
		{"template.language empty", func(r *domain.Rule) { r.Template.Language = "" }, "progress", "template.language"},
		{"template.language a word", func(r *domain.Rule) { r.Template.Language = "spanish" }, "progress", "template.language"},
		{"template.language in Moodle's form", func(r *domain.Rule) { r.Template.Language = "pt_br" }, "progress", "template.language"},
		{"template.language with a dash", func(r *domain.Rule) { r.Template.Language = "pt-BR" }, "progress", "template.language"},
		{"template.language with an empty region", func(r *domain.Rule) { r.Template.Language = "es_" }, "progress", "template.language"},
		{"template.language pt_BR", func(r *domain.Rule) { r.Template.Language = "pt_BR" }, "", ""},
		{"template.languages[1] bad", func(r *domain.Rule) { r.Template.Languages = []string{"es", "es-MX"} }, "progress", "template.languages[1]"},
		{"template.languages good", func(r *domain.Rule) { r.Template.Languages = []string{"es", "es_MX", "pt_BR", "en_US"} }, "", ""},
		{"template.params[2] unknown", func(r *domain.Rule) {
			r.Template.Params = []domain.Param{domain.ParamStudentFirstName, domain.ParamCourseFullName, "student.phone"}
		}, "progress", "template.params[2]"},
		{"template.params[0] misspelt", func(r *domain.Rule) { r.Template.Params = []domain.Param{"progress.percentage"} }, "progress", "template.params[0]"},
		{"template.params: every known parameter", func(r *domain.Rule) { r.Template.Params = domain.Params }, "", ""},
		{"template.params none", func(r *domain.Rule) { r.Template.Params = nil }, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rule("progress")
			tc.change(&r)

			err := r.Validate()
			errs := ruleErrors(err)

			if tc.field == "" {
				require.NoError(t, err)
				require.NoError(t, domain.ValidateRules([]domain.Rule{r}))
				return
			}
			require.Error(t, err)
			require.Len(t, errs, 1, "exactly one error: %v", err)
			assert.Equal(t, tc.rule, errs[0].Rule)
			assert.Equal(t, tc.field, errs[0].Field)
			assert.NotEmpty(t, errs[0].Msg)
			assert.Contains(t, err.Error(), fmt.Sprintf("rule %q: %s: ", tc.rule, tc.field))

			// Through ValidateRules, among valid rules, errors.As still finds it.
			rules := domain.DefaultRules(week)
			rules[1] = r
			all := domain.ValidateRules(rules)
			var re *domain.RuleError
			require.True(t, errors.As(all, &re))
			assert.Equal(t, tc.field, re.Field)
			assert.Equal(t, tc.rule, re.Rule)
		})
	}
}

func TestRuleValidate_ReportsEveryFault(t *testing.T) {
	r := domain.Rule{
		Name:     "Bad Rule",
		On:       []domain.Occasion{"daily"},
		Progress: &domain.ProgressRange{Min: 101, Max: -1},
		Dedup:    domain.Dedup{Mode: domain.DedupWindow},
		Template: domain.Template{Name: "Bad", Language: "Spanish", Params: []domain.Param{"x"}},
	}
	var fields []string
	for _, e := range ruleErrors(r.Validate()) {
		assert.Equal(t, "Bad Rule", e.Rule)
		fields = append(fields, e.Field)
	}
	assert.Equal(t, []string{
		"name", "on[0]", "progress.min", "progress.max", "progress", "roles",
		"dedup.window", "template.name", "template.language", "template.params[0]",
	}, fields)
}

func TestValidateRules_DuplicateNames(t *testing.T) {
	rules := domain.DefaultRules(week)
	second := rule("review")
	second.Name = "welcome"
	rules = append(rules, second)

	err := domain.ValidateRules(rules)

	assert.Equal(t, []domain.RuleError{{Rule: "welcome", Field: "name", Msg: "is used by more than one rule"}}, ruleErrors(err))
	var re *domain.RuleError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, "welcome", re.Rule)
	assert.Equal(t, `rule "welcome": name: is used by more than one rule`, re.Error())
}

func TestValidateRules_EveryBrokenRuleIsNamed(t *testing.T) {
	rules := domain.DefaultRules(week)
	rules[0].Template.Name = ""
	rules[3].Roles = nil
	assert.Equal(t, []domain.RuleError{
		{Rule: "welcome", Field: "template.name", Msg: "must be 1-512 characters of a-z, 0-9 and _ (WhatsApp template names)"},
		{Rule: "completion", Field: "roles", Msg: "must list at least one role short name"},
	}, ruleErrors(domain.ValidateRules(rules)))
}

func TestValidateRules_NoRules(t *testing.T) {
	for _, rules := range [][]domain.Rule{nil, {}} {
		err := domain.ValidateRules(rules)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "at least one rule")
	}
}

// The defaults as DEVELOPERS.md describes them, checked through what they
// decide rather than how they are spelt: see evaluate_test.go. This pins the
// names and order the API and the once index rely on.
func TestDefaultRules_NamesAndTemplates(t *testing.T) {
	rules := domain.DefaultRules(week)
	require.Len(t, rules, 4)
	var got []string
	for _, r := range rules {
		got = append(got, r.Name+"/"+r.Template.Name+"/"+string(r.Dedup.Mode))
	}
	assert.Equal(t, []string{"welcome/welcome/once", "progress/progress/window", "review/review/once", "completion/completion/once"}, got)
	assert.Equal(t, week, rules[1].Dedup.Window)
}
