package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/acme/notifier/adapters/whatsapp"
	"github.com/acme/notifier/app"
	"github.com/acme/notifier/domain"
)

// signedDelivery is a webhook ready to post: signed before the clock starts,
// so the load generator spends its CPU on sending, not on HMACs.
type signedDelivery struct {
	id     string
	body   []byte
	header http.Header
}

// benchEvent is a schema-1 user_enrolment_created event of Moodle user u in
// course c.
func benchEvent(id string, u, c int64, now time.Time) []byte {
	ev := map[string]any{
		"schema": 1, "id": id, "event": app.EventEnrolmentCreated, "occurred_at": now.Unix(),
		"site": "https://moodle.bench.invalid",
		"user": map[string]any{"id": u, "username": fmt.Sprintf("u%d", u), "firstname": "Ana", "lastname": "Ruiz",
			"email": fmt.Sprintf("u%d@example.com", u), "phone": fmt.Sprintf("+34 6%08d", u%100000000), "lang": "es",
			"timezone": "99", "roles": []string{"student"}},
		"course": map[string]any{"id": c, "shortname": fmt.Sprintf("C%d", c), "fullname": fmt.Sprintf("Course %d", c),
			"startdate": 0, "enddate": 0},
		"enrolment": map[string]any{"id": u*100000 + c, "status": 0, "timestart": 0, "timeend": 0},
		"moodle":    map[string]any{"eventname": `\core\event\user_enrolment_created`},
	}
	b, _ := json.Marshal(ev)
	return b
}

// signDeliveries signs n distinct enrolment events (users from firstUser,
// spread over 100 courses).
func signDeliveries(run string, firstUser int64, n int) ([]signedDelivery, error) {
	wh, err := standardwebhooks.NewWebhook(benchSecret)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	ts := strconv.FormatInt(now.Unix(), 10)
	out := make([]signedDelivery, n)
	for i := range out {
		id := fmt.Sprintf("bench-%s-%d", run, i)
		u := firstUser + int64(i)
		body := benchEvent(id, u, 1+u%100, now)
		sig, err := wh.Sign(id, now, body)
		if err != nil {
			return nil, err
		}
		h := http.Header{}
		h.Set("Content-Type", "application/json")
		h.Set(standardwebhooks.HeaderWebhookID, id)
		h.Set(standardwebhooks.HeaderWebhookTimestamp, ts)
		h.Set(standardwebhooks.HeaderWebhookSignature, sig)
		out[i] = signedDelivery{id: id, body: body, header: h}
	}
	return out, nil
}

func benchHTTPClient(conns int) *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			MaxIdleConns: conns, MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns,
			IdleConnTimeout: time.Minute, DisableCompression: true,
		},
	}
}

// post delivers d and returns the status code.
func post(ctx context.Context, c *http.Client, target string, d signedDelivery) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(d.body))
	if err != nil {
		return 0, err
	}
	req.Header = d.header.Clone()
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// loadResult is what one load phase measured.
type loadResult struct {
	sent, accepted, other, failed int
	elapsed                       time.Duration
	latencies                     []time.Duration // of accepted requests
}

func (r loadResult) rate() float64 { return float64(r.accepted) / r.elapsed.Seconds() }

func (r loadResult) pct(p float64) time.Duration {
	if len(r.latencies) == 0 {
		return 0
	}
	s := slices.Clone(r.latencies)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }

// closedLoop posts the deliveries from conc workers, each sending its next
// as soon as the last is answered, until they run out or d passes.
func closedLoop(ctx context.Context, c *http.Client, target string, ds []signedDelivery, conc int, d time.Duration) loadResult {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var (
		next atomic.Int64
		mu   sync.Mutex
		res  loadResult
		wg   sync.WaitGroup
	)
	res.latencies = make([]time.Duration, 0, len(ds))
	start := time.Now()
	for range conc {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= len(ds) {
					return
				}
				t0 := time.Now()
				status, err := post(ctx, c, target, ds[i])
				lat := time.Since(t0)
				mu.Lock()
				res.sent++
				switch {
				case err != nil:
					if ctx.Err() == nil {
						res.failed++
					} else {
						res.sent--
					}
				case status == http.StatusAccepted:
					res.accepted++
					res.latencies = append(res.latencies, lat)
				default:
					res.other++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	return res
}

// openLoop posts at a fixed rate for d, whatever the answers take: a
// request's latency counts from when it was due, so a service that falls
// behind shows it (no coordinated omission).
func openLoop(ctx context.Context, c *http.Client, target string, ds []signedDelivery, rate int, d time.Duration) loadResult {
	n := min(len(ds), int(float64(rate)*d.Seconds()))
	type job struct {
		d   signedDelivery
		due time.Time
	}
	jobs := make(chan job, n)
	var (
		mu  sync.Mutex
		res loadResult
		wg  sync.WaitGroup
	)
	res.latencies = make([]time.Duration, 0, n)
	for range 256 {
		wg.Go(func() {
			for j := range jobs {
				status, err := post(ctx, c, target, j.d)
				lat := time.Since(j.due)
				mu.Lock()
				res.sent++
				switch {
				case err != nil:
					res.failed++
				case status == http.StatusAccepted:
					res.accepted++
					res.latencies = append(res.latencies, lat)
				default:
					res.other++
				}
				mu.Unlock()
			}
		})
	}
	start := time.Now()
	interval := time.Second / time.Duration(rate)
	for i := range n {
		due := start.Add(time.Duration(i) * interval)
		if w := time.Until(due); w > 0 {
			time.Sleep(w)
		}
		if ctx.Err() != nil {
			break
		}
		jobs <- job{d: ds[i], due: due}
	}
	close(jobs)
	wg.Wait()
	res.elapsed = time.Since(start)
	return res
}

type ingestOptions struct {
	requests, concurrency, rate int
	duration                    time.Duration
}

// benchIngest measures the webhook path alone (the api role: verify,
// validate, insert, publish): first as many requests per second as the
// service accepts, then the latency at a fixed rate.
func benchIngest(ctx context.Context, env *benchEnv, o ingestOptions) (string, error) {
	if o.requests <= 0 || o.concurrency <= 0 || o.duration <= 0 || o.rate < 0 {
		return "", usageError{"bench ingest: --requests, --concurrency and --duration must be positive"}
	}
	lim, err := env.measureLimits(ctx)
	if err != nil {
		return "", err
	}
	cfg, err := env.config("api", "")
	if err != nil {
		return "", err
	}
	svc, err := env.startService(ctx, cfg, overrides{sender: instantSender{}})
	if err != nil {
		return "", err
	}
	defer func() { _ = svc.stop() }()
	target := svc.url + "/webhooks/moodle"
	run := benchSuffix()
	fixed := 0
	if o.rate > 0 {
		fixed = int(float64(o.rate) * o.duration.Seconds())
	}
	ds, err := signDeliveries(run, 1, o.requests+fixed+200)
	if err != nil {
		return "", err
	}
	client := benchHTTPClient(max(o.concurrency, 256))
	// Warm up connections, prepared statements and the pool.
	warm := closedLoop(ctx, client, target, ds[:200], min(o.concurrency, 200), o.duration)
	if warm.accepted == 0 {
		return "", fmt.Errorf("the service accepted none of the warm-up requests (%d other, %d failed)", warm.other, warm.failed)
	}
	ds = ds[200:]
	counter, err := env.openCounter(ctx)
	if err != nil {
		return "", err
	}
	defer counter.close()
	meter := env.meter(ctx, counter)
	stopProfiles, err := env.profiling()
	if err != nil {
		return "", err
	}
	cpu0 := sampleCPU()
	top := closedLoop(ctx, client, target, ds[:o.requests], o.concurrency, o.duration)
	cpu1 := sampleCPU()
	env.progress("throughput phase: %d accepted in %.1f s", top.accepted, top.elapsed.Seconds())
	var fixedRes loadResult
	if fixed > 0 {
		fixedRes = openLoop(ctx, client, target, ds[o.requests:], o.rate, o.duration)
		env.progress("fixed-rate phase: %d accepted in %.1f s", fixedRes.accepted, fixedRes.elapsed.Seconds())
	}
	if err := stopProfiles(); err != nil {
		return "", err
	}
	if err := svc.stop(); err != nil {
		return "", err
	}
	cost := meter.per(ctx, int64(top.accepted+fixedRes.accepted), "request")
	line := fmt.Sprintf("ingest (%s): %.0f req/s accepted (%d of %d, %d in flight), p50 %s, p99 %s",
		env.backendName(), top.rate(), top.accepted, top.sent, o.concurrency, ms(top.pct(0.50)), ms(top.pct(0.99)))
	if top.other+top.failed > 0 {
		line += fmt.Sprintf(", %d refused, %d failed", top.other, top.failed)
	}
	if fixed > 0 {
		line += fmt.Sprintf("; at %d req/s: p50 %s, p99 %s, max %s", o.rate, ms(fixedRes.pct(0.50)),
			ms(fixedRes.pct(0.99)), ms(fixedRes.pct(1)))
		if fixedRes.other+fixedRes.failed > 0 {
			line += fmt.Sprintf(" (%d refused, %d failed)", fixedRes.other, fixedRes.failed)
		}
	}
	if r := lim.ratios(top.rate()); r != "" {
		line += "; " + r
	}
	return line + cost + env.cpuPer(cpu0, cpu1, int64(top.accepted), "request"), nil
}

// instantSender is the WhatsApp stand-in without limit: it builds the
// Cloud API request as the real client does and answers OK at once.
type instantSender struct{ n *atomic.Int64 }

func (s instantSender) Send(_ context.Context, m domain.MessageLog) app.SendResult {
	req, _ := json.Marshal(whatsapp.NewMessageRequest(m))
	if s.n != nil {
		s.n.Add(1)
	}
	return app.SendResult{Outcome: app.OutcomeSent, Request: req,
		ProviderMessageID: "wamid.bench-" + strconv.FormatInt(m.ID, 10)}
}
