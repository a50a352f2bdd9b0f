package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// webhookSendTimeout bounds one delivery, answer included.
const webhookSendTimeout = 30 * time.Second

// webhookSend runs `notifier webhook send --file EVENT.json [--url URL]`: it
// signs the file's bytes as Moodle does (Standard Webhooks, the first secret
// of MOODLE_WEBHOOK_SECRET, webhook-id = the file's id, timestamp now) and
// posts them, for tests and re-delivery by hand. It prints the answer's
// status and body; a non-2xx answer is an error (exit 1).
func webhookSend(ctx context.Context, cfg Config, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "send" {
		return usageError{"webhook: want `webhook send --file EVENT.json [--url URL]`"}
	}
	fs := newFlagSet("webhook send", stderr)
	file := fs.String("file", "", "the event to send, a JSON file of schema 1 (required)")
	target := fs.String("url", "", "where to post it (default http://<NOTIFIER_HTTP_ADDR>/webhooks/moodle)")
	if err := parseFlags(fs, args[1:]); err != nil {
		return err
	}
	body, id, err := readEventFile(*file)
	if err != nil {
		return err
	}
	if len(cfg.WebhookSecrets) == 0 {
		return &ConfigError{Var: "MOODLE_WEBHOOK_SECRET", Msg: "is empty: there is no secret to sign with"}
	}
	url := *target
	if url == "" {
		url = defaultWebhookURL(cfg.HTTPAddr)
	}
	req, err := signedRequest(ctx, cfg.WebhookSecrets[0], url, id, body)
	if err != nil {
		return err
	}
	return postWebhook(req, stdout)
}

// readEventFile reads the event and its id, which becomes the webhook-id.
func readEventFile(path string) ([]byte, string, error) {
	if path == "" {
		return nil, "", usageError{"webhook send: --file is required"}
	}
	body, err := os.ReadFile(path)
	if err != nil {
		return nil, "", usageError{fmt.Sprintf("webhook send: --file: %v", err)}
	}
	var ev struct {
		ID json.RawMessage `json:"id"`
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		return nil, "", usageError{fmt.Sprintf("webhook send: --file %s is not a JSON object: %v", path, err)}
	}
	var id string
	if json.Unmarshal(ev.ID, &id) != nil || id == "" {
		return nil, "", usageError{fmt.Sprintf("webhook send: --file %s has no \"id\" string", path)}
	}
	return body, id, nil
}

// defaultWebhookURL is the local service's webhook; a listen address on
// every interface is reached on the loopback.
func defaultWebhookURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr + "/webhooks/moodle"
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/webhooks/moodle"
}

// signedRequest builds the POST with the Standard Webhooks headers.
func signedRequest(ctx context.Context, secret, url, id string, body []byte) (*http.Request, error) {
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		// The library's message may quote the secret: name only the variable.
		return nil, &ConfigError{Var: "MOODLE_WEBHOOK_SECRET", Msg: "the first secret is not whsec_<base64>"}
	}
	now := time.Now()
	sig, err := wh.Sign(id, now, body)
	if err != nil {
		return nil, fmt.Errorf("webhook send: sign: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, usageError{fmt.Sprintf("webhook send: --url %q: %v", url, err)}
	}
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
		return nil, usageError{fmt.Sprintf("webhook send: --url %q is not an http:// or https:// URL", url)}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(standardwebhooks.HeaderWebhookID, id)
	req.Header.Set(standardwebhooks.HeaderWebhookTimestamp, strconv.FormatInt(now.Unix(), 10))
	req.Header.Set(standardwebhooks.HeaderWebhookSignature, sig)
	return req, nil
}

// postWebhook sends the request and prints the answer.
func postWebhook(req *http.Request, stdout io.Writer) error {
	client := &http.Client{Timeout: webhookSendTimeout}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("webhook send: post to %s: %w", req.URL.Redacted(), err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("webhook send: read the answer of %s: %w", req.URL.Redacted(), err)
	}
	fmt.Fprintf(stdout, "%s\n%s\n", resp.Status, bytes.TrimSpace(answer))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return errors.New("webhook send: " + req.URL.Redacted() + " answered " + resp.Status)
	}
	return nil
}
