package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/acme/notifier/domain"
)

// WhatsApp webhooks (CONTRACT section 4): the HTTP port verifies the
// signature and hands the raw body to ReceiveWhatsAppWebhookHandler, which
// stores it and queues it; ProcessWhatsAppWebhookHandler, run by a bus
// handler, applies it: statuses move MessageLog rows forward, and inbound
// STOP/START messages change students' opt-out.

// InboundEvent.Source and Name of a stored WhatsApp webhook.
const (
	SourceWhatsApp      = "whatsapp"
	InboundNameWhatsApp = "whatsapp_webhook"
)

// ErrBadWebhook marks a WhatsApp webhook whose JSON does not have Meta's
// shape: running it again cannot help.
var ErrBadWebhook = errors.New("malformed WhatsApp webhook")

// WhatsAppEventID is the inbound event id of a WhatsApp webhook body: "wa:"
// and the hex SHA-256 of the body, so that Meta's re-deliveries of the same
// body are stored once.
func WhatsAppEventID(body []byte) string {
	sum := sha256.Sum256(body)
	return "wa:" + hex.EncodeToString(sum[:])
}

// WhatsAppWebhooks gathers the two use cases.
type WhatsAppWebhooks struct {
	Receive *ReceiveWhatsAppWebhookHandler
	Process *ProcessWhatsAppWebhookHandler
}

// WhatsAppWebhookDeps are what the WhatsApp webhooks need.
type WhatsAppWebhookDeps struct {
	Store    Store
	WhatsApp WhatsAppStore
	Inbound  InboundStore
	Bus      Bus
	Now      func() time.Time // nil: time.Now
	Logger   *slog.Logger     // nil: slog.Default()
}

// NewWhatsAppWebhooks builds the use cases; it refuses missing dependencies.
// Settings.PhoneRegion reads students' phone numbers.
func NewWhatsAppWebhooks(s Settings, d WhatsAppWebhookDeps) (*WhatsAppWebhooks, error) {
	if d.Store == nil || d.WhatsApp == nil || d.Inbound == nil || d.Bus == nil {
		return nil, errors.New("app: the WhatsApp webhooks need a store, a WhatsApp store, an inbound store and a bus")
	}
	if !domain.ValidRegion(s.PhoneRegion) {
		return nil, fmt.Errorf("app: unknown phone region %q", s.PhoneRegion)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	return &WhatsAppWebhooks{
		Receive: &ReceiveWhatsAppWebhookHandler{inbound: d.Inbound, bus: d.Bus, now: d.Now, log: d.Logger},
		Process: &ProcessWhatsAppWebhookHandler{store: d.Store, wa: d.WhatsApp, inbound: d.Inbound,
			region: s.PhoneRegion, now: d.Now, log: d.Logger},
	}, nil
}

// WebhookReceipt says what became of a delivery.
type WebhookReceipt struct {
	ID        string
	Duplicate bool // the same body was received before
}

// ReceiveWhatsAppWebhookHandler stores a verified delivery and queues it.
type ReceiveWhatsAppWebhookHandler struct {
	inbound InboundStore
	bus     Bus
	now     func() time.Time
	log     *slog.Logger
}

// Handle stores body as an inbound event, then publishes it to
// TopicWhatsAppWebhooks. An error (wrapping ErrUnavailable) means it was not
// stored: the port answers 503 and Meta delivers it again. A failed publish
// is only logged, since the stored event is published again by recovery; it
// waits at most publishTimeout, whatever the request's own context.
func (h *ReceiveWhatsAppWebhookHandler) Handle(ctx context.Context, body []byte) (WebhookReceipt, error) {
	id := WhatsAppEventID(body)
	isNew, err := h.inbound.InsertInbound(ctx, InboundEvent{
		ID: id, Source: SourceWhatsApp, Name: InboundNameWhatsApp, Payload: body,
		ReceivedAt: h.now(), State: InboundReceived,
	})
	if err != nil {
		h.log.WarnContext(ctx, "WhatsApp webhook not stored; Meta will deliver it again", "event_id", id, "err", err)
		if !errors.Is(err, ErrUnavailable) {
			err = fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		return WebhookReceipt{}, fmt.Errorf("store WhatsApp webhook %s: %w", id, err)
	}
	if !isNew[0] {
		return WebhookReceipt{ID: id, Duplicate: true}, nil
	}
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), publishTimeout)
	defer cancel()
	msg := BusMessage{ID: id, Payload: body, Metadata: map[string]string{"correlation_id": id}}
	if err := h.bus.Publish(pctx, TopicWhatsAppWebhooks, msg); err != nil {
		h.log.WarnContext(ctx, "WhatsApp webhook stored but not published; recovery will publish it",
			"event_id", id, "err", err)
	}
	return WebhookReceipt{ID: id}, nil
}

// ProcessWhatsAppWebhookHandler applies a WhatsApp webhook. It is
// idempotent and order-insensitive for statuses: a row only moves forward,
// so a duplicate or late status changes nothing.
type ProcessWhatsAppWebhookHandler struct {
	store   Store
	wa      WhatsAppStore
	inbound InboundStore
	region  string
	now     func() time.Time
	log     *slog.Logger
}

// Meta's webhook, the parts the notifier reads.
type waWebhook struct {
	Object string `json:"object"`
	Entry  []struct {
		Changes []struct {
			Field string `json:"field"`
			Value struct {
				Contacts []waContact `json:"contacts"`
				Messages []waMessage `json:"messages"`
				Statuses []waStatus  `json:"statuses"`
			} `json:"value"`
		} `json:"changes"`
	} `json:"entry"`
}

type waContact struct {
	WaID   string `json:"wa_id"`
	UserID string `json:"user_id"` // business-scoped user id (BSUID)
}

type waMessage struct {
	ID         string `json:"id"`
	From       string `json:"from"`         // absent for a user known by BSUID only
	FromUserID string `json:"from_user_id"` // BSUID
	Timestamp  string `json:"timestamp"`
	Type       string `json:"type"`
	Text       *struct {
		Body string `json:"body"`
	} `json:"text"`
	Button *struct {
		Text    string `json:"text"`
		Payload string `json:"payload"`
	} `json:"button"`
}

type waStatus struct {
	ID                    string `json:"id"`
	Status                string `json:"status"`
	Timestamp             string `json:"timestamp"`
	RecipientUserID       string `json:"recipient_user_id"`
	BizOpaqueCallbackData string `json:"biz_opaque_callback_data"`
	Errors                []struct {
		Code      int    `json:"code"`
		Title     string `json:"title"`
		Message   string `json:"message"`
		ErrorData struct {
			Details string `json:"details"`
		} `json:"error_data"`
	} `json:"errors"`
}

// errNoChange ends an update closure that has nothing to save.
var errNoChange = errors.New("no change")

// errOtherMessage: the row found by biz_opaque_callback_data already holds
// another wamid, so the status is not about it.
var errOtherMessage = errors.New("the row holds another wamid")

// Handle applies payload, a webhook body as Meta sent it, then marks its
// inbound event processed. Store errors are returned (the bus retries);
// statuses of unknown messages and senders that match no student are
// logged and skipped.
func (h *ProcessWhatsAppWebhookHandler) Handle(ctx context.Context, payload []byte) error {
	var wh waWebhook
	if err := json.Unmarshal(payload, &wh); err != nil {
		return fmt.Errorf("%w: %v", ErrBadWebhook, err)
	}
	var cmds []optCommand
	for _, e := range wh.Entry {
		for _, ch := range e.Changes {
			for _, st := range ch.Value.Statuses {
				if err := h.applyStatus(ctx, st); err != nil {
					return err
				}
			}
			for _, m := range ch.Value.Messages {
				if c, ok := h.command(m, ch.Value.Contacts); ok {
					cmds = append(cmds, c)
				}
			}
		}
	}
	// A STOP and a START in one delivery count in the order they were sent.
	slices.SortStableFunc(cmds, func(a, b optCommand) int { return a.at.Compare(b.at) })
	for _, c := range cmds {
		if err := h.applyCommand(ctx, c); err != nil {
			return err
		}
	}
	if err := h.inbound.MarkInboundProcessed(ctx, h.now(), WhatsAppEventID(payload)); err != nil {
		return fmt.Errorf("mark WhatsApp webhook processed: %w", err)
	}
	return nil
}

var waStatuses = map[string]domain.Status{
	"sent": domain.StatusSent, "delivered": domain.StatusDelivered, "read": domain.StatusRead,
	"failed": domain.StatusFailed,
}

// applyStatus moves the row the status is about, found by its wamid or,
// before the wamid is stored, by biz_opaque_callback_data.
func (h *ProcessWhatsAppWebhookHandler) applyStatus(ctx context.Context, st waStatus) error {
	next, ok := waStatuses[st.Status]
	if !ok {
		h.log.DebugContext(ctx, "WhatsApp status ignored", "status", st.Status, "wamid", st.ID)
		return nil
	}
	at := unixSeconds(st.Timestamp, h.now())
	id, err := h.wa.MessageIDByProviderID(ctx, st.ID)
	if errors.Is(err, ErrNotFound) {
		var found bool
		if id, found = callbackMessageID(st.BizOpaqueCallbackData); !found {
			h.log.InfoContext(ctx, "WhatsApp status for a message the notifier does not know", "wamid", st.ID,
				"status", st.Status)
			return nil
		}
	} else if err != nil {
		return fmt.Errorf("find message %s: %w", st.ID, err)
	}

	var to string
	_, err = h.store.UpdateMessage(ctx, id, func(m *domain.MessageLog) error {
		if st.ID != "" && m.ProviderMessageID != "" && m.ProviderMessageID != st.ID {
			return fmt.Errorf("%w: row %d has %s, the status is about %s", errOtherMessage, m.ID, m.ProviderMessageID, st.ID)
		}
		changed := false
		if m.ProviderMessageID == "" && st.ID != "" {
			m.ProviderMessageID, changed = st.ID, true
		}
		if next == domain.StatusFailed {
			code, msg := statusError(st)
			changed = m.Fail(code, msg, at) || changed
		} else {
			changed = m.Advance(next, at) || backfill(m, next, at) || changed
		}
		if !changed {
			return errNoChange
		}
		if m.Status != domain.StatusPending {
			// WhatsApp has the message: no sender holds the row any more.
			m.ClaimedAt, m.NextAttemptAt = time.Time{}, time.Time{}
		}
		to = m.To
		return nil
	})
	switch {
	case errors.Is(err, errNoChange):
		return nil
	case errors.Is(err, ErrNotFound):
		h.log.InfoContext(ctx, "WhatsApp status names a row that does not exist", "message_id", id, "wamid", st.ID)
		return nil
	case errors.Is(err, errOtherMessage):
		h.log.WarnContext(ctx, "WhatsApp status ignored", "message_id", id, "err", err)
		return nil
	case err != nil:
		return fmt.Errorf("apply WhatsApp status %s to message %d: %w", st.Status, id, err)
	}
	h.log.InfoContext(ctx, "WhatsApp status applied", "message_id", id, "status", next)
	if st.RecipientUserID != "" && to != "" {
		if err := h.wa.LinkWhatsAppUser(ctx, st.RecipientUserID, to); err != nil {
			return fmt.Errorf("link WhatsApp user of message %d: %w", id, err)
		}
	}
	return nil
}

// backfill stamps the time of a status that arrived after a later one (a
// delivered after the read): the row keeps its status, and gains the time
// it would have had in order. It reports whether it stamped anything.
func backfill(m *domain.MessageLog, late domain.Status, at time.Time) bool {
	var stamp *time.Time
	switch {
	case late == domain.StatusSent && (m.Status == domain.StatusDelivered || m.Status == domain.StatusRead):
		stamp = &m.SentAt
	case late == domain.StatusDelivered && m.Status == domain.StatusRead:
		stamp = &m.DeliveredAt
	default:
		return false
	}
	if !stamp.IsZero() {
		return false
	}
	*stamp = at
	return true
}

// statusError is the code and message a failed status records.
func statusError(st waStatus) (code, msg string) {
	if len(st.Errors) == 0 {
		return "whatsapp_failed", "WhatsApp reported the message failed without an error"
	}
	e := st.Errors[0]
	code = strconv.Itoa(e.Code)
	msg = e.Title
	if msg == "" {
		msg = e.Message
	}
	if d := e.ErrorData.Details; d != "" && d != msg {
		msg += ": " + d
	}
	return code, msg
}

// callbackMessageID reads the row id from biz_opaque_callback_data
// ("msglog:<id>").
func callbackMessageID(data string) (int64, bool) {
	rest, ok := strings.CutPrefix(data, "msglog:")
	if !ok {
		return 0, false
	}
	id, err := strconv.ParseInt(rest, 10, 64)
	return id, err == nil && id > 0
}

func unixSeconds(s string, fallback time.Time) time.Time {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return fallback
	}
	return time.Unix(n, 0).UTC()
}

// optCommand is an inbound STOP or START.
type optCommand struct {
	optOut bool
	phone  string // E.164 with "+"; empty when only the BSUID came
	userID string
	at     time.Time
}

// Words that opt out and back in (CONTRACT section 4), compared trimmed and
// upper-cased.
var (
	optOutWords = []string{"STOP", "BAJA", "UNSUBSCRIBE"}
	optInWords  = []string{"START", "ALTA"}
)

// command reads an inbound message as an opt-out or opt-in, with who sent it.
func (h *ProcessWhatsAppWebhookHandler) command(m waMessage, contacts []waContact) (optCommand, bool) {
	var text string
	switch {
	case m.Text != nil:
		text = m.Text.Body
	case m.Button != nil:
		text = m.Button.Text
	}
	word := strings.ToUpper(strings.TrimSpace(text))
	c := optCommand{at: unixSeconds(m.Timestamp, h.now())}
	switch {
	case slices.Contains(optOutWords, word):
		c.optOut = true
	case slices.Contains(optInWords, word):
	default:
		return optCommand{}, false
	}
	digits, userID := m.From, m.FromUserID
	for _, ct := range contacts {
		if len(contacts) == 1 || (digits != "" && ct.WaID == digits) || (userID != "" && ct.UserID == userID) {
			digits = firstNonEmpty(digits, ct.WaID)
			userID = firstNonEmpty(userID, ct.UserID)
		}
	}
	digits = strings.TrimPrefix(digits, "+")
	if digits != "" && strings.Trim(digits, "0123456789") == "" {
		c.phone = "+" + digits
	}
	c.userID = userID
	return c, true
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// applyCommand opts the students with the sender's number out or back in.
func (h *ProcessWhatsAppWebhookHandler) applyCommand(ctx context.Context, c optCommand) error {
	phone := c.phone
	switch {
	case phone != "" && c.userID != "":
		if err := h.wa.LinkWhatsAppUser(ctx, c.userID, phone); err != nil {
			return fmt.Errorf("link WhatsApp user: %w", err)
		}
	case phone == "" && c.userID != "":
		p, err := h.wa.PhoneByWhatsAppUser(ctx, c.userID)
		if errors.Is(err, ErrNotFound) {
			h.log.WarnContext(ctx, "WhatsApp opt-out/in from a business-scoped user id the notifier never saw with a number; ignored",
				"opt_out", c.optOut)
			return nil
		}
		if err != nil {
			return fmt.Errorf("find WhatsApp user: %w", err)
		}
		phone = p
	case phone == "":
		h.log.WarnContext(ctx, "WhatsApp opt-out/in without a sender; ignored", "opt_out", c.optOut)
		return nil
	}

	students, err := h.studentsByPhone(ctx, phone)
	if err != nil {
		return err
	}
	if len(students) == 0 {
		h.log.InfoContext(ctx, "WhatsApp opt-out/in from a number no student has", "from", domain.MaskPhone(phone),
			"opt_out", c.optOut)
		return nil
	}
	for _, st := range students {
		_, err := h.store.UpdateStudent(ctx, st.ID, func(s *domain.Student) error {
			if s.OptedOut == c.optOut {
				return errNoChange
			}
			s.OptedOut = c.optOut
			return nil
		})
		switch {
		case errors.Is(err, errNoChange), errors.Is(err, ErrNotFound):
			continue
		case err != nil:
			return fmt.Errorf("opt student %d out (%t): %w", st.ID, c.optOut, err)
		}
		h.log.InfoContext(ctx, "student opt-out changed by WhatsApp message", "student_id", st.ID,
			"opted_out", c.optOut, "from", domain.MaskPhone(phone))
	}
	return nil
}

// minSuffix is how many trailing digits narrow the candidates in the store.
const minSuffix = 6

// studentsByPhone finds the students whose phone, read in the configured
// region, is phone (E.164): the store narrows by the last digits, the domain
// decides.
func (h *ProcessWhatsAppWebhookHandler) studentsByPhone(ctx context.Context, phone string) ([]domain.Student, error) {
	digits := strings.TrimPrefix(phone, "+")
	if len(digits) < minSuffix {
		return nil, nil
	}
	candidates, err := h.wa.StudentsByPhoneSuffix(ctx, digits[len(digits)-minSuffix:])
	if err != nil {
		return nil, fmt.Errorf("find students by phone %s: %w", domain.MaskPhone(phone), err)
	}
	var out []domain.Student
	for _, st := range candidates {
		if e164, err := domain.NormalizePhone(st.Phone, h.region); err == nil && e164 == phone {
			out = append(out, st)
		}
	}
	return out, nil
}
