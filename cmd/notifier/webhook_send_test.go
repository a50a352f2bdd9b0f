package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	sendSecret      = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	sendOtherSecret = "whsec_qiEjWqjGa3tz7JT+YHKV7i8Nag3wpNwgnM/l+9/sKwA="
	// sendEvent is written with its own spacing: what is signed and sent is
	// the file's bytes, not a re-encoding.
	sendEvent = "{\"schema\": 1, \"id\": \"evt-42:1\", \"event\": \"user_updated\",\n \"occurred_at\": 1764756000}\n"
)

// received is what the test receiver saw of one delivery.
type received struct {
	body      []byte
	header    http.Header
	verifyErr error
}

// webhookReceiver verifies deliveries with the Standard Webhooks library
// and the given secret, and answers status.
func webhookReceiver(t *testing.T, secret string, status int) (*httptest.Server, chan received) {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	require.NoError(t, err)
	got := make(chan received, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- received{body: body, header: r.Header.Clone(), verifyErr: wh.Verify(body, r.Header)}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"id":"evt-42:1","status":"accepted"}`))
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

func eventFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "event.json")
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	return path
}

func TestWebhookSendSignsWithTheFirstSecret(t *testing.T) {
	srv, got := webhookReceiver(t, sendSecret, http.StatusAccepted)
	cfg := Config{HTTPAddr: "127.0.0.1:1", WebhookSecrets: []string{sendSecret, sendOtherSecret}}
	var stdout bytes.Buffer
	start := time.Now()
	err := webhookSend(t.Context(), cfg, []string{"send", "--file", eventFile(t, sendEvent), "--url", srv.URL + "/webhooks/moodle"},
		&stdout, io.Discard)
	require.NoError(t, err)

	r := <-got
	require.NoError(t, r.verifyErr, "the library verifies the delivery")
	assert.Equal(t, sendEvent, string(r.body), "the file's bytes, as they are")
	assert.Equal(t, "evt-42:1", r.header.Get("webhook-id"))
	assert.Equal(t, "application/json", r.header.Get("Content-Type"))
	stamp, err := strconv.ParseInt(r.header.Get("webhook-timestamp"), 10, 64)
	require.NoError(t, err)
	assert.InDelta(t, start.Unix(), stamp, 5, "signed now")
	assert.Equal(t, "202 Accepted\n{\"id\":\"evt-42:1\",\"status\":\"accepted\"}\n", stdout.String())
}

func TestWebhookSendFailsOnARefusal(t *testing.T) {
	srv, _ := webhookReceiver(t, sendSecret, http.StatusUnauthorized)
	cfg := Config{WebhookSecrets: []string{sendSecret}}
	var stdout bytes.Buffer
	err := webhookSend(t.Context(), cfg, []string{"send", "--file", eventFile(t, sendEvent), "--url", srv.URL}, &stdout, io.Discard)
	require.Error(t, err)
	var ue usageError
	assert.False(t, errors.As(err, &ue), "a refusal is a failure, not bad usage")
	assert.Contains(t, err.Error(), "401")
	assert.Contains(t, stdout.String(), "401 Unauthorized", "the answer is printed")
}

// Through run: the command line, the environment and the exit status.
func TestWebhookSendCommand(t *testing.T) {
	srv, got := webhookReceiver(t, sendSecret, http.StatusAccepted)
	env := envOf(map[string]string{
		"MOODLE_WEBHOOK_SECRET": sendSecret + "," + sendOtherSecret,
		"NOTIFIER_ADMIN_TOKENS": "token",
		"NOTIFIER_DATA_DIR":     t.TempDir(),
	})
	file := eventFile(t, sendEvent)
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), []string{"webhook", "send", "--file", file, "--url", srv.URL}, env, &stdout, &stderr)
	assert.Equal(t, 0, code, stderr.String())
	require.NoError(t, (<-got).verifyErr)

	for name, args := range map[string][]string{
		"no subcommand":      {"webhook"},
		"unknown subcommand": {"webhook", "receive"},
		"no --file":          {"webhook", "send"},
		"unknown flag":       {"webhook", "send", "--file", file, "--verbose"},
		"missing file":       {"webhook", "send", "--file", filepath.Join(t.TempDir(), "none.json")},
		"not JSON":           {"webhook", "send", "--file", eventFile(t, "nope")},
		"no id":              {"webhook", "send", "--file", eventFile(t, `{"schema":1}`)},
		"id not a string":    {"webhook", "send", "--file", eventFile(t, `{"id":42}`)},
		"bad --url":          {"webhook", "send", "--file", file, "--url", "ftp://example.com/x"},
	} {
		stderr.Reset()
		code := run(t.Context(), args, env, io.Discard, &stderr)
		assert.Equal(t, 2, code, "%s: %s", name, stderr.String())
		assert.NotEmpty(t, stderr.String(), name)
	}

	// Nobody listening: a failure, exit 1.
	code = run(t.Context(), []string{"webhook", "send", "--file", file, "--url", "http://127.0.0.1:1/webhooks/moodle"},
		env, io.Discard, io.Discard)
	assert.Equal(t, 1, code)
}

func TestWebhookSendNeedsASecret(t *testing.T) {
	err := webhookSend(context.Background(), Config{}, []string{"send", "--file", eventFile(t, sendEvent)}, io.Discard, io.Discard)
	var ce *ConfigError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "MOODLE_WEBHOOK_SECRET", ce.Var)
}

func TestDefaultWebhookURL(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1:8080":    "http://127.0.0.1:8080/webhooks/moodle",
		"localhost:9000":    "http://localhost:9000/webhooks/moodle",
		":8080":             "http://127.0.0.1:8080/webhooks/moodle",
		"0.0.0.0:8080":      "http://127.0.0.1:8080/webhooks/moodle",
		"[::]:8080":         "http://127.0.0.1:8080/webhooks/moodle",
		"[::1]:8080":        "http://[::1]:8080/webhooks/moodle",
		"notifier.local:80": "http://notifier.local:80/webhooks/moodle",
	} {
		assert.Equal(t, want, defaultWebhookURL(addr), addr)
	}
}
