package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/acme/notifier/adapters/sqlite"
	"github.com/acme/notifier/app"
	"github.com/acme/notifier/domain"
	"github.com/acme/notifier/internal/testenv"
)

// Component tests start the whole service, with its real store and bus, on
// a local port, and drive it through HTTP as Moodle and staff would.

const testSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
const testToken = "test-admin-token-0123456789abcdef"

// backend says which store and bus a component test runs on.
type backend struct {
	name   string
	dbURL  string // empty: SQLite in dataDir
	redis  string // empty: in-process
	prefix string
}

// backends gives the embedded pair and the PostgreSQL and Redis pair; the
// latter is skipped (or, in CI, failed) when the services are absent.
func backends() map[string]func(t *testing.T) backend {
	return map[string]func(t *testing.T) backend{
		"embedded":       func(t *testing.T) backend { return backend{name: "embedded"} },
		"postgres_redis": sharedBackend,
	}
}

func sharedBackend(t *testing.T) backend {
	r := testenv.RedisServer(t)
	return backend{name: "postgres+redis", dbURL: testenv.PostgresURL(t), redis: r.URL, prefix: r.Prefix}
}

var fastTiming = timing{
	sendSweepEvery: 100 * time.Millisecond, staleClaimAfter: time.Minute, schedulerEvery: 100 * time.Millisecond,
	recoverEvery: 200 * time.Millisecond, recoverAfter: 500 * time.Millisecond,
}

func testConfig(t *testing.T, b backend, dataDir string) Config {
	t.Helper()
	env := map[string]string{
		"NOTIFIER_DATA_DIR":      dataDir,
		"DATABASE_URL":           b.dbURL,
		"REDIS_URL":              b.redis,
		"NOTIFIER_STREAM_PREFIX": b.prefix,
		"MOODLE_WEBHOOK_SECRET":  testSecret,
		"NOTIFIER_ADMIN_TOKENS":  testToken,
		"NOTIFIER_SCAN_AT":       "off",
		"NOTIFIER_HTTP_ADDR":     "127.0.0.1:0",
	}
	cfg, err := LoadConfig(func(k string) string { return env[k] })
	require.NoError(t, err)
	return cfg
}

// running is a started service.
type running struct {
	*service
	url string
}

// start runs a service until the test ends.
func start(t *testing.T, cfg Config, over overrides) running {
	t.Helper()
	if over.timing == nil {
		over.timing = &fastTiming
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	ctx, cancel := context.WithCancel(context.Background())
	s, err := newService(ctx, cfg, log, over)
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
	if s.router != nil {
		select {
		case <-s.router.Running():
		case <-time.After(10 * time.Second):
			t.Fatal("the router did not start")
		}
	}
	return running{service: s, url: "http://" + ln.Addr().String()}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

// event builds a schema-1 enrolment event for Moodle user u in course c.
func event(id, name string, u, c int64, progress *float64) []byte {
	ev := map[string]any{
		"schema": 1, "id": id, "event": name, "occurred_at": time.Now().Unix(), "site": "https://moodle.test",
		"user": map[string]any{"id": u, "username": fmt.Sprintf("u%d", u), "firstname": "Ana", "lastname": "Ruiz",
			"email": fmt.Sprintf("u%d@example.com", u), "phone": fmt.Sprintf("+34 6%08d", u), "lang": "es",
			"timezone": "99", "roles": []string{"student"}},
		"course": map[string]any{"id": c, "shortname": fmt.Sprintf("C%d", c), "fullname": "Curso", "startdate": 0,
			"enddate": 0},
		"enrolment": map[string]any{"id": u*100000 + c, "status": 0, "timestart": 0, "timeend": 0},
		"moodle":    map[string]any{"eventname": "\\core\\event\\" + name},
	}
	if progress != nil {
		total := 4
		ev["progress"] = map[string]any{"scorm_total": total, "scorm_completed": int(*progress) * total / 100,
			"percent": *progress}
	}
	b, _ := json.Marshal(ev)
	return b
}

// deliver posts a signed event and returns the status code.
func deliver(t *testing.T, url, id string, body []byte) int {
	t.Helper()
	req, err := signedRequest(context.Background(), testSecret, url+"/webhooks/moodle", id, body)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// messages reads every MessageLog row of the filter through the admin API.
func messages(t *testing.T, url, query string) []map[string]any {
	t.Helper()
	var all []map[string]any
	cursor := ""
	for {
		req, _ := http.NewRequest(http.MethodGet, url+"/api/v1/messages?limit=500"+query+cursor, nil)
		req.Header.Set("Authorization", "Bearer "+testToken)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		var page struct {
			Items      []map[string]any `json:"items"`
			NextCursor *string          `json:"next_cursor"`
		}
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&page))
		resp.Body.Close()
		all = append(all, page.Items...)
		if page.NextCursor == nil {
			return all
		}
		cursor = "&cursor=" + *page.NextCursor
	}
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", within, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func countRules(rows []map[string]any) map[string]int {
	n := map[string]int{}
	for _, r := range rows {
		n[r["rule"].(string)]++
	}
	return n
}

func TestWebhookToMessageLog(t *testing.T) {
	for name, mk := range backends() {
		t.Run(name, func(t *testing.T) {
			b := mk(t)
			svc := start(t, testConfig(t, b, t.TempDir()), overrides{})

			require.Equal(t, http.StatusAccepted, deliver(t, svc.url, "ev-1", event("ev-1", "user_enrolment_created", 42, 7, nil)))
			var rows []map[string]any
			eventually(t, 10*time.Second, "a SENT welcome row", func() bool {
				rows = messages(t, svc.url, "")
				return len(rows) == 1 && rows[0]["status"] == "SENT"
			})
			row := rows[0]
			require.Equal(t, "welcome", row["rule"])
			require.Equal(t, true, row["dry_run"])
			require.Equal(t, "+34600000042", row["to"])
			require.Equal(t, map[string]any{"kind": "moodle_event", "ref": "ev-1"}, row["trigger"])

			// A progress event brings the progress rule.
			half := 50.0
			require.Equal(t, http.StatusAccepted, deliver(t, svc.url, "ev-2", event("ev-2", "scorm_status_submitted", 42, 7, &half)))
			eventually(t, 10*time.Second, "a progress row", func() bool {
				return countRules(messages(t, svc.url, "&status=SENT"))["progress"] == 1
			})
		})
	}
}

func TestDuplicateDeliveriesGiveOneWelcome(t *testing.T) {
	for name, mk := range backends() {
		t.Run(name, func(t *testing.T) {
			b := mk(t)
			svc := start(t, testConfig(t, b, t.TempDir()), overrides{})
			body := event("dup-1", "user_enrolment_created", 5, 9, nil)
			statuses := make(chan int, 10)
			var wg sync.WaitGroup
			for range 10 {
				wg.Go(func() { statuses <- deliver(t, svc.url, "dup-1", body) })
			}
			wg.Wait()
			close(statuses)
			count := map[int]int{}
			for s := range statuses {
				count[s]++
			}
			require.Equal(t, map[int]int{http.StatusAccepted: 1, http.StatusOK: 9}, count)

			// The same enrolment under another event id (Moodle re-sent it
			// as an update) is a new event, and still no second welcome.
			require.Equal(t, http.StatusAccepted,
				deliver(t, svc.url, "dup-2", event("dup-2", "user_enrolment_updated", 5, 9, nil)))
			eventually(t, 10*time.Second, "both events processed", func() bool {
				a, err1 := svc.store.GetInbound(context.Background(), "dup-1")
				b, err2 := svc.store.GetInbound(context.Background(), "dup-2")
				return err1 == nil && err2 == nil && a.State == app.InboundProcessed && b.State == app.InboundProcessed
			})
			require.Equal(t, map[string]int{"welcome": 1}, countRules(messages(t, svc.url, "")))
		})
	}
}

func TestThreeInstancesShareTheWork(t *testing.T) {
	b := sharedBackend(t)
	var svcs []running
	for range 3 {
		svcs = append(svcs, start(t, testConfig(t, b, t.TempDir()), overrides{}))
	}
	const enrolments = 300
	var wg sync.WaitGroup
	sem := make(chan struct{}, 24)
	for i := range enrolments {
		id := fmt.Sprintf("three-%d", i)
		body := event(id, "user_enrolment_created", int64(1000+i), int64(1+i%10), nil)
		for _, s := range svcs {
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				st := deliver(t, s.url, id, body)
				if st != http.StatusAccepted && st != http.StatusOK {
					t.Errorf("delivery %s answered %d", id, st)
				}
			})
		}
	}
	wg.Wait()
	eventually(t, 60*time.Second, "300 welcome rows", func() bool {
		return len(messages(t, svcs[0].url, "&rule=welcome")) >= enrolments
	})
	time.Sleep(500 * time.Millisecond) // a late duplicate would show up now
	rows := messages(t, svcs[1].url, "&rule=welcome")
	require.Len(t, rows, enrolments, "exactly one welcome per enrolment")
}

// flakyProgress fails for the Moodle courses in fail, and gives every
// Moodle user of the others 50 % progress.
type flakyProgress struct {
	fail  map[int64]bool
	users []int64
}

func (f flakyProgress) CourseProgress(_ context.Context, course int64, _ []int64) (map[int64]domain.Progress, error) {
	if f.fail[course] {
		return nil, fmt.Errorf("moodle course %d: %w", course, app.ErrUnavailable)
	}
	out := make(map[int64]domain.Progress, len(f.users))
	for _, u := range f.users {
		out[u] = domain.NewProgress(4, 2)
	}
	return out, nil
}

// seedEnrollments creates, straight in the store, n imported students
// enrolled in courses 1..courses, plus one student alone in each extra
// course; it returns every Moodle user id.
func seedEnrollments(t *testing.T, s storage, n, courses int, extra []int64) []int64 {
	t.Helper()
	ctx := context.Background()
	var users []int64
	enrol := func(u, c int64) {
		st, err := s.UpsertStudent(ctx, domain.Student{MoodleUserID: u, FirstName: "S", Phone: fmt.Sprintf("+3461%07d", u)})
		require.NoError(t, err)
		co, err := s.UpsertCourse(ctx, domain.Course{MoodleCourseID: c, FullName: fmt.Sprintf("Course %d", c)})
		require.NoError(t, err)
		_, err = s.UpsertEnrollment(ctx, domain.Enrollment{StudentID: st.ID, CourseID: co.ID,
			Roles: []string{"student"}, Imported: true})
		require.NoError(t, err)
		users = append(users, u)
	}
	for i := range n {
		enrol(int64(i+1), int64(1+i%courses))
	}
	for i, c := range extra {
		enrol(int64(n+i+1), c)
	}
	return users
}

func TestScanWithFailingEnrollments(t *testing.T) {
	for name, mk := range backends() {
		t.Run(name, func(t *testing.T) {
			b := mk(t)
			cfg := testConfig(t, b, t.TempDir())
			// Seed through a store of its own before the service starts.
			store, _, err := openStore(context.Background(), cfg)
			require.NoError(t, err)
			bad := []int64{901, 902, 903}
			good := 997
			if raceEnabled && b.dbURL == "" {
				good = 197 // see raceEnabled; the PostgreSQL run keeps 1,000
			}
			users := seedEnrollments(t, store, good, 50, bad)
			require.NoError(t, store.Close())

			progress := flakyProgress{fail: map[int64]bool{901: true, 902: true, 903: true}, users: users}
			svc := start(t, cfg, overrides{progress: progress})
			sc, created, err := svc.scans.Start(context.Background(), app.ScanManual, domain.Date{})
			require.NoError(t, err)
			require.True(t, created)
			svc.wake()

			var got app.Scan
			eventually(t, 90*time.Second, "the scan is done", func() bool {
				got, err = svc.scans.Get(context.Background(), sc.ID)
				require.NoError(t, err)
				return got.Status == app.ScanDone
			})
			require.Equal(t, app.ScanCounts{Dispatched: good + 3, Evaluated: good, Messages: good, Failed: 3}, got.Counts)
			dead, err := svc.dead.List(context.Background(), 0, 100)
			require.NoError(t, err)
			require.Len(t, dead, 3, "one dead letter per failed enrollment")
			for _, d := range dead {
				require.Equal(t, app.TopicScanItems, d.Topic)
			}
			require.Equal(t, map[string]int{"progress": good}, countRules(messages(t, svc.url, "")))
		})
	}
}

func TestTwoSchedulersStartOneScanPerDate(t *testing.T) {
	b := sharedBackend(t)
	cfg := testConfig(t, b, t.TempDir())
	cfg.ScanAt = ScanAt{Hour: 0, Minute: 0} // due as soon as they start
	a, c := start(t, cfg, overrides{}), start(t, cfg, overrides{})
	eventually(t, 10*time.Second, "today's scheduled scan is done", func() bool {
		list, err := a.scans.List(context.Background(), 0, 10)
		require.NoError(t, err)
		return len(list) > 0 && list[0].Status == app.ScanDone
	})
	time.Sleep(3 * fastTiming.schedulerEvery) // both schedulers tick again
	list, err := c.scans.List(context.Background(), 0, 10)
	require.NoError(t, err)
	require.Len(t, list, 1, "one scheduled scan for the date between both replicas")
	require.Equal(t, app.ScanScheduled, list[0].Kind)
}

// The scheduler purges the expired Idempotency-Keys as it starts, and not
// again at every tick.
func TestSchedulerPurgesExpiredIdempotencyKeys(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(t, backend{name: "embedded"}, dir)
	old := time.Now().Add(-app.IdempotencyKeyLifetime - time.Minute)
	save := func(s app.AdminStore, key string, created time.Time) {
		t.Helper()
		_, err := s.SaveIdempotencyKey(t.Context(), app.IdempotencyRecord{Key: key, RequestHash: "h", Status: 201,
			Body: json.RawMessage(`{}`), CreatedAt: created})
		require.NoError(t, err)
	}
	seeded, err := sqlite.Open(t.Context(), filepath.Join(dir, "notifier.db"))
	require.NoError(t, err)
	save(seeded, "expired", old)
	save(seeded, "recent", time.Now().Add(-time.Hour))
	require.NoError(t, seeded.Close())

	svc := start(t, cfg, overrides{})
	kept := func(key string) bool {
		_, err := svc.store.GetIdempotencyKey(t.Context(), key)
		if errors.Is(err, app.ErrNotFound) {
			return false
		}
		require.NoError(t, err)
		return true
	}
	eventually(t, 10*time.Second, "the expired key is purged at start", func() bool { return !kept("expired") })
	require.True(t, kept("recent"))

	save(svc.store, "expired-later", old)
	time.Sleep(5 * fastTiming.schedulerEvery)
	require.True(t, kept("expired-later"), "the next purge is an hour away, not at the next tick")
}

// Redis loses everything in the middle of a run (a flush, or a restart
// without persistence): the consumer groups come back, recovery publishes
// the stored events again, and every event is processed exactly once.
func TestRedisLostMidRun(t *testing.T) {
	b := sharedBackend(t)
	svc := start(t, testConfig(t, b, t.TempDir()), overrides{})
	rdb := redisClient(t, b.redis)

	const events = 500
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range events {
		if i == events/2 {
			wg.Wait()
			flushPrefix(t, rdb, b.prefix)
		}
		id := fmt.Sprintf("lost-%d", i)
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if st := deliver(t, svc.url, id, event(id, "user_enrolment_created", int64(5000+i), 3, nil)); st != http.StatusAccepted {
				t.Errorf("delivery %s answered %d", id, st)
			}
		})
	}
	wg.Wait()
	flushPrefix(t, rdb, b.prefix) // and once more with work in flight

	eventually(t, 90*time.Second, "every event processed", func() bool {
		for i := range events {
			ev, err := svc.store.GetInbound(context.Background(), fmt.Sprintf("lost-%d", i))
			if err != nil || ev.State != app.InboundProcessed {
				return false
			}
		}
		return true
	})
	require.Len(t, messages(t, svc.url, "&rule=welcome"), events, "one welcome per event, none twice")
}

func redisClient(t *testing.T, url string) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(url)
	require.NoError(t, err)
	c := redis.NewClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// flushPrefix deletes every key of the test: what a FLUSHDB would do to it,
// without touching other tests sharing the server.
func flushPrefix(t *testing.T, c *redis.Client, prefix string) {
	t.Helper()
	ctx := context.Background()
	keys, err := c.Keys(ctx, prefix+"*").Result()
	require.NoError(t, err)
	if len(keys) > 0 {
		require.NoError(t, c.Del(ctx, keys...).Err())
	}
}
