package httpapi

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/acme/notifier/app"
	"github.com/acme/notifier/domain"
)

// CourseRoutes serve the courses (CONTRACT section 5).
type CourseRoutes struct {
	Admin *app.Admin
}

// Register adds GET /courses.
func (h CourseRoutes) Register(r gin.IRoutes) {
	r.GET("/courses", h.list)
}

// CourseView is a course as the API shows it; a null enddate means the
// course has no end date.
type CourseView struct {
	ID             int64      `json:"id"`
	MoodleCourseID int64      `json:"moodle_course_id"`
	ShortName      string     `json:"shortname"`
	FullName       string     `json:"fullname"`
	StartDate      *time.Time `json:"startdate"`
	EndDate        *time.Time `json:"enddate"`
}

func toCourseView(c domain.Course) CourseView {
	return CourseView{ID: c.ID, MoodleCourseID: c.MoodleCourseID, ShortName: c.ShortName, FullName: c.FullName,
		StartDate: optionalTime(c.StartDate), EndDate: optionalTime(c.EndDate)}
}

func (h CourseRoutes) list(c *gin.Context) {
	q := newQuery(c)
	p := app.PageQuery{BeforeID: q.cursor(), Limit: q.limit()}
	if !q.ok() {
		return
	}
	rows, err := h.Admin.Queries.Courses(c.Request.Context(), p)
	if err != nil {
		storeError(c, err)
		return
	}
	views := make([]CourseView, len(rows))
	for i, r := range rows {
		views[i] = toCourseView(r)
	}
	c.JSON(http.StatusOK, newPage(views, p.Limit, func(v CourseView) int64 { return v.ID }))
}
