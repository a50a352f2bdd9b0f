package httpapi

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/acme/notifier/app"
	"github.com/acme/notifier/domain"
)

// RuleRoutes show the rules in force (CONTRACT section 5).
type RuleRoutes struct {
	Queries *app.Queries
}

// Register adds GET /rules.
func (h RuleRoutes) Register(r gin.IRoutes) {
	r.GET("/rules", h.list)
}

// RuleView is a rule as the rules file writes it (NOTIFIER_RULES_FILE).
type RuleView struct {
	Name              string            `json:"name"`
	On                []domain.Occasion `json:"on"`
	Roles             []string          `json:"roles"`
	NewEnrolmentsOnly bool              `json:"new_enrolments_only"`
	Progress          *RuleProgressView `json:"progress"`
	CourseEndInDays   *int              `json:"course_end_in_days"`
	Dedup             RuleDedupView     `json:"dedup"`
	Template          RuleTemplateView  `json:"template"`
}

// RuleProgressView bounds progress in whole percent, both ends included.
type RuleProgressView struct {
	Min int `json:"min"`
	Max int `json:"max"`
}

// RuleDedupView is "once", or "window" with a duration such as "168h0m0s".
type RuleDedupView struct {
	Mode   domain.DedupMode `json:"mode"`
	Window *string          `json:"window"`
}

// RuleTemplateView is the WhatsApp template a rule sends.
type RuleTemplateView struct {
	Name      string         `json:"name"`
	Language  string         `json:"language"`
	Languages []string       `json:"languages"`
	Params    []domain.Param `json:"params"`
}

func toRuleView(r domain.Rule) RuleView {
	v := RuleView{Name: r.Name, On: r.On, Roles: r.Roles, NewEnrolmentsOnly: r.NewEnrolmentsOnly,
		CourseEndInDays: r.CourseEndInDays, Dedup: RuleDedupView{Mode: r.Dedup.Mode},
		Template: RuleTemplateView{Name: r.Template.Name, Language: r.Template.Language,
			Languages: r.Template.Languages, Params: r.Template.Params}}
	if r.Progress != nil {
		v.Progress = &RuleProgressView{Min: r.Progress.Min, Max: r.Progress.Max}
	}
	if r.Dedup.Mode == domain.DedupWindow {
		w := r.Dedup.Window.String()
		v.Dedup.Window = &w
	}
	if v.On == nil {
		v.On = []domain.Occasion{}
	}
	if v.Roles == nil {
		v.Roles = []string{}
	}
	if v.Template.Languages == nil {
		v.Template.Languages = []string{}
	}
	if v.Template.Params == nil {
		v.Template.Params = []domain.Param{}
	}
	return v
}

// list answers every rule in force, in order, as one page.
func (h RuleRoutes) list(c *gin.Context) {
	rules := h.Queries.Rules()
	views := make([]RuleView, len(rules))
	for i, r := range rules {
		views[i] = toRuleView(r)
	}
	c.JSON(http.StatusOK, page[RuleView]{Items: views})
}
