package messaging

import (
	"fmt"

	"github.com/ThreeDotsLabs/watermill/components/metrics"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/prometheus/client_golang/prometheus"
)

// handlerMetrics count what the handlers did with each message:
//   - notifier_events_processed_total{handler}: handled successfully;
//   - notifier_events_failed_total{handler}: given up on (dead-lettered);
//   - notifier_event_retries_total{handler}: failed attempts followed by
//     another attempt.
//
// A message interrupted by a close counts in none: it comes back.
type handlerMetrics struct {
	processedTotal *prometheus.CounterVec
	failedTotal    *prometheus.CounterVec
	retriesTotal   *prometheus.CounterVec
}

func newHandlerMetrics(reg prometheus.Registerer) (*handlerMetrics, error) {
	m := &handlerMetrics{
		processedTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "notifier_events_processed_total",
			Help: "Bus messages handled successfully, by handler.",
		}, []string{"handler"}),
		failedTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "notifier_events_failed_total",
			Help: "Bus messages given up on after their retries, or at once for a permanent error, and dead-lettered, by handler.",
		}, []string{"handler"}),
		retriesTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "notifier_event_retries_total",
			Help: "Failed handler attempts that are tried again, by handler.",
		}, []string{"handler"}),
	}
	for _, c := range []prometheus.Collector{m.processedTotal, m.failedTotal, m.retriesTotal} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("messaging: register metrics: %w", err)
		}
	}
	return m, nil
}

func handlerName(msg *message.Message) string { return message.HandlerNameFromCtx(msg.Context()) }

// The methods do nothing on a nil receiver: a router without metrics.

// init makes the handler's series exist at zero, so that a rate or an
// alert on failures works before the first one.
func (m *handlerMetrics) init(handler string) {
	if m != nil {
		m.processedTotal.WithLabelValues(handler)
		m.failedTotal.WithLabelValues(handler)
		m.retriesTotal.WithLabelValues(handler)
	}
}

func (m *handlerMetrics) processed(msg *message.Message) {
	if m != nil {
		m.processedTotal.WithLabelValues(handlerName(msg)).Inc()
	}
}

func (m *handlerMetrics) failed(msg *message.Message) {
	if m != nil {
		m.failedTotal.WithLabelValues(handlerName(msg)).Inc()
	}
}

func (m *handlerMetrics) retried(msg *message.Message) {
	if m != nil {
		m.retriesTotal.WithLabelValues(handlerName(msg)).Inc()
	}
}

// watermillMetrics adds Watermill's own router metrics on reg, under
// notifier_watermill_: subscriber_messages_received_total{handler_name,
// subscriber_name, acked} from a decorator of every handler's subscriber,
// and handler_execution_time_seconds{handler_name, success} from the
// middleware it returns. Publishing goes through app.Bus, not the router,
// so Watermill's publisher metric does not apply.
func watermillMetrics(reg prometheus.Registerer, wr *message.Router) (_ message.HandlerMiddleware, err error) {
	b := metrics.NewPrometheusMetricsBuilder(reg, "notifier", "watermill")
	b.HandlerBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}
	wr.AddSubscriberDecorators(b.DecorateSubscriber)
	// NewRouterMiddleware panics when its histogram cannot be registered.
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("messaging: register Watermill metrics: %v", v)
		}
	}()
	return b.NewRouterMiddleware().Middleware, nil
}
