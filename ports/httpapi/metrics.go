package httpapi

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
)

// MetricsPath is where Prometheus scrapes (CONTRACT section 6).
const MetricsPath = "/metrics"

// Webhook outcomes, the "outcome" label of notifier_webhooks_total: the
// contract's answers (accepted, ignored, duplicate), a delivery refused for
// what it is (rejected: 4xx), or one the service could not take now
// (unavailable: 5xx, the sender retries).
const (
	OutcomeAccepted    = "accepted"
	OutcomeIgnored     = "ignored"
	OutcomeDuplicate   = "duplicate"
	OutcomeRejected    = "rejected"
	OutcomeUnavailable = "unavailable"
)

// webhookOutcomeKey is the gin context key under which a webhook handler
// leaves the outcome of a delivery it took; refusals are read from the
// status instead.
const webhookOutcomeKey = "notifier.webhook_outcome"

// webhookSources names the webhook routes for notifier_webhooks_total.
var webhookSources = map[string]string{
	MoodleWebhookPath:   "moodle",
	WhatsAppWebhookPath: "whatsapp",
}

// unmatchedRoute labels requests that matched no route, so that scanners
// probing random paths do not create a series per path.
const unmatchedRoute = "unmatched"

// Metrics are the HTTP surface's Prometheus metrics. Build them once with
// the service's registry and pass them in Options.
type Metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	webhooks *prometheus.CounterVec
}

// NewMetrics registers the HTTP metrics on reg:
//   - notifier_http_requests_total{method, route, status}
//   - notifier_http_request_duration_seconds{method, route}
//   - notifier_webhooks_total{source, outcome, status}
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "notifier_http_requests_total",
			Help: "HTTP requests answered, by method, route pattern and status code.",
		}, []string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "notifier_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by method and route pattern.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"method", "route"}),
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "notifier_webhooks_total",
			Help: "Webhook deliveries by source (moodle, whatsapp), outcome (accepted, ignored, duplicate, rejected, unavailable) and status code.",
		}, []string{"source", "outcome", "status"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.webhooks} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("httpapi: register metrics: %w", err)
		}
	}
	return m, nil
}

// middleware counts every request by its route pattern (never the raw path,
// which would make a series per id) and webhook deliveries by outcome.
func (m *Metrics) middleware() gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		route := c.FullPath()
		if route == "" {
			route = unmatchedRoute
		}
		status := c.Writer.Status()
		code := strconv.Itoa(status)
		method := c.Request.Method
		m.requests.WithLabelValues(method, route, code).Inc()
		m.duration.WithLabelValues(method, route).Observe(time.Since(start).Seconds())
		if source, ok := webhookSources[route]; ok && method == http.MethodPost {
			m.webhooks.WithLabelValues(source, webhookOutcome(c, status), code).Inc()
		}
	}
}

// setWebhookOutcome records what became of a delivery the handler took.
func setWebhookOutcome(c *gin.Context, outcome string) { c.Set(webhookOutcomeKey, outcome) }

func webhookOutcome(c *gin.Context, status int) string {
	if o := c.GetString(webhookOutcomeKey); o != "" {
		return o
	}
	if status >= 500 {
		return OutcomeUnavailable
	}
	if status >= 400 {
		return OutcomeRejected
	}
	return OutcomeAccepted
}
