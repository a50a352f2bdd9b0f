package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/notifier/adapters/whatsapp/whatsapptest"
	"github.com/acme/notifier/app"
	"github.com/acme/notifier/domain"
)

// syncBuffer collects log lines written from many goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startLogged is start with the production logger (newLogger: JSON, debug,
// correlation ids) writing to w.
func startLogged(t *testing.T, cfg Config, w io.Writer) running {
	t.Helper()
	cfg.LogFormat, cfg.LogLevel = "json", "debug"
	ctx, cancel := context.WithCancel(context.Background())
	s, err := newService(ctx, cfg, newLogger(cfg, w), overrides{timing: &fastTiming})
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- s.run(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-time.After(30 * time.Second):
			t.Error("the service did not stop within 30 s")
		}
		require.NoError(t, s.Close())
	})
	select {
	case <-s.router.Running():
	case <-time.After(10 * time.Second):
		t.Fatal("the router did not start")
	}
	return running{service: s, url: "http://" + ln.Addr().String()}
}

// withWhatsApp points cfg at the fake Cloud API, with every WhatsApp secret
// set, so that logs have every secret to leak.
func withWhatsApp(cfg Config, fake *whatsapptest.Server) Config {
	cfg.WhatsApp = WhatsAppConfig{Token: fake.Token, PhoneID: fake.PhoneID, APIURL: fake.URL,
		AppSecret: "app-secret-0123456789abcdef", VerifyToken: "verify-token-0123456789", RatePerSecond: 1000}
	return cfg
}

func postWhatsApp(t *testing.T, url, appSecret string, body []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/webhooks/whatsapp", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Hub-Signature-256", whatsapptest.Sign(appSecret, body))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

func get(t *testing.T, url string, header ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// Every path that handles a phone number, a token or a secret runs once at
// debug level: Moodle webhooks for two students (one refused by WhatsApp,
// one sent), a status, an opt-out from a student and one from a stranger,
// Meta's verification handshake, the admin API, /metrics. The logs name
// none of them in full, and every line a handler logs carries its event's
// correlation id.
func TestLogsMaskPhonesAndKeepSecrets(t *testing.T) {
	for name, mk := range backends() {
		t.Run(name, func(t *testing.T) {
			b := mk(t)
			fake := whatsapptest.New(t)
			fake.Enqueue(whatsapptest.Error(131026)) // the first welcome: undeliverable
			cfg := withWhatsApp(testConfig(t, b, t.TempDir()), fake)
			logs := &syncBuffer{}
			svc := startLogged(t, cfg, logs)

			require.Equal(t, http.StatusAccepted, deliver(t, svc.url, "ev-log-1", event("ev-log-1", "user_enrolment_created", 42, 7, nil)))
			require.Equal(t, http.StatusAccepted, deliver(t, svc.url, "ev-log-2", event("ev-log-2", "user_enrolment_created", 43, 7, nil)))
			var sent domain.MessageLog
			eventually(t, 10*time.Second, "one welcome FAILED, one SENT", func() bool {
				rows, err := svc.store.ListMessages(context.Background(), app.MessageFilter{Limit: 10})
				require.NoError(t, err)
				st := map[domain.Status]int{}
				for _, r := range rows {
					st[r.Status]++
					if r.Status == domain.StatusSent {
						sent = r
					}
				}
				return st[domain.StatusFailed] == 1 && st[domain.StatusSent] == 1
			})
			postWhatsApp(t, svc.url, cfg.WhatsApp.AppSecret, whatsapptest.StatusWebhook(whatsapptest.Status{
				WAMID: sent.ProviderMessageID, Status: "delivered", Timestamp: time.Now(),
				RecipientID: strings.TrimPrefix(sent.To, "+")}))
			postWhatsApp(t, svc.url, cfg.WhatsApp.AppSecret, whatsapptest.MessageWebhook(
				whatsapptest.Inbound{ID: "wamid.in-1", From: strings.TrimPrefix(sent.To, "+"), Text: "STOP", Timestamp: time.Now()},
				whatsapptest.Inbound{ID: "wamid.in-2", From: "34699999999", Text: "BAJA", Timestamp: time.Now()}))
			t.Cleanup(func() {
				if t.Failed() {
					t.Log(logs.String())
				}
			})
			eventually(t, 10*time.Second, "the status applied and the student opted out", func() bool {
				m, err := svc.store.GetMessage(context.Background(), sent.ID)
				require.NoError(t, err)
				st, err := svc.store.GetStudent(context.Background(), sent.StudentID)
				require.NoError(t, err)
				return m.Status == domain.StatusDelivered && st.OptedOut
			})
			code, _ := get(t, svc.url+"/webhooks/whatsapp?hub.mode=subscribe&hub.challenge=42&hub.verify_token="+cfg.WhatsApp.VerifyToken)
			require.Equal(t, http.StatusOK, code)
			code, _ = get(t, svc.url+"/api/v1/messages", "Authorization", "Bearer "+testToken)
			require.Equal(t, http.StatusOK, code)
			code, _ = get(t, svc.url+"/metrics")
			require.Equal(t, http.StatusOK, code)

			text := logs.String()
			for _, secret := range []string{
				"600000042", "600000043", "699999999", // the phones, however written
				fake.Token, testToken, testSecret, strings.TrimPrefix(testSecret, "whsec_"),
				cfg.WhatsApp.AppSecret, cfg.WhatsApp.VerifyToken,
			} {
				assert.NotContains(t, text, secret)
			}

			handlerLines := map[string]int{}
			sc := bufio.NewScanner(strings.NewReader(text))
			sc.Buffer(make([]byte, 1<<20), 1<<20)
			for sc.Scan() {
				var line map[string]any
				require.NoError(t, json.Unmarshal(sc.Bytes(), &line), sc.Text())
				msg, _ := line["msg"].(string)
				switch msg {
				case "message recorded":
					assert.Contains(t, []any{"ev-log-1", "ev-log-2"}, line["correlation_id"], "%s", sc.Text())
					handlerLines[msg]++
				case "message send attempt", "whatsapp refused a message":
					// Sent by the handler, or by the sweep of due rows when
					// it claimed the row first: the sweep handles no message.
					if cid, ok := line["correlation_id"]; ok {
						assert.Contains(t, []any{"ev-log-1", "ev-log-2"}, cid, "%s", sc.Text())
					}
					handlerLines[msg]++
				case "WhatsApp status applied", "student opt-out changed by WhatsApp message",
					"WhatsApp opt-out/in from a number no student has":
					assert.NotEmpty(t, line["correlation_id"], "%s", sc.Text())
					handlerLines[msg]++
				}
			}
			for _, msg := range []string{"message recorded", "message send attempt", "whatsapp refused a message",
				"WhatsApp status applied", "student opt-out changed by WhatsApp message",
				"WhatsApp opt-out/in from a number no student has"} {
				assert.Positive(t, handlerLines[msg], "a line %q was logged", msg)
			}
			assert.Contains(t, text, `"to":"+34*******42"`, "phones are logged masked")
		})
	}
}

// GET /metrics after a webhook, a send through the Cloud API and a scan
// shows every family the service promises.
func TestMetricsEndpoint(t *testing.T) {
	for name, mk := range backends() {
		t.Run(name, func(t *testing.T) {
			b := mk(t)
			fake := whatsapptest.New(t)
			cfg := withWhatsApp(testConfig(t, b, t.TempDir()), fake)
			svc := start(t, cfg, overrides{})

			require.Equal(t, http.StatusAccepted, deliver(t, svc.url, "ev-m-1", event("ev-m-1", "user_enrolment_created", 42, 7, nil)))
			require.Equal(t, http.StatusOK, deliver(t, svc.url, "ev-m-1", event("ev-m-1", "user_enrolment_created", 42, 7, nil)))
			eventually(t, 10*time.Second, "a SENT welcome", func() bool {
				return len(messages(t, svc.url, "&status=SENT")) == 1
			})
			sc, _, err := svc.scans.Start(context.Background(), app.ScanManual, domain.Date{})
			require.NoError(t, err)
			svc.wake()
			eventually(t, 10*time.Second, "the scan is done", func() bool {
				got, err := svc.scans.Get(context.Background(), sc.ID)
				require.NoError(t, err)
				return got.Status == app.ScanDone
			})

			var text string
			eventually(t, 5*time.Second, "the scan and the handlers are counted", func() bool {
				var code int
				code, text = get(t, svc.url+"/metrics")
				require.Equal(t, http.StatusOK, code)
				return strings.Contains(text, `notifier_scans_total{kind="manual",status="done"} 1`) &&
					strings.Contains(text, `notifier_events_processed_total{handler="moodle-events"} 1`)
			})
			for _, want := range []string{
				`notifier_http_requests_total{method="POST",route="/webhooks/moodle",status="202"} 1`,
				`notifier_http_request_duration_seconds_bucket{method="POST",route="/webhooks/moodle",le="+Inf"} 2`,
				`notifier_webhooks_total{outcome="accepted",source="moodle",status="202"} 1`,
				`notifier_webhooks_total{outcome="duplicate",source="moodle",status="200"} 1`,
				`notifier_events_processed_total{handler="scan-items"} 1`,
				`notifier_events_failed_total`,
				`notifier_dead_letters 0`,
				`notifier_message_log_rows{rule="welcome",status="SENT"} 1`,
				`notifier_whatsapp_send_duration_seconds_count{outcome="sent"} 1`,
				`notifier_whatsapp_ratelimit_wait_seconds_count 1`,
				`notifier_scan_duration_seconds_count{kind="manual"} 1`,
				`notifier_scan_enrollments_total{kind="manual",result="dispatched"} 1`,
				`notifier_scan_messages_total{kind="manual"} 0`,
				`notifier_watermill_handler_execution_time_seconds_count{handler_name="moodle-events",success="true"} 1`,
				`notifier_watermill_subscriber_messages_received_total{acked="acked",handler_name="moodle-events"`,
				`notifier_build_info{version="dev"} 1`,
				`go_goroutines `,
				`process_resident_memory_bytes `,
			} {
				assert.Contains(t, text, want)
			}
		})
	}
}

// /readyz answers 200 while the store and the bus answer, and 503 naming
// the one that does not; /metrics still answers without the store.
func TestReadyzReflectsTheStoreAndTheBus(t *testing.T) {
	for name, mk := range backends() {
		t.Run(name, func(t *testing.T) {
			b := mk(t)
			s, err := newService(context.Background(), testConfig(t, b, t.TempDir()), slog.New(slog.DiscardHandler), overrides{})
			require.NoError(t, err)
			t.Cleanup(func() { _ = s.Close() })
			ready := func() (int, map[string]string) {
				rec := httptest.NewRecorder()
				s.handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
				var body struct {
					Checks map[string]string `json:"checks"`
				}
				require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body), rec.Body.String())
				return rec.Code, body.Checks
			}
			code, checks := ready()
			assert.Equal(t, http.StatusOK, code)
			assert.Equal(t, map[string]string{"store": "ok", "bus": "ok"}, checks)

			require.NoError(t, s.bus.Close())
			code, checks = ready()
			assert.Equal(t, http.StatusServiceUnavailable, code)
			assert.Equal(t, "ok", checks["store"])
			assert.NotEqual(t, "ok", checks["bus"])
			assert.NotEmpty(t, checks["bus"])

			require.NoError(t, s.store.Close())
			code, checks = ready()
			assert.Equal(t, http.StatusServiceUnavailable, code)
			assert.NotEqual(t, "ok", checks["store"])

			rec := httptest.NewRecorder()
			s.handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
			assert.Equal(t, http.StatusOK, rec.Code, "the process's metrics matter most when the store is down")
			assert.Contains(t, rec.Body.String(), "go_goroutines")
			assert.NotContains(t, rec.Body.String(), "notifier_dead_letters ")
		})
	}
}
