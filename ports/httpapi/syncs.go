package httpapi

import (
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/acme/notifier/app"
	"github.com/acme/notifier/domain"
)

// SyncRoutes start and show imports from Moodle (CONTRACT section 5).
type SyncRoutes struct {
	Admin *app.Admin
}

// Register adds POST /syncs and GET /syncs/{id}.
func (h SyncRoutes) Register(r gin.IRoutes) {
	r.POST("/syncs", h.start)
	r.GET("/syncs/:id", h.get)
}

// SyncView is a sync as the API shows it. Kind is always manual (staff or
// the CLI start syncs); date is the day it started in NOTIFIER_TIMEZONE.
// The counts' unit is an enrolled user of a course.
type SyncView struct {
	ID              int64          `json:"id"`
	Kind            string         `json:"kind"`
	Date            string         `json:"date"`
	Status          app.SyncStatus `json:"status"`
	MoodleCourseIDs []int64        `json:"moodle_course_ids"`
	Counts          app.SyncCounts `json:"counts"`
	Error           *string        `json:"error"`
	StartedAt       time.Time      `json:"started_at"`
	FinishedAt      *time.Time     `json:"finished_at"`
}

func toSyncView(s app.Sync, loc *time.Location) SyncView {
	v := SyncView{ID: s.ID, Kind: "manual", Date: domain.DateOf(s.StartedAt, loc).String(), Status: s.Status,
		MoodleCourseIDs: s.MoodleCourseIDs, Counts: s.Counts, Error: optional(s.Error),
		StartedAt: s.StartedAt.UTC(), FinishedAt: optionalTime(s.FinishedAt)}
	if v.MoodleCourseIDs == nil {
		v.MoodleCourseIDs = []int64{}
	}
	return v
}

// startSyncBody is the body of POST /syncs; no course named (or no body):
// every visible course that has not ended.
type startSyncBody struct {
	MoodleCourseIDs []int64 `json:"moodle_course_ids" validate:"max=1000,dive,gt=0"`
}

func (h SyncRoutes) start(c *gin.Context) {
	if !needMoodle(c, h.Admin) {
		return
	}
	var body startSyncBody
	if !decodeBody(c, &body, true) || !validBody(c, &body) {
		return
	}
	sc, err := h.Admin.Sync.Start(c.Request.Context(), body.MoodleCourseIDs)
	if err != nil {
		adminError(c, err)
		return
	}
	c.JSON(http.StatusAccepted, toSyncView(sc, h.Admin.Queries.Location()))
}

func (h SyncRoutes) get(c *gin.Context) {
	id, ok := pathID(c)
	if !ok {
		return
	}
	sc, err := h.Admin.Sync.Get(c.Request.Context(), id)
	if err != nil {
		storeError(c, err)
		return
	}
	c.JSON(http.StatusOK, toSyncView(sc, h.Admin.Queries.Location()))
}

func asInvalid(err error) (*app.InvalidError, bool) {
	var inv *app.InvalidError
	ok := errors.As(err, &inv)
	return inv, ok
}
