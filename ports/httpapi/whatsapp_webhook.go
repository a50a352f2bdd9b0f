package httpapi

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/acme/notifier/app"
)

// WhatsAppWebhookPath is where Meta delivers its notifications.
const WhatsAppWebhookPath = "/webhooks/whatsapp"

// maxWhatsAppBody bounds a WhatsApp webhook body; Meta batches at most a
// thousand updates in one, far below this.
const maxWhatsAppBody = 4 << 20

// WhatsAppReceiver stores and queues a verified delivery
// (app.ReceiveWhatsAppWebhookHandler).
type WhatsAppReceiver interface {
	Handle(ctx context.Context, body []byte) (app.WebhookReceipt, error)
}

// WhatsAppWebhookConfig configures the WhatsApp webhook routes.
type WhatsAppWebhookConfig struct {
	// AppSecret (WHATSAPP_APP_SECRET) verifies X-Hub-Signature-256; without
	// it POST answers 503.
	AppSecret string
	// VerifyToken (WHATSAPP_VERIFY_TOKEN) answers the verification
	// handshake; without it the handshake answers 403.
	VerifyToken string
	Receiver    WhatsAppReceiver
	Logger      *slog.Logger
}

// WhatsAppWebhook serves GET and POST /webhooks/whatsapp (CONTRACT section 4).
type WhatsAppWebhook struct {
	secret      []byte
	verifyToken string
	receiver    WhatsAppReceiver
	log         *slog.Logger
}

// NewWhatsAppWebhook builds the routes' handler.
func NewWhatsAppWebhook(c WhatsAppWebhookConfig) (*WhatsAppWebhook, error) {
	if c.Receiver == nil {
		return nil, errors.New("httpapi: the WhatsApp webhook needs a receiver")
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return &WhatsAppWebhook{secret: []byte(c.AppSecret), verifyToken: c.VerifyToken, receiver: c.Receiver, log: c.Logger}, nil
}

// Register adds the routes; pass it in Options.Routes.
func (h *WhatsAppWebhook) Register(r gin.IRoutes) {
	r.GET(WhatsAppWebhookPath, h.verify)
	r.POST(WhatsAppWebhookPath, h.receive)
}

// verify answers Meta's verification handshake: the challenge as plain text
// when the mode is subscribe and the token matches.
func (h *WhatsAppWebhook) verify(c *gin.Context) {
	mode, token, challenge := c.Query("hub.mode"), c.Query("hub.verify_token"), c.Query("hub.challenge")
	if h.verifyToken == "" || mode != "subscribe" ||
		subtle.ConstantTimeCompare([]byte(token), []byte(h.verifyToken)) != 1 {
		WriteProblem(c, http.StatusForbidden, "the verification token does not match")
		return
	}
	c.Header("X-Content-Type-Options", "nosniff")
	c.Data(http.StatusOK, "text/plain; charset=utf-8", []byte(challenge))
}

// receive verifies the signature over the raw body, then stores and queues
// the body and answers 200 at once; the processing happens on the bus.
func (h *WhatsAppWebhook) receive(c *gin.Context) {
	if len(h.secret) == 0 {
		WriteProblem(c, http.StatusServiceUnavailable, "WhatsApp webhooks are not configured (WHATSAPP_APP_SECRET is empty)")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, maxWhatsAppBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			WriteProblem(c, http.StatusRequestEntityTooLarge, "the body is over 4 MiB")
			return
		}
		WriteProblem(c, http.StatusBadRequest, "the body could not be read")
		return
	}
	if !h.validSignature(c.GetHeader("X-Hub-Signature-256"), body) {
		WriteProblem(c, http.StatusUnauthorized, "X-Hub-Signature-256 is missing or does not match the body")
		return
	}
	if !json.Valid(body) {
		WriteProblem(c, http.StatusBadRequest, "the body is not JSON")
		return
	}
	receipt, err := h.receiver.Handle(c.Request.Context(), body)
	if err != nil {
		h.log.ErrorContext(c.Request.Context(), "WhatsApp webhook not stored", "err", err)
		WriteProblem(c, http.StatusServiceUnavailable, "the webhook cannot be stored now; deliver it again later")
		return
	}
	status := OutcomeAccepted
	if receipt.Duplicate {
		status = OutcomeDuplicate
	}
	setWebhookOutcome(c, status)
	c.JSON(http.StatusOK, gin.H{"id": receipt.ID, "status": status})
}

// validSignature checks "sha256=<hex>" against HMAC-SHA256(app secret,
// body), in constant time.
func (h *WhatsAppWebhook) validSignature(header string, body []byte) bool {
	hexSig, ok := strings.CutPrefix(strings.TrimSpace(header), "sha256=")
	if !ok {
		return false
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil || len(got) != sha256.Size {
		return false
	}
	mac := hmac.New(sha256.New, h.secret)
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}
