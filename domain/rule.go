package domain

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Occasion is a moment at which rules are evaluated for an enrollment.
type Occasion string

const (
	// OnEnrolment: an enrolment was created or changed (Moodle event or admin API).
	OnEnrolment Occasion = "enrolment"
	// OnProgress: an event that may change progress arrived.
	OnProgress Occasion = "progress"
	// OnScan: the daily (or a manual) scan reached the enrollment.
	OnScan Occasion = "scan"
)

var occasions = []Occasion{OnEnrolment, OnProgress, OnScan}

// DedupMode says how often a rule may message a student about a course.
type DedupMode string

const (
	// DedupOnce: once per student, course and rule, ever (FAILED rows aside).
	DedupOnce DedupMode = "once"
	// DedupWindow: at most once per student, course and template within Window.
	DedupWindow DedupMode = "window"
)

// Dedup is a rule's deduplication policy.
type Dedup struct {
	Mode   DedupMode
	Window time.Duration // DedupWindow only
}

// ProgressRange bounds progress in whole percent, both ends included.
type ProgressRange struct {
	Min int
	Max int
}

// Contains reports whether p lies in the range; unknown progress never does.
func (r ProgressRange) Contains(p Progress) bool {
	if !p.Known() {
		return false
	}
	w := p.WholePercent()
	return w >= r.Min && w <= r.Max
}

// Param names a value drawn into a template's body parameters.
type Param string

const (
	ParamStudentFirstName  Param = "student.firstname"
	ParamStudentLastName   Param = "student.lastname"
	ParamStudentFullName   Param = "student.fullname"
	ParamStudentUsername   Param = "student.username"
	ParamCourseFullName    Param = "course.fullname"
	ParamCourseShortName   Param = "course.shortname"
	ParamCourseStartDate   Param = "course.startdate"
	ParamCourseEndDate     Param = "course.enddate"
	ParamProgressPercent   Param = "progress.percent"
	ParamProgressCompleted Param = "progress.completed"
	ParamProgressTotal     Param = "progress.total"
)

// Params lists every parameter a template may use.
var Params = []Param{
	ParamStudentFirstName, ParamStudentLastName, ParamStudentFullName, ParamStudentUsername,
	ParamCourseFullName, ParamCourseShortName, ParamCourseStartDate, ParamCourseEndDate,
	ParamProgressPercent, ParamProgressCompleted, ParamProgressTotal,
}

// Template is an approved WhatsApp message template.
type Template struct {
	Name string
	// Language is the fallback language code, used when the student's
	// language is not among Languages.
	Language string
	// Languages lists the codes the template is approved in (may be empty).
	Languages []string
	// Params are the body parameters, in order ({{1}}, {{2}}, ...).
	Params []Param
}

// LanguageFor picks the template language for a student's Moodle language:
// an exact match ("pt_br" → "pt_BR"), then the base language ("es_mx" → "es"),
// then the fallback.
func (t Template) LanguageFor(moodleLang string) string {
	code := WhatsAppLanguage(moodleLang)
	if code != "" {
		if slices.Contains(t.Languages, code) {
			return code
		}
		base, _, _ := strings.Cut(code, "_")
		if slices.Contains(t.Languages, base) {
			return base
		}
	}
	return t.Language
}

// WhatsAppLanguage converts a Moodle language code ("es_mx", "pt_br", "en")
// to WhatsApp's form ("es_MX", "pt_BR", "en").
func WhatsAppLanguage(moodleLang string) string {
	lang, region, ok := strings.Cut(strings.TrimSpace(moodleLang), "_")
	lang = strings.ToLower(lang)
	if !ok || region == "" {
		return lang
	}
	return lang + "_" + strings.ToUpper(region)
}

// Rule is one messaging rule. Rules are data: the four defaults can be
// replaced by a rules file.
type Rule struct {
	Name string
	// On lists the occasions at which the rule is evaluated.
	On []Occasion
	// Progress, when set, requires known progress within the range.
	Progress *ProgressRange
	// CourseEndInDays, when set, requires the course to end that many days
	// after the reference date (0: today, 1: tomorrow) in the company zone.
	CourseEndInDays *int
	// Roles: the enrollment must carry one of these role short names.
	Roles []string
	// NewEnrolmentsOnly skips enrollments imported by a sync, which began
	// before the notifier knew of them.
	NewEnrolmentsOnly bool
	Dedup             Dedup
	Template          Template
}

// Validate checks the rule on its own and names the first field at fault in
// each error.
func (r Rule) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &RuleError{Rule: r.Name, Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	if !validName(r.Name) {
		bad("name", "must be 1-64 characters of a-z, 0-9, _ and -")
	}
	if len(r.On) == 0 {
		bad("on", "must list at least one of %s", joinOccasions())
	}
	for i, o := range r.On {
		if !slices.Contains(occasions, o) {
			bad(fmt.Sprintf("on[%d]", i), "unknown occasion %q (want one of %s)", o, joinOccasions())
		}
	}
	if p := r.Progress; p != nil {
		if p.Min < 0 || p.Min > 100 {
			bad("progress.min", "must be between 0 and 100")
		}
		if p.Max < 0 || p.Max > 100 {
			bad("progress.max", "must be between 0 and 100")
		}
		if p.Min > p.Max {
			bad("progress", "min %d is greater than max %d", p.Min, p.Max)
		}
	}
	if d := r.CourseEndInDays; d != nil && (*d < -366 || *d > 366) {
		bad("course_end_in_days", "must be between -366 and 366")
	}
	if len(r.Roles) == 0 {
		bad("roles", "must list at least one role short name")
	}
	for i, role := range r.Roles {
		if strings.TrimSpace(role) == "" {
			bad(fmt.Sprintf("roles[%d]", i), "must not be empty")
		}
	}
	switch r.Dedup.Mode {
	case DedupOnce:
		if r.Dedup.Window != 0 {
			bad("dedup.window", "only applies to mode window")
		}
	case DedupWindow:
		if r.Dedup.Window <= 0 {
			bad("dedup.window", "must be a positive duration such as 168h")
		}
	default:
		bad("dedup.mode", "must be once or window, not %q", r.Dedup.Mode)
	}
	if !validTemplateName(r.Template.Name) {
		bad("template.name", "must be 1-512 characters of a-z, 0-9 and _ (WhatsApp template names)")
	}
	if !validLanguage(r.Template.Language) {
		bad("template.language", "must be a language code such as es or pt_BR")
	}
	for i, l := range r.Template.Languages {
		if !validLanguage(l) {
			bad(fmt.Sprintf("template.languages[%d]", i), "must be a language code such as es or pt_BR")
		}
	}
	for i, p := range r.Template.Params {
		if !slices.Contains(Params, p) {
			bad(fmt.Sprintf("template.params[%d]", i), "unknown parameter %q", p)
		}
	}
	return errors.Join(errs...)
}

// RuleError names the rule and the field a rules file got wrong.
type RuleError struct {
	Rule  string
	Field string
	Msg   string
}

func (e *RuleError) Error() string {
	return fmt.Sprintf("rule %q: %s: %s", e.Rule, e.Field, e.Msg)
}

// ValidateRules checks every rule and that names are unique.
func ValidateRules(rules []Rule) error {
	if len(rules) == 0 {
		return errors.New("rules: at least one rule is required")
	}
	var errs []error
	seen := map[string]bool{}
	for _, r := range rules {
		if err := r.Validate(); err != nil {
			errs = append(errs, err)
		}
		if seen[r.Name] {
			errs = append(errs, &RuleError{Rule: r.Name, Field: "name", Msg: "is used by more than one rule"})
		}
		seen[r.Name] = true
	}
	return errors.Join(errs...)
}

func joinOccasions() string {
	s := make([]string, len(occasions))
	for i, o := range occasions {
		s[i] = string(o)
	}
	return strings.Join(s, ", ")
}

func validName(s string) bool {
	return len(s) >= 1 && len(s) <= 64 && strings.Trim(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") == ""
}

func validTemplateName(s string) bool {
	return len(s) >= 1 && len(s) <= 512 && strings.Trim(s, "abcdefghijklmnopqrstuvwxyz0123456789_") == ""
}

func validLanguage(s string) bool {
	lang, region, hasRegion := strings.Cut(s, "_")
	if len(lang) < 2 || len(lang) > 3 || strings.Trim(lang, "abcdefghijklmnopqrstuvwxyz") != "" {
		return false
	}
	return !hasRegion || (len(region) >= 2 && len(region) <= 4 && strings.Trim(region, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") == "")
}

// DefaultRules are the four rules the notifier starts with. progressWindow
// is NOTIFIER_PROGRESS_WINDOW.
func DefaultRules(progressWindow time.Duration) []Rule {
	student := []string{"student"}
	tomorrow, today := 1, 0
	return []Rule{
		{
			Name: "welcome", On: []Occasion{OnEnrolment, OnScan}, Roles: student,
			NewEnrolmentsOnly: true,
			Dedup:             Dedup{Mode: DedupOnce},
			Template: Template{Name: "welcome", Language: "es",
				Params: []Param{ParamStudentFirstName, ParamCourseFullName}},
		},
		{
			Name: "progress", On: []Occasion{OnProgress, OnScan}, Roles: student,
			Progress: &ProgressRange{Min: 1, Max: 99},
			Dedup:    Dedup{Mode: DedupWindow, Window: progressWindow},
			Template: Template{Name: "progress", Language: "es",
				Params: []Param{ParamStudentFirstName, ParamCourseFullName, ParamProgressPercent}},
		},
		{
			Name: "review", On: []Occasion{OnScan}, Roles: student,
			Progress: &ProgressRange{Min: 100, Max: 100}, CourseEndInDays: &tomorrow,
			Dedup: Dedup{Mode: DedupOnce},
			Template: Template{Name: "review", Language: "es",
				Params: []Param{ParamStudentFirstName, ParamCourseFullName, ParamCourseEndDate}},
		},
		{
			Name: "completion", On: []Occasion{OnScan}, Roles: student,
			Progress: &ProgressRange{Min: 100, Max: 100}, CourseEndInDays: &today,
			Dedup: Dedup{Mode: DedupOnce},
			Template: Template{Name: "completion", Language: "es",
				Params: []Param{ParamStudentFirstName, ParamCourseFullName}},
		},
	}
}
