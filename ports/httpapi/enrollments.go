package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/acme/notifier/app"
	"github.com/acme/notifier/domain"
)

// EnrollmentRoutes serve the enrollments (CONTRACT section 5).
type EnrollmentRoutes struct {
	Admin *app.Admin
}

// Register adds GET and POST /enrollments.
func (h EnrollmentRoutes) Register(r gin.IRoutes) {
	r.GET("/enrollments", h.list)
	r.POST("/enrollments", h.create)
}

// EnrollmentView is an enrollment as the API shows it. Status is active,
// suspended, or deleted (Moodle removed the enrolment).
type EnrollmentView struct {
	ID             int64        `json:"id"`
	StudentID      int64        `json:"student_id"`
	CourseID       int64        `json:"course_id"`
	MoodleUserID   *int64       `json:"moodle_user_id"`
	MoodleCourseID int64        `json:"moodle_course_id"`
	Status         string       `json:"status"`
	Progress       ProgressView `json:"progress"`
}

// ProgressView is SCORM progress as the webhook carries it (CONTRACT
// section 3): percent is null when the course has no tracked SCORM activity.
type ProgressView struct {
	ScormTotal     int      `json:"scorm_total"`
	ScormCompleted int      `json:"scorm_completed"`
	Percent        *float64 `json:"percent"`
}

// Enrollment statuses as the API shows them.
const (
	EnrollmentActive    = "active"
	EnrollmentSuspended = "suspended"
	EnrollmentDeleted   = "deleted"
)

func toEnrollmentView(r app.EnrollmentRecord) EnrollmentView {
	status := EnrollmentActive
	switch {
	case r.Deleted:
		status = EnrollmentDeleted
	case r.Status == domain.EnrolmentSuspended:
		status = EnrollmentSuspended
	}
	return EnrollmentView{ID: r.ID, StudentID: r.StudentID, CourseID: r.CourseID,
		MoodleUserID: optional(r.MoodleUserID), MoodleCourseID: r.MoodleCourseID, Status: status,
		Progress: ProgressView{ScormTotal: r.Progress.Total, ScormCompleted: r.Progress.Completed,
			Percent: r.Progress.Percent}}
}

func (h EnrollmentRoutes) list(c *gin.Context) {
	q := newQuery(c)
	f := app.EnrollmentFilter{CourseID: q.id("course_id"), StudentID: q.id("student_id"),
		PageQuery: app.PageQuery{BeforeID: q.cursor(), Limit: q.limit()}}
	if !q.ok() {
		return
	}
	rows, err := h.Admin.Queries.Enrollments(c.Request.Context(), f)
	if err != nil {
		storeError(c, err)
		return
	}
	views := make([]EnrollmentView, len(rows))
	for i, r := range rows {
		views[i] = toEnrollmentView(r)
	}
	c.JSON(http.StatusOK, newPage(views, f.Limit, func(v EnrollmentView) int64 { return v.ID }))
}

// enrollBody is the body of POST /enrollments: the student by student_id or
// moodle_user_id; timestart and timeend in Unix seconds (0: none).
type enrollBody struct {
	StudentID      *int64 `json:"student_id" validate:"omitnil,gt=0"`
	MoodleUserID   *int64 `json:"moodle_user_id" validate:"omitnil,gt=0"`
	MoodleCourseID int64  `json:"moodle_course_id" validate:"required,gt=0"`
	TimeStart      *int64 `json:"timestart" validate:"omitnil,gte=0,lt=253402300800"`
	TimeEnd        *int64 `json:"timeend" validate:"omitnil,gte=0,lt=253402300800"`
}

func (h EnrollmentRoutes) create(c *gin.Context) {
	if !needMoodle(c, h.Admin) {
		return
	}
	var body enrollBody
	if !decodeBody(c, &body, false) || !validBody(c, &body) {
		return
	}
	var errs []FieldError
	switch {
	case body.StudentID == nil && body.MoodleUserID == nil:
		errs = append(errs, FieldError{Field: "student_id", Message: "give student_id or moodle_user_id"},
			FieldError{Field: "moodle_user_id", Message: "give student_id or moodle_user_id"})
	case body.StudentID != nil && body.MoodleUserID != nil:
		errs = append(errs, FieldError{Field: "moodle_user_id", Message: "give student_id or moodle_user_id, not both"})
	}
	cmd := app.EnrollStudent{MoodleCourseID: body.MoodleCourseID, Ref: requestRef(c)}
	if body.StudentID != nil {
		cmd.StudentID = *body.StudentID
	}
	if body.MoodleUserID != nil {
		cmd.MoodleUserID = *body.MoodleUserID
	}
	if body.TimeStart != nil && *body.TimeStart > 0 {
		cmd.TimeStart = time.Unix(*body.TimeStart, 0).UTC()
	}
	if body.TimeEnd != nil && *body.TimeEnd > 0 {
		cmd.TimeEnd = time.Unix(*body.TimeEnd, 0).UTC()
	}
	if !cmd.TimeStart.IsZero() && !cmd.TimeEnd.IsZero() && !cmd.TimeEnd.After(cmd.TimeStart) {
		errs = append(errs, FieldError{Field: "timeend", Message: "must be after timestart"})
	}
	if len(errs) > 0 {
		WriteProblem(c, http.StatusUnprocessableEntity, "invalid body", errs...)
		return
	}
	idempotent(c, h.Admin, "POST /api/v1/enrollments", body, func(ctx context.Context) (app.Answer, error) {
		res, err := h.Admin.EnrollStudent.Handle(ctx, cmd)
		if err != nil {
			return app.Answer{}, err
		}
		status := http.StatusOK
		if res.Created {
			status = http.StatusCreated
		}
		return jsonAnswer(status, toEnrollmentView(res.Enrollment))
	})
}
