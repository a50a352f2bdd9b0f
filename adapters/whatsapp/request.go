// Package whatsapp talks to the WhatsApp Cloud API: it builds template
// messages and sends them (or, without a token, records what it would send).
package whatsapp

import (
	"encoding/json"
	"strconv"

	"github.com/acme/notifier/domain"
)

// MessageRequest is the body of POST /{phone-number-id}/messages for a
// template message, as Meta's OpenAPI description defines it.
type MessageRequest struct {
	MessagingProduct string          `json:"messaging_product"`
	RecipientType    string          `json:"recipient_type"`
	To               string          `json:"to"`
	Type             string          `json:"type"`
	Template         TemplateRequest `json:"template"`
	// BizOpaqueCallbackData carries the MessageLog id, so that a status
	// webhook can be matched to its row even before the wamid is stored.
	BizOpaqueCallbackData string `json:"biz_opaque_callback_data,omitempty"`
}

// TemplateRequest names the template, its language and its parameters.
type TemplateRequest struct {
	Name       string      `json:"name"`
	Language   Language    `json:"language"`
	Components []Component `json:"components,omitempty"`
}

// Language is a template language; Meta requires policy "deterministic".
type Language struct {
	Policy string `json:"policy"`
	Code   string `json:"code"`
}

// Component is one template component; the notifier fills the body only.
type Component struct {
	Type       string      `json:"type"`
	Parameters []Parameter `json:"parameters"`
}

// Parameter is one text parameter ({{n}}).
type Parameter struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// CallbackData is the biz_opaque_callback_data of a MessageLog row.
func CallbackData(id int64) string { return "msglog:" + strconv.FormatInt(id, 10) }

// NewMessageRequest builds the template message for a row.
func NewMessageRequest(m domain.MessageLog) MessageRequest {
	req := MessageRequest{
		MessagingProduct:      "whatsapp",
		RecipientType:         "individual",
		To:                    m.To,
		Type:                  "template",
		BizOpaqueCallbackData: CallbackData(m.ID),
		Template: TemplateRequest{
			Name:     m.Template,
			Language: Language{Policy: "deterministic", Code: m.Language},
		},
	}
	if len(m.Params) > 0 {
		body := Component{Type: "body", Parameters: make([]Parameter, len(m.Params))}
		for i, p := range m.Params {
			body.Parameters[i] = Parameter{Type: "text", Text: p}
		}
		req.Template.Components = []Component{body}
	}
	return req
}

// encode marshals a request; the types above cannot fail to marshal.
func encode(req MessageRequest) json.RawMessage {
	b, _ := json.Marshal(req)
	return b
}
