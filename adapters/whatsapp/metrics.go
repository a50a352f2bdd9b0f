package whatsapp

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/acme/notifier/app"
)

// Metrics are the Cloud API client's Prometheus metrics. Build them once
// with the service's registry and pass them in ClientConfig.Metrics.
type Metrics struct {
	sendDuration *prometheus.HistogramVec
	limiterWait  prometheus.Histogram
}

// NewMetrics registers on reg:
//   - notifier_whatsapp_send_duration_seconds{outcome}: one request to the
//     Cloud API, from the request leaving to its answer (the rate limiter's
//     wait excluded); outcome is sent, retry_later, failed or unknown;
//   - notifier_whatsapp_ratelimit_wait_seconds: how long each send waited
//     for the rate limits (the rate per second and the pair spacing).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		sendDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "notifier_whatsapp_send_duration_seconds",
			Help:    "Duration of one request to the WhatsApp Cloud API, rate-limiter wait excluded, by outcome.",
			Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"outcome"}),
		limiterWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "notifier_whatsapp_ratelimit_wait_seconds",
			Help:    "Time a send waited for the rate limits (rate per second and per-recipient spacing).",
			Buckets: []float64{.001, .01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}),
	}
	for _, c := range []prometheus.Collector{m.sendDuration, m.limiterWait} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("whatsapp: register metrics: %w", err)
		}
	}
	return m, nil
}

// The methods do nothing on a nil receiver: a client without metrics.

func (m *Metrics) waited(d time.Duration) {
	if m != nil {
		m.limiterWait.Observe(d.Seconds())
	}
}

func (m *Metrics) sent(outcome app.SendOutcome, d time.Duration) {
	if m != nil {
		m.sendDuration.WithLabelValues(outcomeLabel(outcome)).Observe(d.Seconds())
	}
}

func outcomeLabel(o app.SendOutcome) string {
	switch o {
	case app.OutcomeSent:
		return "sent"
	case app.OutcomeRetryLater:
		return "retry_later"
	case app.OutcomeFailed:
		return "failed"
	default:
		return "unknown"
	}
}
