package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/go-playground/validator/v10"
	"github.com/google/uuid"

	"github.com/acme/notifier/app"
	"github.com/acme/notifier/domain"
)

// StudentRoutes serve the students (CONTRACT section 5).
type StudentRoutes struct {
	Admin *app.Admin
}

// Register adds GET and POST /students, GET and PATCH /students/{id}.
func (h StudentRoutes) Register(r gin.IRoutes) {
	r.GET("/students", h.list)
	r.POST("/students", h.create)
	r.GET("/students/:id", h.get)
	r.PATCH("/students/:id", h.update)
}

// StudentView is a student as the API shows it.
type StudentView struct {
	ID           int64  `json:"id"`
	MoodleUserID *int64 `json:"moodle_user_id"`
	Username     string `json:"username"`
	FirstName    string `json:"firstname"`
	LastName     string `json:"lastname"`
	Email        string `json:"email"`
	Phone        string `json:"phone"`
	Lang         string `json:"lang"`
	OptedOut     bool   `json:"opted_out"`
}

func toStudentView(s domain.Student) StudentView {
	return StudentView{ID: s.ID, MoodleUserID: optional(s.MoodleUserID), Username: s.Username,
		FirstName: s.FirstName, LastName: s.LastName, Email: s.Email, Phone: s.Phone, Lang: s.Lang,
		OptedOut: s.OptedOut}
}

func (h StudentRoutes) list(c *gin.Context) {
	q := newQuery(c)
	p := app.PageQuery{BeforeID: q.cursor(), Limit: q.limit()}
	if !q.ok() {
		return
	}
	rows, err := h.Admin.Queries.Students(c.Request.Context(), p)
	if err != nil {
		storeError(c, err)
		return
	}
	views := make([]StudentView, len(rows))
	for i, s := range rows {
		views[i] = toStudentView(s)
	}
	c.JSON(http.StatusOK, newPage(views, p.Limit, func(v StudentView) int64 { return v.ID }))
}

func (h StudentRoutes) get(c *gin.Context) {
	id, ok := pathID(c)
	if !ok {
		return
	}
	s, err := h.Admin.Queries.Student(c.Request.Context(), id)
	if err != nil {
		storeError(c, err)
		return
	}
	c.JSON(http.StatusOK, toStudentView(s))
}

// createStudentBody is the body of POST /students.
type createStudentBody struct {
	Username  string  `json:"username" validate:"required,max=100,moodle_username"`
	FirstName string  `json:"firstname" validate:"required,max=100"`
	LastName  string  `json:"lastname" validate:"required,max=100"`
	Email     string  `json:"email" validate:"required,max=100,email"`
	Phone     string  `json:"phone" validate:"required,max=40"`
	Lang      *string `json:"lang" validate:"omitnil,moodle_lang"`
	Password  *string `json:"password" validate:"omitnil,min=1,max=255"`
}

func (h StudentRoutes) create(c *gin.Context) {
	if !needMoodle(c, h.Admin) {
		return
	}
	var body createStudentBody
	if !decodeBody(c, &body, false) || !validBody(c, &body) {
		return
	}
	cmd := app.CreateStudent{Username: body.Username, FirstName: body.FirstName, LastName: body.LastName,
		Email: body.Email, Phone: body.Phone}
	if body.Lang != nil {
		cmd.Lang = *body.Lang
	}
	if body.Password != nil {
		cmd.Password = *body.Password
	}
	// The password is left out of the request's hash, which is stored:
	// a repeat that differs only in its password replays the first answer.
	hashed := body
	hashed.Password = nil
	idempotent(c, h.Admin, "POST /api/v1/students", hashed, func(ctx context.Context) (app.Answer, error) {
		res, err := h.Admin.CreateStudent.Handle(ctx, cmd)
		if err != nil {
			return app.Answer{}, err
		}
		status := http.StatusOK
		if res.Created {
			status = http.StatusCreated
		}
		return jsonAnswer(status, toStudentView(res.Student))
	})
}

// updateStudentBody is the body of PATCH /students/{id}.
type updateStudentBody struct {
	Phone    *string `json:"phone" validate:"omitnil,max=40"`
	OptedOut *bool   `json:"opted_out"`
}

func (h StudentRoutes) update(c *gin.Context) {
	id, ok := pathID(c)
	if !ok {
		return
	}
	var body updateStudentBody
	if !decodeBody(c, &body, false) || !validBody(c, &body) {
		return
	}
	if body.Phone == nil && body.OptedOut == nil {
		WriteProblem(c, http.StatusUnprocessableEntity, "invalid body",
			FieldError{Field: "phone", Message: "give phone, opted_out or both"},
			FieldError{Field: "opted_out", Message: "give phone, opted_out or both"})
		return
	}
	s, err := h.Admin.UpdateStudent.Handle(c.Request.Context(), app.UpdateStudent{ID: id, Phone: body.Phone,
		OptedOut: body.OptedOut})
	if err != nil {
		adminError(c, err)
		return
	}
	c.JSON(http.StatusOK, toStudentView(s))
}

// --- what the admin routes share ---

// IdempotencyHeader is the header that makes a POST safe to repeat.
const IdempotencyHeader = "Idempotency-Key"

// needMoodle answers 503 when Moodle is not configured.
func needMoodle(c *gin.Context, a *app.Admin) bool {
	if a.MoodleConfigured() {
		return true
	}
	moodleNotConfigured(c)
	return false
}

func moodleNotConfigured(c *gin.Context) {
	WriteProblem(c, http.StatusServiceUnavailable,
		"Moodle is not configured (MOODLE_URL and MOODLE_TOKEN are empty): this route acts in Moodle")
}

// idempotent runs run under the request's Idempotency-Key (CONTRACT section
// 5) and writes its answer: the stored one for a repeat of the same request,
// marked by the Idempotent-Replayed header.
func idempotent(c *gin.Context, a *app.Admin, route string, request any, run func(context.Context) (app.Answer, error)) {
	key := c.GetHeader(IdempotencyHeader)
	if key != "" && !app.ValidIdempotencyKey(key) {
		WriteProblem(c, http.StatusUnprocessableEntity, "invalid header", FieldError{Field: IdempotencyHeader,
			Message: "must be 1 to 255 printable ASCII characters without spaces"})
		return
	}
	hash, err := app.RequestHash(route, request)
	if err != nil {
		adminError(c, err)
		return
	}
	ans, err := a.Idempotency.Do(c.Request.Context(), key, hash, run)
	if err != nil {
		adminError(c, err)
		return
	}
	if ans.Replayed {
		c.Header("Idempotent-Replayed", "true")
	}
	c.Data(ans.Status, "application/json; charset=utf-8", ans.Body)
}

func jsonAnswer(status int, v any) (app.Answer, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return app.Answer{}, err
	}
	return app.Answer{Status: status, Body: b}, nil
}

// requestRef names the request in the trigger of the rows it causes: its
// Idempotency-Key, its X-Request-Id, or a new id.
func requestRef(c *gin.Context) string {
	for _, h := range []string{IdempotencyHeader, "X-Request-Id"} {
		if v := strings.TrimSpace(c.GetHeader(h)); v != "" && len(v) <= app.MaxIdempotencyKey {
			return v
		}
	}
	return uuid.NewString()
}

// adminError answers an error of an admin use case.
func adminError(c *gin.Context, err error) {
	var inv *app.InvalidError
	switch {
	case errors.As(err, &inv):
		WriteProblem(c, http.StatusUnprocessableEntity, "invalid request", FieldError{Field: inv.Field, Message: inv.Msg})
	case errors.Is(err, app.ErrMoodleNotConfigured):
		moodleNotConfigured(c)
	case errors.Is(err, app.ErrConflict):
		WriteProblem(c, http.StatusConflict, err.Error())
	case errors.Is(err, app.ErrMoodleOutcomeUnknown):
		c.Header("Retry-After", "5")
		WriteProblem(c, http.StatusServiceUnavailable,
			"Moodle did not confirm the change, which may or may not have been made; repeating the same request is safe")
	case errors.Is(err, app.ErrUnavailable):
		c.Header("Retry-After", "5")
		WriteProblem(c, http.StatusServiceUnavailable,
			"Moodle or the store is unavailable; try again shortly (repeating the same request is safe)")
	case errors.Is(err, app.ErrMoodleRejected), errors.Is(err, app.ErrMoodleNotFound):
		WriteProblem(c, http.StatusUnprocessableEntity, "Moodle refused the request: "+err.Error())
	case errors.Is(err, app.ErrMoodleFailed):
		_ = c.Error(err)
		WriteProblem(c, http.StatusBadGateway, "Moodle answered with an error: "+err.Error())
	default:
		storeError(c, err)
	}
}

// bodyValidator checks admin bodies; errors name fields by their JSON name.
var bodyValidator = newBodyValidator()

var (
	// Moodle usernames: lower case letters, digits, _ - . @ (the API
	// lower-cases them).
	usernameRE = regexp.MustCompile(`^[A-Za-z0-9_.@-]+$`)
	// Moodle language codes: es, pt_br, en_us_k12.
	langRE = regexp.MustCompile(`^[a-z]{2,3}(_[a-z0-9]{1,10}){0,3}$`)
)

func newBodyValidator() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(func(f reflect.StructField) string {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			return ""
		}
		return name
	})
	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	must(v.RegisterValidation("moodle_username", func(fl validator.FieldLevel) bool {
		return usernameRE.MatchString(fl.Field().String())
	}))
	must(v.RegisterValidation("moodle_lang", func(fl validator.FieldLevel) bool {
		return langRE.MatchString(fl.Field().String())
	}))
	return v
}

// validBody validates a decoded body and answers 422 naming every bad field.
func validBody(c *gin.Context, body any) bool {
	err := bodyValidator.Struct(body)
	if err == nil {
		return true
	}
	var verrs validator.ValidationErrors
	if !errors.As(err, &verrs) {
		_ = c.Error(err)
		WriteProblem(c, http.StatusInternalServerError, "internal error")
		return false
	}
	fields := make([]FieldError, len(verrs))
	for i, fe := range verrs {
		fields[i] = FieldError{Field: fieldPath(fe), Message: fieldMessage(fe)}
	}
	WriteProblem(c, http.StatusUnprocessableEntity, "invalid body", fields...)
	return false
}

// fieldPath is the field's JSON path without the struct's name:
// "moodle_course_ids[2]".
func fieldPath(fe validator.FieldError) string {
	ns := fe.Namespace()
	if _, rest, ok := strings.Cut(ns, "."); ok {
		return rest
	}
	return fe.Field()
}

func fieldMessage(fe validator.FieldError) string {
	switch fe.Tag() {
	case "required":
		return "is required"
	case "email":
		return "must be an email address"
	case "max":
		if fe.Kind() == reflect.Slice {
			return fmt.Sprintf("must hold at most %s items", fe.Param())
		}
		if fe.Kind() == reflect.String {
			return fmt.Sprintf("must be at most %s characters", fe.Param())
		}
		return "must be at most " + fe.Param()
	case "min":
		if fe.Kind() == reflect.String {
			return fmt.Sprintf("must be at least %s characters", fe.Param())
		}
		return "must be at least " + fe.Param()
	case "gt":
		return "must be greater than " + fe.Param()
	case "gte":
		return "must be at least " + fe.Param()
	case "moodle_username":
		return "may hold only letters, digits and _ - . @"
	case "moodle_lang":
		return "must be a Moodle language code such as es or pt_br"
	}
	return "is not valid (" + fe.Tag() + ")"
}
