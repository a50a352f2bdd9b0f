package httpapi

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/acme/notifier/app"
	"github.com/acme/notifier/ports/moodleevent"
)

const (
	// MoodleWebhookPath is where Moodle delivers its events.
	MoodleWebhookPath = "/webhooks/moodle"
	// maxWebhookBody is the largest body accepted (CONTRACT section 3).
	maxWebhookBody = 1 << 20
	// webhookTolerance is how far webhook-timestamp may be from now, either
	// way. The library's Verify has the same 5 minutes but reads the
	// system clock; the handler checks the window itself against its own
	// clock and lets the library check only the signature.
	webhookTolerance = 300 * time.Second
)

// MoodleWebhook is POST /webhooks/moodle: Standard Webhooks signatures,
// the schema-1 body, and storage before the answer (CONTRACT section 3).
type MoodleWebhook struct {
	verifiers []*standardwebhooks.Webhook // one per secret, for rotation
	decoder   *moodleevent.Decoder
	ingest    *app.IngestHandler
	now       func() time.Time
}

// NewMoodleWebhook builds the handler. secrets are the whsec_ secrets of
// MOODLE_WEBHOOK_SECRET: a delivery signed with any of them is accepted.
func NewMoodleWebhook(secrets []string, ingest *app.IngestHandler, now func() time.Time) (*MoodleWebhook, error) {
	if len(secrets) == 0 {
		return nil, errors.New("moodle webhook: at least one secret is required")
	}
	if ingest == nil || now == nil {
		return nil, errors.New("moodle webhook: ingest handler and clock are required")
	}
	h := &MoodleWebhook{decoder: moodleevent.NewDecoder(), ingest: ingest, now: now}
	for i, s := range secrets {
		wh, err := standardwebhooks.NewWebhook(s)
		if err != nil {
			// The library's message may quote the secret: say only which.
			return nil, fmt.Errorf("moodle webhook: secret %d is not whsec_<base64>", i+1)
		}
		h.verifiers = append(h.verifiers, wh)
	}
	return h, nil
}

// Register adds the route.
func (h *MoodleWebhook) Register(r gin.IRoutes) {
	r.POST(MoodleWebhookPath, h.handle)
}

// handle runs the checks in the contract's order; the first that fails
// answers. Nothing is stored before every check has passed.
func (h *MoodleWebhook) handle(c *gin.Context) {
	body, status, detail := h.readBody(c)
	if status != 0 {
		WriteProblem(c, status, detail)
		return
	}
	if detail := h.verify(c.Request.Header, body); detail != "" {
		WriteProblem(c, http.StatusUnauthorized, detail)
		return
	}
	// One decoding serves the three checks that follow, in the contract's
	// order: JSON (400), the body's id against webhook-id (401), the schema
	// (422).
	ev, err := h.decoder.Decode(body)
	var invalid *moodleevent.ValidationError
	switch {
	case errors.As(err, &invalid):
		ev.ID = invalid.ID
	case err != nil:
		WriteProblem(c, http.StatusBadRequest, "the body is not JSON")
		return
	}
	if ev.ID == "" || ev.ID != c.GetHeader(standardwebhooks.HeaderWebhookID) {
		WriteProblem(c, http.StatusUnauthorized, "the body's id is missing or differs from webhook-id")
		return
	}
	if invalid != nil {
		h.writeInvalid(c, invalid)
		return
	}
	h.store(c, ev, body)
}

// readBody reads at most maxWebhookBody bytes; a larger body is refused
// before it is read when its length is announced.
func (h *MoodleWebhook) readBody(c *gin.Context) ([]byte, int, string) {
	tooLarge := fmt.Sprintf("the body is over %d bytes", maxWebhookBody)
	r := c.Request
	if r.ContentLength > maxWebhookBody {
		return nil, http.StatusRequestEntityTooLarge, tooLarge
	}
	// Sized for the announced body, plus the room ReadFrom wants to see EOF.
	buf := bytes.NewBuffer(make([]byte, 0, int(max(r.ContentLength, 0))+bytes.MinRead))
	_, err := buf.ReadFrom(http.MaxBytesReader(c.Writer, r.Body, maxWebhookBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return nil, http.StatusRequestEntityTooLarge, tooLarge
	case err != nil:
		return nil, http.StatusBadRequest, "the body cannot be read"
	}
	return buf.Bytes(), 0, ""
}

// verify checks the Standard Webhooks headers and signature against every
// secret, and answers what is wrong, or "" when the delivery is authentic.
func (h *MoodleWebhook) verify(header http.Header, body []byte) string {
	id := header.Get(standardwebhooks.HeaderWebhookID)
	stamp := header.Get(standardwebhooks.HeaderWebhookTimestamp)
	if id == "" || stamp == "" || header.Get(standardwebhooks.HeaderWebhookSignature) == "" {
		return "missing webhook-id, webhook-timestamp or webhook-signature header"
	}
	sec, err := strconv.ParseInt(stamp, 10, 64)
	// The library signs the timestamp as it formats it: a header written
	// otherwise ("+1", "01") could never match, so it is malformed.
	if err != nil || strconv.FormatInt(sec, 10) != stamp {
		return "webhook-timestamp is not Unix seconds"
	}
	if d := h.now().Sub(time.Unix(sec, 0)); d > webhookTolerance || d < -webhookTolerance {
		return "webhook-timestamp is more than 300 s from now"
	}
	// Every secret is tried, with no early exit, so the time taken does not
	// tell which secret matched. Each comparison is constant-time.
	matched := false
	for _, wh := range h.verifiers {
		if wh.VerifyIgnoringTimestamp(body, header) == nil {
			matched = true
		}
	}
	if !matched {
		return "no signature in webhook-signature matches"
	}
	return ""
}

// writeInvalid answers 422 naming every bad field.
func (h *MoodleWebhook) writeInvalid(c *gin.Context, invalid *moodleevent.ValidationError) {
	fields := make([]FieldError, len(invalid.Errors))
	for i, f := range invalid.Errors {
		fields[i] = FieldError{Field: f.Field, Message: f.Message}
	}
	WriteProblem(c, http.StatusUnprocessableEntity, "the event breaks schema 1", fields...)
}

// store hands the event to the ingest use case and answers as it went.
func (h *MoodleWebhook) store(c *gin.Context, ev app.MoodleEvent, body []byte) {
	res, err := h.ingest.Handle(c.Request.Context(), app.InboundEvent{
		ID: ev.ID, Source: app.SourceMoodle, Name: ev.Name, Payload: body,
	})
	switch {
	case errors.Is(err, app.ErrUnavailable):
		// The ingest handler has logged the cause; Moodle retries later.
		c.Header("Retry-After", "30")
		WriteProblem(c, http.StatusServiceUnavailable, "the event cannot be stored now; retry later")
		return
	case err != nil:
		WriteProblem(c, http.StatusInternalServerError, "internal error")
		return
	}
	status := http.StatusAccepted
	if res.Status == app.IngestDuplicate {
		status = http.StatusOK
	}
	setWebhookOutcome(c, string(res.Status))
	c.JSON(status, gin.H{"id": ev.ID, "status": string(res.Status)})
}
