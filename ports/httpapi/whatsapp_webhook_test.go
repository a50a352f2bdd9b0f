package httpapi_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/notifier/app"
	"github.com/acme/notifier/ports/httpapi"
)

const (
	waSecret = "app-secret-0123456789"
	waVerify = "verify-me"
)

// fakeReceiver records what the port hands over.
type fakeReceiver struct {
	mu     sync.Mutex
	bodies [][]byte
	seen   map[string]bool
	err    error
}

func (r *fakeReceiver) Handle(_ context.Context, body []byte) (app.WebhookReceipt, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return app.WebhookReceipt{}, r.err
	}
	id := app.WhatsAppEventID(body)
	if r.seen == nil {
		r.seen = map[string]bool{}
	}
	dup := r.seen[id]
	r.seen[id] = true
	r.bodies = append(r.bodies, append([]byte(nil), body...))
	return app.WebhookReceipt{ID: id, Duplicate: dup}, nil
}

func waRouter(t *testing.T, secret, verify string, rec httpapi.WhatsAppReceiver) *gin.Engine {
	t.Helper()
	gin.SetMode(gin.TestMode)
	log := slog.New(slog.DiscardHandler)
	h, err := httpapi.NewWhatsAppWebhook(httpapi.WhatsAppWebhookConfig{AppSecret: secret, VerifyToken: verify,
		Receiver: rec, Logger: log})
	require.NoError(t, err)
	return httpapi.NewRouter(httpapi.Options{Logger: log, Routes: []func(gin.IRoutes){h.Register}})
}

func sign(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

func postWA(t *testing.T, r http.Handler, body []byte, signature string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/webhooks/whatsapp", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if signature != "" {
		req.Header.Set("X-Hub-Signature-256", signature)
	}
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	return w
}

const waBody = `{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"1","phone_number_id":"2"},"statuses":[{"id":"wamid.A","status":"delivered","timestamp":"1764756000","recipient_id":"34600111222"}]}}]}]}`

func TestWhatsAppHandshake(t *testing.T) {
	r := waRouter(t, waSecret, waVerify, &fakeReceiver{})
	get := func(q url.Values) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		r.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/webhooks/whatsapp?"+q.Encode(), nil))
		return w
	}

	w := get(url.Values{"hub.mode": {"subscribe"}, "hub.verify_token": {waVerify}, "hub.challenge": {"1158201444"}})
	assert.Equal(t, http.StatusOK, w.Code)
	assert.Equal(t, "1158201444", w.Body.String())
	assert.True(t, strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain"))

	for name, q := range map[string]url.Values{
		"wrong token":   {"hub.mode": {"subscribe"}, "hub.verify_token": {"nope"}, "hub.challenge": {"1"}},
		"wrong mode":    {"hub.mode": {"unsubscribe"}, "hub.verify_token": {waVerify}, "hub.challenge": {"1"}},
		"nothing":       {},
		"token only":    {"hub.verify_token": {waVerify}},
		"token, prefix": {"hub.mode": {"subscribe"}, "hub.verify_token": {waVerify[:4]}, "hub.challenge": {"1"}},
	} {
		w := get(q)
		assert.Equal(t, http.StatusForbidden, w.Code, name)
		assert.NotContains(t, w.Body.String(), "1158201444")
	}

	// Without a configured verify token, nothing matches, not even empty.
	r = waRouter(t, waSecret, "", &fakeReceiver{})
	w = httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=&hub.challenge=1", nil))
	assert.Equal(t, http.StatusForbidden, w.Code)
}

func TestWhatsAppSignedDeliveryIsStored(t *testing.T) {
	rec := &fakeReceiver{}
	r := waRouter(t, waSecret, waVerify, rec)
	body := []byte(waBody)

	w := postWA(t, r, body, sign(waSecret, body))
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	var got map[string]string
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &got))
	assert.Equal(t, "accepted", got["status"])
	assert.Equal(t, app.WhatsAppEventID(body), got["id"])
	require.Len(t, rec.bodies, 1)
	assert.Equal(t, body, rec.bodies[0], "the raw body, byte for byte")

	w = postWA(t, r, body, sign(waSecret, body))
	require.Equal(t, http.StatusOK, w.Code, "Meta's retry")
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &got))
	assert.Equal(t, "duplicate", got["status"])
}

func TestWhatsAppBadSignatureIs401(t *testing.T) {
	rec := &fakeReceiver{}
	r := waRouter(t, waSecret, waVerify, rec)
	body := []byte(waBody)
	good := sign(waSecret, body)
	for name, sig := range map[string]string{
		"missing":      "",
		"other secret": sign("other", body),
		"other body":   sign(waSecret, []byte(waBody+" ")),
		"no prefix":    strings.TrimPrefix(good, "sha256="),
		"sha1":         "sha1=" + strings.TrimPrefix(good, "sha256="),
		"not hex":      "sha256=zz" + good[9:],
		"truncated":    good[:len(good)-2],
		"extra bytes":  good + "00",
	} {
		w := postWA(t, r, body, sig)
		assert.Equal(t, http.StatusUnauthorized, w.Code, name)
		assert.Equal(t, "application/problem+json", w.Header().Get("Content-Type"), name)
	}
	assert.Empty(t, rec.bodies, "nothing unsigned is stored")

	// A re-serialised body no longer matches: the signature is over the raw bytes.
	var v any
	require.NoError(t, json.Unmarshal(body, &v))
	pretty, err := json.MarshalIndent(v, "", "  ")
	require.NoError(t, err)
	assert.Equal(t, http.StatusUnauthorized, postWA(t, r, pretty, good).Code)
}

func TestWhatsAppWithoutAppSecretIs503(t *testing.T) {
	rec := &fakeReceiver{}
	r := waRouter(t, "", waVerify, rec)
	body := []byte(waBody)
	w := postWA(t, r, body, sign("", body))
	assert.Equal(t, http.StatusServiceUnavailable, w.Code)
	assert.Empty(t, rec.bodies)
}

func TestWhatsAppStoreFailureIs503(t *testing.T) {
	r := waRouter(t, waSecret, waVerify, &fakeReceiver{err: errors.Join(app.ErrUnavailable, errors.New("db down"))})
	body := []byte(waBody)
	w := postWA(t, r, body, sign(waSecret, body))
	assert.Equal(t, http.StatusServiceUnavailable, w.Code, "Meta delivers it again")
}

func TestWhatsAppSignedNonJSONIs400(t *testing.T) {
	rec := &fakeReceiver{}
	r := waRouter(t, waSecret, waVerify, rec)
	body := []byte(`{"object":`)
	assert.Equal(t, http.StatusBadRequest, postWA(t, r, body, sign(waSecret, body)).Code)
	assert.Empty(t, rec.bodies)
}

func TestWhatsAppOversizedBodyIs413(t *testing.T) {
	r := waRouter(t, waSecret, waVerify, &fakeReceiver{})
	body := bytes.Repeat([]byte(" "), 4<<20+1)
	w := postWA(t, r, body, sign(waSecret, body))
	assert.Equal(t, http.StatusRequestEntityTooLarge, w.Code)
	_, _ = io.Copy(io.Discard, w.Body)
}

func TestNewWhatsAppWebhookNeedsAReceiver(t *testing.T) {
	_, err := httpapi.NewWhatsAppWebhook(httpapi.WhatsAppWebhookConfig{AppSecret: waSecret})
	assert.Error(t, err)
}
