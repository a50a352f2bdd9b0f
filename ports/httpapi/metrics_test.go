package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/notifier/app"
	"github.com/acme/notifier/ports/httpapi"
)

// metricValue is the value of the counter or gauge name with exactly these
// labels in reg, or 0 when no such series exists yet; for a histogram it is
// the number of observations.
func metricValue(t *testing.T, reg prometheus.Gatherer, name string, labels map[string]string) float64 {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if !sameLabels(m.GetLabel(), labels) {
				continue
			}
			switch {
			case m.Counter != nil:
				return m.GetCounter().GetValue()
			case m.Gauge != nil:
				return m.GetGauge().GetValue()
			case m.Histogram != nil:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return 0
}

func sameLabels(got []*dto.LabelPair, want map[string]string) bool {
	if len(got) != len(want) {
		return false
	}
	for _, l := range got {
		if v, ok := want[l.GetName()]; !ok || v != l.GetValue() {
			return false
		}
	}
	return true
}

// metricsServer is the Moodle webhook server of moodle_webhook_test.go with
// metrics and /metrics.
func metricsServer(t *testing.T) (*moodleServer, *prometheus.Registry) {
	t.Helper()
	s := newMoodleServer(t, moodleNow)
	reg := prometheus.NewRegistry()
	m, err := httpapi.NewMetrics(reg)
	require.NoError(t, err)
	log := slog.New(slog.DiscardHandler)
	clock := func() time.Time { return moodleNow }
	ingest, err := app.NewIngestHandler(s.store, s.bus, clock, log)
	require.NoError(t, err)
	wh, err := httpapi.NewMoodleWebhook([]string{moodleSecret}, ingest, clock)
	require.NoError(t, err)
	s.router = httpapi.NewRouter(httpapi.Options{
		Logger: log, Metrics: m, MetricsHandler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{}),
		Routes: []func(gin.IRoutes){wh.Register,
			func(r gin.IRoutes) { r.GET("/boom", func(*gin.Context) { panic("boom") }) }},
	})
	return s, reg
}

func TestMetricsCountRequestsByRouteAndWebhooksByOutcome(t *testing.T) {
	s, reg := metricsServer(t)

	body := moodleBody(t, nil)
	require.Equal(t, http.StatusAccepted, s.deliver(t, body).Code)
	require.Equal(t, http.StatusOK, s.deliver(t, body).Code) // the same id again
	unknown := moodleBody(t, map[string]any{"event": "something_else", "id": "ev-unknown"})
	require.Equal(t, http.StatusAccepted, s.post(unknown, moodleHeaders(t, moodleSecret, "ev-unknown", moodleNow, unknown)).Code)
	require.Equal(t, http.StatusUnauthorized, s.post(body, http.Header{}).Code)
	s.store.mu.Lock()
	s.store.err = errors.New("database down")
	s.store.mu.Unlock()
	other := moodleBody(t, map[string]any{"id": "ev-2"})
	require.Equal(t, http.StatusServiceUnavailable, s.post(other, moodleHeaders(t, moodleSecret, "ev-2", moodleNow, other)).Code)

	for _, c := range []struct {
		outcome, status string
	}{{"accepted", "202"}, {"duplicate", "200"}, {"ignored", "202"}, {"rejected", "401"}, {"unavailable", "503"}} {
		assert.Equal(t, 1.0, metricValue(t, reg, "notifier_webhooks_total",
			map[string]string{"source": "moodle", "outcome": c.outcome, "status": c.status}), c.outcome)
	}
	assert.Equal(t, 2.0, metricValue(t, reg, "notifier_http_requests_total",
		map[string]string{"method": "POST", "route": "/webhooks/moodle", "status": "202"}))
	assert.Equal(t, 5.0, metricValue(t, reg, "notifier_http_request_duration_seconds",
		map[string]string{"method": "POST", "route": "/webhooks/moodle"}))

	// Unknown paths share one series; a panic counts as the 500 answered.
	for _, p := range []string{"/nope/1", "/nope/2", "/boom"} {
		rec := httptest.NewRecorder()
		s.router.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, p, nil))
	}
	assert.Equal(t, 2.0, metricValue(t, reg, "notifier_http_requests_total",
		map[string]string{"method": "GET", "route": "unmatched", "status": "404"}))
	assert.Equal(t, 1.0, metricValue(t, reg, "notifier_http_requests_total",
		map[string]string{"method": "GET", "route": "/boom", "status": "500"}))

	// GET /metrics answers the Prometheus text format.
	rec := httptest.NewRecorder()
	s.router.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Contains(t, rec.Header().Get("Content-Type"), "text/plain")
	assert.Contains(t, rec.Body.String(), `notifier_webhooks_total{outcome="duplicate",source="moodle",status="200"} 1`)
}

func TestReadinessReportsEveryCheck(t *testing.T) {
	gin.SetMode(gin.TestMode)
	storeErr := error(nil)
	r := httpapi.NewRouter(httpapi.Options{
		Logger: slog.New(slog.DiscardHandler),
		Checks: map[string]httpapi.Check{
			"store": func(context.Context) error { return storeErr },
			"bus":   func(context.Context) error { return errors.New("bus: closed") },
		},
	})
	get := func() (int, map[string]map[string]string) {
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		b, _ := io.ReadAll(rec.Body)
		var body map[string]map[string]string
		require.NoError(t, json.Unmarshal(b, &body), string(b))
		return rec.Code, body
	}
	code, body := get()
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Equal(t, map[string]string{"store": "ok", "bus": "bus: closed"}, body["checks"])

	storeErr = errors.New("store: closed")
	code, body = get()
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.True(t, strings.HasPrefix(body["checks"]["store"], "store: closed"))
}
