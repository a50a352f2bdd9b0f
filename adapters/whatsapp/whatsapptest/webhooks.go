package whatsapptest

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
)

// Builders of the webhooks Meta posts, in the shapes of its description
// (WebhookPayload) and of its documentation of business-scoped user ids.

// BusinessAccountID and PhoneNumberID are the ids the built webhooks carry.
const (
	BusinessAccountID = "102290129340398"
	PhoneNumberID     = "106540352242922"
)

// Status is one status notification.
type Status struct {
	WAMID        string
	Status       string // sent, delivered, read, failed
	Timestamp    time.Time
	RecipientID  string // digits, no "+"; empty for a user known by BSUID only
	CallbackData string // biz_opaque_callback_data
	// RecipientUserID is the business-scoped user id (BSUID), when Meta
	// sends one.
	RecipientUserID string
	// ErrorCode, ErrorTitle and ErrorDetails fill errors[0] of a failed
	// status.
	ErrorCode    int
	ErrorTitle   string
	ErrorDetails string
}

// Inbound is one message a user sent to the business.
type Inbound struct {
	ID        string
	From      string // digits, no "+"; empty for a user known by BSUID only
	UserID    string // BSUID
	Text      string
	Timestamp time.Time
}

// StatusWebhook is a webhook carrying statuses.
func StatusWebhook(statuses ...Status) []byte {
	var out []map[string]any
	for _, s := range statuses {
		st := map[string]any{
			"id":        s.WAMID,
			"status":    s.Status,
			"timestamp": unix(s.Timestamp),
		}
		if s.RecipientID != "" {
			st["recipient_id"] = s.RecipientID
		}
		if s.RecipientUserID != "" {
			st["recipient_user_id"] = s.RecipientUserID
		}
		if s.CallbackData != "" {
			st["biz_opaque_callback_data"] = s.CallbackData
		}
		if s.Status == "failed" {
			st["errors"] = []map[string]any{{
				"code": s.ErrorCode, "title": s.ErrorTitle, "message": s.ErrorTitle,
				"error_data": map[string]string{"details": s.ErrorDetails},
				"href":       "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
			}}
		} else {
			st["conversation"] = map[string]any{"id": "CONVERSATION_ID", "origin": map[string]string{"type": "utility"}}
			st["pricing"] = map[string]any{"billable": true, "pricing_model": "PMP", "category": "utility"}
		}
		out = append(out, st)
	}
	return webhook(map[string]any{"statuses": out})
}

// MessageWebhook is a webhook carrying inbound text messages.
func MessageWebhook(msgs ...Inbound) []byte {
	var contacts, messages []map[string]any
	for i, m := range msgs {
		contact := map[string]any{"profile": map[string]string{"name": "Ana"}}
		msg := map[string]any{
			"id":        m.ID,
			"timestamp": unix(m.Timestamp),
			"type":      "text",
			"text":      map[string]string{"body": m.Text},
		}
		if msg["id"] == "" {
			msg["id"] = "wamid.in" + strconv.Itoa(i) + randomID(12)
		}
		if m.From != "" {
			contact["wa_id"] = m.From
			msg["from"] = m.From
		}
		if m.UserID != "" {
			contact["user_id"] = m.UserID
			msg["from_user_id"] = m.UserID
		}
		contacts = append(contacts, contact)
		messages = append(messages, msg)
	}
	return webhook(map[string]any{"contacts": contacts, "messages": messages})
}

func webhook(value map[string]any) []byte {
	value["messaging_product"] = "whatsapp"
	value["metadata"] = map[string]string{"display_phone_number": "15550783881", "phone_number_id": PhoneNumberID}
	b, _ := json.Marshal(map[string]any{
		"object": "whatsapp_business_account",
		"entry": []map[string]any{{
			"id":      BusinessAccountID,
			"changes": []map[string]any{{"field": "messages", "value": value}},
		}},
	})
	return b
}

func unix(t time.Time) string {
	if t.IsZero() {
		t = time.Now()
	}
	return strconv.FormatInt(t.Unix(), 10)
}

// Sign is the X-Hub-Signature-256 header Meta sends with body.
func Sign(appSecret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(appSecret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// ValidateWebhook checks a webhook body against the description's
// POST /whatsapp/webhooks. It serves status webhooks: the description maps
// inbound text messages to the outbound TextMessage schema, which no real
// inbound message matches, and it predates business-scoped user ids.
func ValidateWebhook(t testing.TB, body []byte) error {
	t.Helper()
	doc := Spec(t)
	item := doc.Paths.Value("/whatsapp/webhooks")
	if item == nil || item.Post == nil {
		t.Fatal("whatsapptest: the description has no POST /whatsapp/webhooks")
	}
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, "/whatsapp/webhooks", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	return openapi3filter.ValidateRequestBody(req.Context(), &openapi3filter.RequestValidationInput{
		Request: req,
		Route:   &routers.Route{Spec: doc, Path: "/whatsapp/webhooks", PathItem: item, Method: http.MethodPost, Operation: item.Post},
		Options: &openapi3filter.Options{MultiError: true},
	}, item.Post.RequestBody.Value)
}
