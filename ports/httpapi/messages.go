package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/acme/notifier/app"
	"github.com/acme/notifier/domain"
)

// MessageRoutes serve the MessageLog (CONTRACT section 5).
type MessageRoutes struct {
	Queries *app.Queries
}

// Register adds GET /messages and GET /messages/{id}.
func (h MessageRoutes) Register(r gin.IRoutes) {
	r.GET("/messages", h.list)
	r.GET("/messages/:id", h.get)
}

// MessageView is a MessageLog row as the API shows it.
type MessageView struct {
	ID                int64           `json:"id"`
	Rule              string          `json:"rule"`
	Template          string          `json:"template"`
	Language          string          `json:"language"`
	Status            domain.Status   `json:"status"`
	DryRun            bool            `json:"dry_run"`
	StudentID         int64           `json:"student_id"`
	MoodleUserID      *int64          `json:"moodle_user_id"`
	CourseID          int64           `json:"course_id"`
	MoodleCourseID    int64           `json:"moodle_course_id"`
	EnrollmentID      int64           `json:"enrollment_id"`
	To                *string         `json:"to"`
	ProviderMessageID *string         `json:"provider_message_id"`
	ErrorCode         *string         `json:"error_code"`
	ErrorMessage      *string         `json:"error_message"`
	Trigger           TriggerView     `json:"trigger"`
	Params            []string        `json:"params"`
	Attempts          int             `json:"attempts"`
	CreatedAt         time.Time       `json:"created_at"`
	SentAt            *time.Time      `json:"sent_at"`
	DeliveredAt       *time.Time      `json:"delivered_at"`
	ReadAt            *time.Time      `json:"read_at"`
	FailedAt          *time.Time      `json:"failed_at"`
	Request           json.RawMessage `json:"request,omitempty"`
	Response          json.RawMessage `json:"response,omitempty"`
}

// TriggerView says what caused the attempt.
type TriggerView struct {
	Kind domain.TriggerKind `json:"kind"`
	Ref  string             `json:"ref"`
}

func toMessageView(m domain.MessageLog, full bool) MessageView {
	v := MessageView{
		ID: m.ID, Rule: m.Rule, Template: m.Template, Language: m.Language, Status: m.Status, DryRun: m.DryRun,
		StudentID: m.StudentID, MoodleUserID: optional(m.MoodleUserID), CourseID: m.CourseID,
		MoodleCourseID: m.MoodleCourseID, EnrollmentID: m.EnrollmentID, To: optional(m.To),
		ProviderMessageID: optional(m.ProviderMessageID), ErrorCode: optional(m.ErrorCode),
		ErrorMessage: optional(m.ErrorMessage), Trigger: TriggerView{Kind: m.Trigger.Kind, Ref: m.Trigger.Ref},
		Params: m.Params, Attempts: m.Attempts, CreatedAt: m.CreatedAt.UTC(),
		SentAt: optionalTime(m.SentAt), DeliveredAt: optionalTime(m.DeliveredAt), ReadAt: optionalTime(m.ReadAt),
		FailedAt: optionalTime(m.FailedAt),
	}
	if v.Params == nil {
		v.Params = []string{}
	}
	if full {
		v.Request, v.Response = m.Request, m.Response
	}
	return v
}

func optional[T comparable](v T) *T {
	var zero T
	if v == zero {
		return nil
	}
	return &v
}

func optionalTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

func (h MessageRoutes) list(c *gin.Context) {
	q := newQuery(c)
	f := app.MessageFilter{
		StudentID: q.id("student_id"), CourseID: q.id("course_id"),
		MoodleUserID: q.id("moodle_user_id"), MoodleCourseID: q.id("moodle_course_id"),
		Since: q.time("since"), Until: q.time("until"), BeforeID: q.cursor(), Limit: q.limit(),
	}
	if raw, ok := c.GetQuery("status"); ok {
		st, err := domain.ParseStatus(raw)
		if err != nil {
			q.fail("status", "must be one of PENDING, SENT, DELIVERED, READ, FAILED")
		}
		f.Status = st
	}
	if raw, ok := c.GetQuery("rule"); ok {
		if !slices.ContainsFunc(h.Queries.Rules(), func(r domain.Rule) bool { return r.Name == raw }) {
			q.fail("rule", "is not a rule in force (see GET /api/v1/rules)")
		}
		f.Rule = raw
	}
	if !q.ok() {
		return
	}
	rows, err := h.Queries.Messages(c.Request.Context(), f)
	if err != nil {
		storeError(c, err)
		return
	}
	views := make([]MessageView, len(rows))
	for i, m := range rows {
		views[i] = toMessageView(m, false)
	}
	c.JSON(http.StatusOK, newPage(views, f.Limit, func(v MessageView) int64 { return v.ID }))
}

func (h MessageRoutes) get(c *gin.Context) {
	id, ok := pathID(c)
	if !ok {
		return
	}
	m, err := h.Queries.Message(c.Request.Context(), id)
	if err != nil {
		storeError(c, err)
		return
	}
	c.JSON(http.StatusOK, toMessageView(m, true))
}

// storeError answers 404 for a missing row, 503 when the store is
// unavailable and 500 otherwise.
func storeError(c *gin.Context, err error) {
	switch {
	case errors.Is(err, app.ErrNotFound):
		WriteProblem(c, http.StatusNotFound, "not found")
	case errors.Is(err, app.ErrUnavailable):
		c.Header("Retry-After", "5")
		WriteProblem(c, http.StatusServiceUnavailable, "the store is unavailable; try again shortly")
	default:
		_ = c.Error(err)
		WriteProblem(c, http.StatusInternalServerError, "internal error")
	}
}
