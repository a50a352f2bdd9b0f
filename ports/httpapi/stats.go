package httpapi

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/acme/notifier/app"
	"github.com/acme/notifier/domain"
)

// StatsRoutes count MessageLog rows (CONTRACT section 5).
type StatsRoutes struct {
	Admin *app.Admin
}

// Register adds GET /stats.
func (h StatsRoutes) Register(r gin.IRoutes) {
	r.GET("/stats", h.get)
}

// StatsView counts the MessageLog rows created in [since, until) by status,
// rule and day (days of NOTIFIER_TIMEZONE).
type StatsView struct {
	Since    time.Time             `json:"since"`
	Until    time.Time             `json:"until"`
	Timezone string                `json:"timezone"`
	Total    int                   `json:"total"`
	ByStatus map[domain.Status]int `json:"by_status"`
	ByRule   map[string]int        `json:"by_rule"`
	ByDay    []DayStatsView        `json:"by_day"`
	// Counts are the non-zero counts by day, rule and status.
	Counts []DayCountView `json:"counts"`
}

// DayStatsView is one day's counts.
type DayStatsView struct {
	Day      string                `json:"day"`
	Total    int                   `json:"total"`
	ByStatus map[domain.Status]int `json:"by_status"`
	ByRule   map[string]int        `json:"by_rule"`
}

// DayCountView is the count of one day, rule and status.
type DayCountView struct {
	Day    string        `json:"day"`
	Rule   string        `json:"rule"`
	Status domain.Status `json:"status"`
	Count  int           `json:"count"`
}

func toStatsView(s app.MessageStats) StatsView {
	v := StatsView{Since: s.Since.UTC(), Until: s.Until.UTC(), Timezone: s.Location.String(), Total: s.Total,
		ByStatus: s.ByStatus, ByRule: s.ByRule, ByDay: []DayStatsView{}, Counts: []DayCountView{}}
	for _, d := range s.ByDay {
		v.ByDay = append(v.ByDay, DayStatsView{Day: d.Day.String(), Total: d.Total, ByStatus: d.ByStatus, ByRule: d.ByRule})
	}
	for _, c := range s.Counts {
		v.Counts = append(v.Counts, DayCountView{Day: c.Day.String(), Rule: c.Rule, Status: c.Status, Count: c.Count})
	}
	return v
}

// get answers the counts of since..until (RFC 3339), by default of the
// last 30 days, today included.
func (h StatsRoutes) get(c *gin.Context) {
	q := newQuery(c)
	since, until := q.time("since"), q.time("until")
	if !q.ok() {
		return
	}
	st, err := h.Admin.Queries.Stats(c.Request.Context(), since, until)
	if err != nil {
		if inv, ok := asInvalid(err); ok {
			WriteProblem(c, http.StatusBadRequest, "invalid query parameters", FieldError{Field: inv.Field, Message: inv.Msg})
			return
		}
		adminError(c, err)
		return
	}
	c.JSON(http.StatusOK, toStatsView(st))
}
