package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/acme/notifier/adapters/whatsapp"
	"github.com/acme/notifier/app"
	"github.com/acme/notifier/ports/httpapi"
)

// metrics is the service's one Prometheus registry (never the global
// default one: several services may run in one test process) and the
// recorders handed to the parts that report.
type metrics struct {
	registry *prometheus.Registry
	http     *httpapi.Metrics
	whatsapp *whatsapp.Metrics
	scans    *scanMetrics
}

// metricsStore is what the scrape reads from the store.
type metricsStore interface {
	CountDeadLetters(ctx context.Context) (int, error)
	CountMessagesByStatusRule(ctx context.Context) ([]app.MessageTally, error)
}

// storeScrapeTimeout bounds the store's queries during one scrape, well
// inside Prometheus's default scrape timeout (10 s).
const storeScrapeTimeout = 5 * time.Second

func newMetrics(store metricsStore) (*metrics, error) {
	reg := prometheus.NewRegistry()
	m := &metrics{registry: reg, scans: newScanMetrics()}
	buildInfo := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "notifier_build_info", Help: "Always 1; the version of the running binary as a label.",
	}, []string{"version"})
	buildInfo.WithLabelValues(version).Set(1)
	for _, c := range []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		buildInfo,
		m.scans,
		newStoreCollector(store),
	} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	var err error
	if m.http, err = httpapi.NewMetrics(reg); err != nil {
		return nil, err
	}
	if m.whatsapp, err = whatsapp.NewMetrics(reg); err != nil {
		return nil, err
	}
	return m, nil
}

// handler answers GET /metrics. A store that cannot answer costs its own
// series, not the whole scrape: the process and bus metrics matter most
// when the store is down.
func (m *metrics) handler(log *slog.Logger) http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{
		ErrorLog:      promLogger{log},
		ErrorHandling: promhttp.ContinueOnError,
		Registry:      m.registry, // counts its own errors: promhttp_metric_handler_errors_total
	})
}

type promLogger struct{ log *slog.Logger }

func (l promLogger) Println(v ...any) { l.log.Warn("metrics scrape", "err", fmt.Sprint(v...)) }

// storeCollector reads the store at scrape time, so that the numbers are
// the database's (shared by every replica, surviving restarts) rather than
// this process's: every replica reports the same values, aggregate them
// with max, not sum.
type storeCollector struct {
	store       metricsStore
	deadLetters *prometheus.Desc
	messageRows *prometheus.Desc
}

func newStoreCollector(store metricsStore) *storeCollector {
	return &storeCollector{
		store: store,
		deadLetters: prometheus.NewDesc("notifier_dead_letters",
			"Dead letters waiting in the store (list them with notifier dlq list).", nil, nil),
		messageRows: prometheus.NewDesc("notifier_message_log_rows",
			"MessageLog rows in the store, by status and rule.", []string{"status", "rule"}, nil),
	}
}

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.deadLetters
	ch <- c.messageRows
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), storeScrapeTimeout)
	defer cancel()
	if n, err := c.store.CountDeadLetters(ctx); err != nil {
		ch <- prometheus.NewInvalidMetric(c.deadLetters, err)
	} else {
		ch <- prometheus.MustNewConstMetric(c.deadLetters, prometheus.GaugeValue, float64(n))
	}
	tallies, err := c.store.CountMessagesByStatusRule(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.messageRows, err)
		return
	}
	for _, t := range tallies {
		ch <- prometheus.MustNewConstMetric(c.messageRows, prometheus.GaugeValue, float64(t.Count),
			string(t.Status), t.Rule)
	}
}

// scanMetrics implements app.ScanObserver. A scan is reported once, by the
// replica that completed it, so the counters add up across replicas.
type scanMetrics struct {
	duration    *prometheus.HistogramVec
	scans       *prometheus.CounterVec
	enrollments *prometheus.CounterVec
	messages    *prometheus.CounterVec
	lastDone    *prometheus.GaugeVec
}

var _ app.ScanObserver = (*scanMetrics)(nil)

func newScanMetrics() *scanMetrics {
	return &scanMetrics{
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "notifier_scan_duration_seconds",
			Help:    "Time from a scan's start to its last enrollment evaluated, by kind (scheduled, manual).",
			Buckets: []float64{1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600},
		}, []string{"kind"}),
		scans: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "notifier_scans_total", Help: "Scans finished, by kind and status.",
		}, []string{"kind", "status"}),
		enrollments: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "notifier_scan_enrollments_total",
			Help: "Enrollments of finished scans, by kind and result (dispatched, evaluated, failed).",
		}, []string{"kind", "result"}),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "notifier_scan_messages_total", Help: "MessageLog rows created by finished scans, by kind.",
		}, []string{"kind"}),
		lastDone: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "notifier_scan_last_finished_timestamp_seconds",
			Help: "When the last scan of the kind finished (Unix seconds), as seen by this replica.",
		}, []string{"kind"}),
	}
}

// ScanFinished implements app.ScanObserver.
func (m *scanMetrics) ScanFinished(sc app.Scan) {
	kind := string(sc.Kind)
	if !sc.FinishedAt.IsZero() && !sc.StartedAt.IsZero() {
		m.duration.WithLabelValues(kind).Observe(sc.FinishedAt.Sub(sc.StartedAt).Seconds())
		m.lastDone.WithLabelValues(kind).Set(float64(sc.FinishedAt.Unix()))
	}
	m.scans.WithLabelValues(kind, string(sc.Status)).Inc()
	m.enrollments.WithLabelValues(kind, "dispatched").Add(float64(sc.Counts.Dispatched))
	m.enrollments.WithLabelValues(kind, "evaluated").Add(float64(sc.Counts.Evaluated))
	m.enrollments.WithLabelValues(kind, "failed").Add(float64(sc.Counts.Failed))
	m.messages.WithLabelValues(kind).Add(float64(sc.Counts.Messages))
}

func (m *scanMetrics) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range m.collectors() {
		c.Describe(ch)
	}
}

func (m *scanMetrics) Collect(ch chan<- prometheus.Metric) {
	for _, c := range m.collectors() {
		c.Collect(ch)
	}
}

func (m *scanMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.duration, m.scans, m.enrollments, m.messages, m.lastDone}
}
