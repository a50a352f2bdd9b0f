package whatsapp_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/notifier/adapters/whatsapp"
	"github.com/acme/notifier/adapters/whatsapp/whatsapptest"
	"github.com/acme/notifier/app"
)

func TestMetricsObserveSendsAndWaits(t *testing.T) {
	fake := whatsapptest.New(t)
	reg := prometheus.NewRegistry()
	m, err := whatsapp.NewMetrics(reg)
	require.NoError(t, err)
	c := newClient(t, fake, func(cfg *whatsapp.ClientConfig) { cfg.Metrics = m })

	require.Equal(t, app.OutcomeSent, c.Send(t.Context(), row()).Outcome)
	fake.Enqueue(whatsapptest.Error(130429)) // throughput limit: nothing was sent
	require.Equal(t, app.OutcomeRetryLater, c.Send(t.Context(), row()).Outcome)

	text := exposition(t, reg)
	assert.Contains(t, text, "notifier_whatsapp_ratelimit_wait_seconds_count 2", "each send waited once")
	assert.Contains(t, text, `notifier_whatsapp_send_duration_seconds_count{outcome="sent"} 1`)
	assert.Contains(t, text, `notifier_whatsapp_send_duration_seconds_count{outcome="retry_later"} 1`)
}

// exposition is what GET /metrics would answer for reg.
func exposition(t *testing.T, reg *prometheus.Registry) string {
	t.Helper()
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	return rec.Body.String()
}
