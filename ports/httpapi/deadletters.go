package httpapi

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/acme/notifier/app"
)

// maxReplayIDs bounds the ids of one POST /dead-letters/replay.
const maxReplayIDs = 500

// DeadLetterRoutes serve the dead-letter store (CONTRACT section 5), as the
// `notifier dlq` commands.
type DeadLetterRoutes struct {
	DeadLetters *app.DeadLetters
}

// Register adds GET /dead-letters, POST /dead-letters/{id}/replay,
// POST /dead-letters/replay and DELETE /dead-letters/{id}.
func (h DeadLetterRoutes) Register(r gin.IRoutes) {
	r.GET("/dead-letters", h.list)
	r.POST("/dead-letters/replay", h.replay)
	r.POST("/dead-letters/:id/replay", h.replayOne)
	r.DELETE("/dead-letters/:id", h.delete)
}

// DeadLetterView is a dead letter as the API shows it. The payload is the
// JSON itself when it is JSON (payload_encoding "json"), else its bytes in
// standard base64 (payload_encoding "base64").
type DeadLetterView struct {
	ID              int64             `json:"id"`
	Topic           string            `json:"topic"`
	Handler         string            `json:"handler"`
	Reason          string            `json:"reason"`
	Attempts        int               `json:"attempts"`
	FirstFailedAt   time.Time         `json:"first_failed_at"`
	LastFailedAt    time.Time         `json:"last_failed_at"`
	MessageID       string            `json:"message_id"`
	CorrelationID   *string           `json:"correlation_id"`
	Metadata        map[string]string `json:"metadata"`
	Payload         json.RawMessage   `json:"payload"`
	PayloadEncoding string            `json:"payload_encoding"`
}

func toDeadLetterView(d app.DeadLetter) DeadLetterView {
	v := DeadLetterView{
		ID: d.ID, Topic: d.Topic, Handler: d.Handler, Reason: d.Reason, Attempts: d.Attempts,
		FirstFailedAt: d.FirstFailedAt.UTC(), LastFailedAt: d.LastFailedAt.UTC(), MessageID: d.MessageID,
		Metadata: d.Metadata,
	}
	if v.Metadata == nil {
		v.Metadata = map[string]string{}
	}
	if id, ok := d.Metadata["correlation_id"]; ok && id != "" {
		v.CorrelationID = &id
	}
	if len(d.Payload) > 0 && json.Valid(d.Payload) {
		v.Payload, v.PayloadEncoding = json.RawMessage(d.Payload), "json"
	} else {
		b, _ := json.Marshal(base64.StdEncoding.EncodeToString(d.Payload))
		v.Payload, v.PayloadEncoding = b, "base64"
	}
	return v
}

// ReplayView is the account of a replay.
type ReplayView struct {
	Moved     int                 `json:"moved"`
	Failed    int                 `json:"failed"`
	MovedIDs  []int64             `json:"moved_ids"`
	FailedIDs []int64             `json:"failed_ids"`
	Failures  []ReplayFailureView `json:"failures"`
}

// ReplayFailureView says why one dead letter was not moved.
type ReplayFailureView struct {
	ID     int64  `json:"id"`
	Reason string `json:"reason"`
}

func toReplayView(r app.ReplayResult) ReplayView {
	v := ReplayView{Moved: len(r.Moved), Failed: len(r.Failed), MovedIDs: r.Moved,
		FailedIDs: []int64{}, Failures: []ReplayFailureView{}}
	if v.MovedIDs == nil {
		v.MovedIDs = []int64{}
	}
	for _, f := range r.Failed {
		v.FailedIDs = append(v.FailedIDs, f.ID)
		v.Failures = append(v.Failures, ReplayFailureView{ID: f.ID, Reason: f.Reason})
	}
	return v
}

func (h DeadLetterRoutes) list(c *gin.Context) {
	q := newQuery(c)
	limit, after := q.limit(), q.cursor()
	if !q.ok() {
		return
	}
	list, err := h.DeadLetters.List(c.Request.Context(), after, limit)
	if err != nil {
		storeError(c, err)
		return
	}
	views := make([]DeadLetterView, len(list))
	for i, d := range list {
		views[i] = toDeadLetterView(d)
	}
	c.JSON(http.StatusOK, newPage(views, limit, func(v DeadLetterView) int64 { return v.ID }))
}

func (h DeadLetterRoutes) replayOne(c *gin.Context) {
	id, ok := pathID(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	if _, err := h.DeadLetters.Get(ctx, id); err != nil {
		deadLetterError(c, id, err)
		return
	}
	res, err := h.DeadLetters.Replay(ctx, []int64{id})
	if err != nil {
		storeError(c, err)
		return
	}
	if len(res.Failed) > 0 {
		c.Header("Retry-After", "5")
		WriteProblem(c, http.StatusServiceUnavailable, fmt.Sprintf("dead letter %d was not replayed: %s", id, res.Failed[0].Reason))
		return
	}
	c.JSON(http.StatusOK, toReplayView(res))
}

// replayBody is the body of POST /dead-letters/replay: ids, or all.
type replayBody struct {
	IDs []int64 `json:"ids"`
	All bool    `json:"all"`
}

func (h DeadLetterRoutes) replay(c *gin.Context) {
	var body replayBody
	if !decodeBody(c, &body, false) {
		return
	}
	var errs []FieldError
	switch {
	case body.All && len(body.IDs) > 0:
		errs = append(errs, FieldError{Field: "all", Message: "give either ids or all, not both"})
	case !body.All && len(body.IDs) == 0:
		errs = append(errs, FieldError{Field: "ids", Message: `give the ids to replay, or "all": true`})
	case len(body.IDs) > maxReplayIDs:
		errs = append(errs, FieldError{Field: "ids", Message: fmt.Sprintf("at most %d ids at once", maxReplayIDs)})
	}
	for i, id := range body.IDs {
		if id <= 0 {
			errs = append(errs, FieldError{Field: "ids[" + strconv.Itoa(i) + "]", Message: "must be a positive integer"})
		}
	}
	if len(errs) > 0 {
		WriteProblem(c, http.StatusUnprocessableEntity, "invalid body", errs...)
		return
	}
	var (
		res app.ReplayResult
		err error
	)
	if body.All {
		res, err = h.DeadLetters.ReplayAll(c.Request.Context())
	} else {
		res, err = h.DeadLetters.Replay(c.Request.Context(), body.IDs)
	}
	if err != nil {
		storeError(c, err)
		return
	}
	c.JSON(http.StatusOK, toReplayView(res))
}

func (h DeadLetterRoutes) delete(c *gin.Context) {
	id, ok := pathID(c)
	if !ok {
		return
	}
	if err := h.DeadLetters.Delete(c.Request.Context(), id); err != nil {
		deadLetterError(c, id, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// deadLetterError answers 404 naming the dead letter, else as storeError.
func deadLetterError(c *gin.Context, id int64, err error) {
	if errors.Is(err, app.ErrNotFound) {
		WriteProblem(c, http.StatusNotFound, fmt.Sprintf("no dead letter %d", id))
		return
	}
	storeError(c, err)
}
