// Package rulesfile reads the messaging rules from the YAML file that
// NOTIFIER_RULES_FILE names.
package rulesfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/acme/notifier/domain"
)

// File is the YAML document: a list of rules replacing the defaults.
type File struct {
	Rules []RuleDoc `yaml:"rules"`
}

// RuleDoc is one rule as written in the file.
type RuleDoc struct {
	Name              string       `yaml:"name"`
	On                []string     `yaml:"on"`
	Roles             []string     `yaml:"roles"`
	NewEnrolmentsOnly bool         `yaml:"new_enrolments_only"`
	Progress          *ProgressDoc `yaml:"progress"`
	CourseEndInDays   *int         `yaml:"course_end_in_days"`
	Dedup             DedupDoc     `yaml:"dedup"`
	Template          TemplateDoc  `yaml:"template"`
}

// ProgressDoc bounds progress in whole percent, both ends included.
type ProgressDoc struct {
	Min int `yaml:"min"`
	Max int `yaml:"max"`
}

// DedupDoc is "once", or "window" with a Go duration (default: the
// NOTIFIER_PROGRESS_WINDOW value).
type DedupDoc struct {
	Mode   string `yaml:"mode"`
	Window string `yaml:"window"`
}

// TemplateDoc is the WhatsApp template a rule sends.
type TemplateDoc struct {
	Name      string   `yaml:"name"`
	Language  string   `yaml:"language"`
	Languages []string `yaml:"languages"`
	Params    []string `yaml:"params"`
}

// Load reads and validates the rules in path. defaultWindow fills window
// rules that give no window of their own.
func Load(path string, defaultWindow time.Duration) ([]domain.Rule, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read rules file: %w", err)
	}
	rules, err := Parse(b, defaultWindow)
	if err != nil {
		return nil, fmt.Errorf("rules file %s: %w", path, err)
	}
	return rules, nil
}

// Parse decodes a rules document strictly (unknown keys are errors) and
// validates every rule.
func Parse(b []byte, defaultWindow time.Duration) ([]domain.Rule, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var f File
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("the file is empty; it must hold a rules: list")
		}
		return nil, err
	}
	rules := make([]domain.Rule, 0, len(f.Rules))
	var errs []error
	for _, d := range f.Rules {
		r, err := d.toDomain(defaultWindow)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		rules = append(rules, r)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if err := domain.ValidateRules(rules); err != nil {
		return nil, err
	}
	return rules, nil
}

func (d RuleDoc) toDomain(defaultWindow time.Duration) (domain.Rule, error) {
	r := domain.Rule{
		Name:              d.Name,
		Roles:             d.Roles,
		NewEnrolmentsOnly: d.NewEnrolmentsOnly,
		CourseEndInDays:   d.CourseEndInDays,
		Dedup:             domain.Dedup{Mode: domain.DedupMode(d.Dedup.Mode)},
		Template: domain.Template{
			Name:      d.Template.Name,
			Language:  d.Template.Language,
			Languages: d.Template.Languages,
		},
	}
	if len(r.Roles) == 0 {
		r.Roles = []string{"student"}
	}
	for _, o := range d.On {
		r.On = append(r.On, domain.Occasion(o))
	}
	for _, p := range d.Template.Params {
		r.Template.Params = append(r.Template.Params, domain.Param(p))
	}
	if d.Progress != nil {
		r.Progress = &domain.ProgressRange{Min: d.Progress.Min, Max: d.Progress.Max}
	}
	if r.Dedup.Mode == domain.DedupWindow {
		r.Dedup.Window = defaultWindow
		if d.Dedup.Window != "" {
			w, err := time.ParseDuration(d.Dedup.Window)
			if err != nil {
				return r, &domain.RuleError{Rule: d.Name, Field: "dedup.window", Msg: fmt.Sprintf("%q is not a duration such as 168h", d.Dedup.Window)}
			}
			r.Dedup.Window = w
		}
	} else if d.Dedup.Window != "" {
		return r, &domain.RuleError{Rule: d.Name, Field: "dedup.window", Msg: "only applies to mode window"}
	}
	return r, nil
}
