package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/acme/notifier/app"
	"github.com/acme/notifier/domain"
)

// ScanRoutes start and show scans (CONTRACT section 5).
type ScanRoutes struct {
	Scans *app.ScanHandler
	// Poke, when set, wakes the local scheduler so that a new scan is
	// dispatched at once rather than at its next tick.
	Poke func()
}

// Register adds POST /scans, GET /scans and GET /scans/{id}.
func (h ScanRoutes) Register(r gin.IRoutes) {
	r.POST("/scans", h.start)
	r.GET("/scans", h.list)
	r.GET("/scans/:id", h.get)
}

// ScanView is a scan as the API shows it.
type ScanView struct {
	ID         int64          `json:"id"`
	Kind       app.ScanKind   `json:"kind"`
	Date       string         `json:"date"`
	Status     app.ScanStatus `json:"status"`
	Counts     app.ScanCounts `json:"counts"`
	StartedAt  time.Time      `json:"started_at"`
	FinishedAt *time.Time     `json:"finished_at"`
}

func toScanView(s app.Scan) ScanView {
	return ScanView{ID: s.ID, Kind: s.Kind, Date: s.Date.String(), Status: s.Status, Counts: s.Counts,
		StartedAt: s.StartedAt.UTC(), FinishedAt: optionalTime(s.FinishedAt)}
}

type startScanBody struct {
	Date *string `json:"date"`
}

func (h ScanRoutes) start(c *gin.Context) {
	var body startScanBody
	if !decodeBody(c, &body, true) {
		return
	}
	var date domain.Date
	if body.Date != nil {
		d, err := domain.ParseDate(*body.Date)
		if err != nil {
			WriteProblem(c, http.StatusUnprocessableEntity, "invalid body",
				FieldError{Field: "date", Message: "must be a date YYYY-MM-DD"})
			return
		}
		date = d
	}
	sc, _, err := h.Scans.Start(c.Request.Context(), app.ScanManual, date)
	if err != nil {
		storeError(c, err)
		return
	}
	if h.Poke != nil {
		h.Poke()
	}
	c.JSON(http.StatusAccepted, toScanView(sc))
}

func (h ScanRoutes) list(c *gin.Context) {
	q := newQuery(c)
	limit, before := q.limit(), q.cursor()
	if !q.ok() {
		return
	}
	scans, err := h.Scans.List(c.Request.Context(), before, limit)
	if err != nil {
		storeError(c, err)
		return
	}
	views := make([]ScanView, len(scans))
	for i, s := range scans {
		views[i] = toScanView(s)
	}
	c.JSON(http.StatusOK, newPage(views, limit, func(v ScanView) int64 { return v.ID }))
}

func (h ScanRoutes) get(c *gin.Context) {
	id, ok := pathID(c)
	if !ok {
		return
	}
	sc, err := h.Scans.Get(c.Request.Context(), id)
	if err != nil {
		storeError(c, err)
		return
	}
	c.JSON(http.StatusOK, toScanView(sc))
}

// maxAdminBody bounds admin request bodies.
const maxAdminBody = 64 << 10

// decodeBody reads a JSON body into dst, refusing unknown fields (422) and
// bad JSON (400). An empty body is accepted when optional.
func decodeBody(c *gin.Context, dst any, optional bool) bool {
	raw, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, maxAdminBody))
	if err != nil {
		WriteProblem(c, http.StatusRequestEntityTooLarge, "the body is larger than 64 KiB")
		return false
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		if optional {
			return true
		}
		WriteProblem(c, http.StatusBadRequest, "a JSON body is required")
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		var typeErr *json.UnmarshalTypeError
		var syntaxErr *json.SyntaxError
		switch {
		case errors.As(err, &syntaxErr) || errors.Is(err, io.ErrUnexpectedEOF):
			WriteProblem(c, http.StatusBadRequest, "the body is not valid JSON")
		case errors.As(err, &typeErr):
			WriteProblem(c, http.StatusUnprocessableEntity, "invalid body",
				FieldError{Field: typeErr.Field, Message: "must be a " + typeErr.Type.String()})
		default:
			// json reports an unknown field as `json: unknown field "x"`.
			WriteProblem(c, http.StatusUnprocessableEntity, "invalid body",
				FieldError{Field: unknownField(err), Message: "unknown field"})
		}
		return false
	}
	return true
}

func unknownField(err error) string {
	const prefix = `json: unknown field "`
	msg := err.Error()
	if len(msg) > len(prefix) && msg[:len(prefix)] == prefix {
		return msg[len(prefix) : len(msg)-1]
	}
	return ""
}
