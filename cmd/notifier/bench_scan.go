package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	rtmetrics "runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/acme/notifier/adapters/moodle"
	"github.com/acme/notifier/app"
	"github.com/acme/notifier/domain"
)

type e2eOptions struct {
	events, concurrency int
	timeout             time.Duration
}

// benchE2E posts enrolment events of new students and measures how fast
// they become SENT welcome rows, through the whole service (webhook, store,
// bus, handler, rules, sender stand-in).
func benchE2E(ctx context.Context, env *benchEnv, o e2eOptions) (string, error) {
	if o.events <= 0 || o.concurrency <= 0 {
		return "", usageError{"bench e2e: --events and --concurrency must be positive"}
	}
	lim, err := env.measureLimits(ctx)
	if err != nil {
		return "", err
	}
	cfg, err := env.config("all", "")
	if err != nil {
		return "", err
	}
	sent := &atomic.Int64{}
	svc, err := env.startService(ctx, cfg, overrides{sender: instantSender{n: sent}})
	if err != nil {
		return "", err
	}
	defer func() { _ = svc.stop() }()
	counter, err := env.openCounter(ctx)
	if err != nil {
		return "", err
	}
	defer counter.close()
	const warmN = 100
	ds, err := signDeliveries(benchSuffix(), 1, o.events+warmN)
	if err != nil {
		return "", err
	}
	client := benchHTTPClient(o.concurrency)
	target := svc.url + "/webhooks/moodle"
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	sentRows := func() (int64, error) {
		return counter.count(ctx, `SELECT count(*) FROM message_logs WHERE status = 'SENT'`)
	}
	// Warm up: the first events create the courses and prepare statements.
	if r := closedLoop(ctx, client, target, ds[:warmN], 16, o.timeout); r.accepted != warmN {
		return "", fmt.Errorf("warm-up: %d of %d accepted", r.accepted, warmN)
	}
	if err := waitFor(ctx, 20*time.Millisecond, func() (bool, error) {
		n, err := sentRows()
		return n >= warmN, err
	}); err != nil {
		return "", fmt.Errorf("warm-up: %w", err)
	}
	ds = ds[warmN:]
	meter := env.meter(ctx, counter)
	stopProfiles, err := env.profiling()
	if err != nil {
		return "", err
	}
	cpu0 := sampleCPU()
	start := time.Now()
	load := closedLoop(ctx, client, target, ds, o.concurrency, o.timeout)
	posted := time.Since(start)
	if load.accepted != len(ds) {
		return "", fmt.Errorf("%d of %d events accepted (%d refused, %d failed)", load.accepted, len(ds), load.other, load.failed)
	}
	want := int64(warmN + len(ds))
	// The sender stand-in counts without touching the database; the rows
	// are SENT a moment after it answered.
	if err := waitFor(ctx, 10*time.Millisecond, func() (bool, error) {
		return sent.Load() >= want, nil
	}); err != nil {
		return "", fmt.Errorf("%d of %d messages sent: %w", sent.Load()-warmN, len(ds), err)
	}
	if err := waitFor(ctx, 10*time.Millisecond, func() (bool, error) {
		n, err := sentRows()
		return n >= want, err
	}); err != nil {
		n, _ := sentRows()
		return "", fmt.Errorf("%d of %d rows SENT: %w", n-warmN, len(ds), err)
	}
	elapsed := time.Since(start)
	cpu1 := sampleCPU()
	if err := stopProfiles(); err != nil {
		return "", err
	}
	if err := svc.stop(); err != nil {
		return "", err
	}
	rate := float64(len(ds)) / elapsed.Seconds()
	line := fmt.Sprintf("e2e (%s): %.0f messages/s (%d enrolment events to SENT rows in %.1f s; posted in %.1f s at %.0f req/s)",
		env.backendName(), rate, len(ds), elapsed.Seconds(), posted.Seconds(), load.rate())
	if r := lim.ratios(rate); r != "" {
		line += "; " + r
	}
	return line + meter.per(ctx, int64(len(ds)), "message") + env.cpuPer(cpu0, cpu1, int64(len(ds)), "message"), nil
}

// waitFor polls cond every period until it holds, fails, or ctx ends.
func waitFor(ctx context.Context, period time.Duration, cond func() (bool, error)) error {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		ok, err := cond()
		if err != nil || ok {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

type scanOptions struct {
	enrollments, courses int
	fire                 float64
	timeout              time.Duration
	history              bool
}

// benchScan seeds enrollments straight into the store, then runs a manual
// scan through the whole service with a Moodle stand-in answering the
// plugin's bulk progress function, and measures the wall time from the
// scan's start until every item is finished, and the process's peak memory
// meanwhile.
//
// The data: enrollment i (1..N) is Moodle user i, alone, in Moodle course
// 1 + (i-1) mod M; every enrollment is active, imported (no welcome) and
// stored at 0 of 4 SCORM activities, with last month's progress message in
// its history; courses have no end date (no review or completion). Moodle answers 2 of 4 for a share --fire of the users (their
// progress moved: the enrollment is updated and gets a progress message)
// and the stored 0 of 4 for the others (nothing to write, no message): a
// daily scan in which a tenth of the students moved on by default.
func benchScan(ctx context.Context, env *benchEnv, o scanOptions) (string, error) {
	if o.enrollments <= 0 || o.courses <= 0 || o.courses > o.enrollments || o.fire < 0 || o.fire > 1 {
		return "", usageError{"bench scan: want --enrollments >= --courses > 0 and 0 <= --fire <= 1"}
	}
	lim, err := env.measureLimits(ctx)
	if err != nil {
		return "", err
	}
	moodleSite := newMoodleStandIn(o)
	defer moodleSite.close()
	cfg, err := env.config("all", moodleSite.url)
	if err != nil {
		return "", err
	}
	seedStart := time.Now()
	if err := seedScan(ctx, env, cfg, o); err != nil {
		return "", fmt.Errorf("seed: %w", err)
	}
	seeded := time.Since(seedStart)
	svc, err := env.startService(ctx, cfg, overrides{sender: instantSender{}})
	if err != nil {
		return "", err
	}
	defer func() { _ = svc.stop() }()
	counter, err := env.openCounter(ctx)
	if err != nil {
		return "", err
	}
	defer counter.close()
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()

	meter := env.meter(ctx, counter)
	resetPeakRSS()
	mem := startMemSampler()
	stopProfiles, err := env.profiling()
	if err != nil {
		return "", err
	}
	cpu0 := sampleCPU()
	start := time.Now()
	sc, _, err := svc.scans.Start(ctx, app.ScanManual, domain.Date{})
	if err != nil {
		return "", err
	}
	svc.wake()
	scans := svc.store
	if err := waitFor(ctx, 200*time.Millisecond, func() (bool, error) {
		list, err := scans.UndispatchedScans(ctx)
		if err != nil {
			return false, err
		}
		for _, u := range list {
			if u.ID == sc.ID {
				return false, nil
			}
		}
		pending, err := scans.PendingScanItems(ctx, sc.ID, 0, 1)
		return len(pending) == 0, err
	}); err != nil {
		return "", fmt.Errorf("scan %d: %w", sc.ID, err)
	}
	elapsed := time.Since(start)
	cpu1 := sampleCPU()
	peakGo := mem.stop()
	peakRSS := readPeakRSS()
	if err := stopProfiles(); err != nil {
		return "", err
	}
	got, err := svc.scans.Get(ctx, sc.ID)
	if err != nil {
		return "", err
	}
	sent, err := counter.count(ctx, `SELECT count(*) FROM message_logs WHERE status = 'SENT' AND trigger_ref <> '0'`)
	if err != nil {
		return "", err
	}
	if err := svc.stop(); err != nil {
		return "", err
	}
	c := got.Counts
	if c.Dispatched != o.enrollments || c.Evaluated != o.enrollments {
		return "", fmt.Errorf("scan %d: dispatched %d, evaluated %d, failed %d of %d enrollments",
			sc.ID, c.Dispatched, c.Evaluated, c.Failed, o.enrollments)
	}
	rate := float64(c.Evaluated) / elapsed.Seconds()
	line := fmt.Sprintf("scan (%s): %d enrollments in %d courses in %.1f s (%.0f enrollments/s), %d messages (%d SENT), "+
		"%d Moodle calls; peak RSS %s (Go runtime peak %s); seeded in %.1f s",
		env.backendName(), o.enrollments, o.courses, elapsed.Seconds(), rate, c.Messages, sent,
		moodleSite.calls.Load(), mib(peakRSS), mib(peakGo), seeded.Seconds())
	if r := lim.ratios(rate); r != "" {
		line += "; " + r
	}
	return line + meter.per(ctx, int64(o.enrollments), "enrollment") + env.cpuPer(cpu0, cpu1, int64(o.enrollments), "enrollment"), nil
}

// historyOnly is q, or a statement that does nothing when the seed has no
// history.
func historyOnly(history bool, q string) string {
	if !history {
		return `SELECT 1`
	}
	return q
}

// fires reports whether Moodle user u's progress moved since the last
// scan: a fixed pseudo-random share of the users.
func fires(u int64, share float64) bool {
	h := uint32(u) * 2654435761 // Knuth's multiplicative hash
	return float64(h) < share*(1<<32)
}

// seedScan creates the courses, students and enrollments in one pass of
// set-based SQL.
func seedScan(ctx context.Context, env *benchEnv, cfg Config, o scanOptions) error {
	// Open the store once: it applies the migrations.
	cfg.DatabaseURL = env.dbURL
	store, _, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	_ = store.Close()
	n, m := o.enrollments, o.courses
	if env.dbURL != "" {
		c, err := pgx.Connect(ctx, withoutPoolParams(env.dbURL))
		if err != nil {
			return err
		}
		defer c.Close(ctx)
		steps := []struct {
			q    string
			args []any
		}{
			{`INSERT INTO courses (moodle_course_id, shortname, fullname, created_at, updated_at)
				SELECT c, 'C' || c, 'Course ' || c, now(), now() FROM generate_series(1, $1::bigint) c`, []any{m}},
			{`INSERT INTO students (moodle_user_id, username, firstname, lastname, phone, lang, contact_changed_at,
					created_at, updated_at)
				SELECT u, 'u' || u, 'Ana', 'Ruiz', '+3461' || lpad(u::text, 7, '0'), 'es', now(), now(), now()
				FROM generate_series(1, $1::bigint) u`, []any{n}},
			{`INSERT INTO enrollments (student_id, course_id, status, roles, progress_total, progress_completed,
					progress_percent, imported, created_at, updated_at)
				SELECT s.id, c.id, 0, '{student}', 4, 0, 0, true, now(), now()
				FROM students s JOIN courses c ON c.moodle_course_id = 1 + (s.moodle_user_id - 1) % $1::bigint
				ORDER BY s.id`, []any{m}},
			// Last month's progress message of every enrollment: a history
			// to read, outside the progress rule's window.
			{historyOnly(o.history, `INSERT INTO message_logs (rule, template, language, params, status, student_id, moodle_user_id,
					course_id, moodle_course_id, enrollment_id, to_phone, provider_message_id, trigger_kind,
					trigger_ref, attempts, created_at, sent_at)
				SELECT 'progress', 'progress', 'es', '["Ana", "Course", "25"]', 'SENT', e.student_id, s.moodle_user_id,
					e.course_id, c.moodle_course_id, e.id, s.phone, 'wamid.seed-' || e.id, 'scan', '0', 1,
					now() - interval '30 days', now() - interval '30 days'
				FROM enrollments e JOIN students s ON s.id = e.student_id JOIN courses c ON c.id = e.course_id
				ORDER BY e.id`), nil},
			// Statistics as a database in use has them (this bench's server
			// may run without autovacuum).
			{`ANALYZE`, nil},
		}
		for _, st := range steps {
			if _, err := c.Exec(ctx, st.q, st.args...); err != nil {
				return err
			}
		}
		return nil
	}
	db, err := sql.Open("sqlite", filepath.Join(env.dataDir, "notifier.db")+"?_pragma=foreign_keys(1)&_pragma=busy_timeout(10000)")
	if err != nil {
		return err
	}
	defer db.Close()
	// The values are the bench's own integers: written into the SQL.
	r := strings.NewReplacer("{N}", strconv.Itoa(n), "{M}", strconv.Itoa(m),
		"{NOW}", strconv.FormatInt(time.Now().UnixMicro(), 10),
		"{MONTHAGO}", strconv.FormatInt(time.Now().AddDate(0, -1, 0).UnixMicro(), 10))
	for _, q := range []string{
		`WITH RECURSIVE seq(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM seq WHERE x < {M})
			INSERT INTO courses (moodle_course_id, shortname, fullname, created_at, updated_at)
			SELECT x, 'C' || x, 'Course ' || x, {NOW}, {NOW} FROM seq`,
		`WITH RECURSIVE seq(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM seq WHERE x < {N})
			INSERT INTO students (moodle_user_id, username, firstname, lastname, phone, lang, contact_changed_at,
				created_at, updated_at)
			SELECT x, 'u' || x, 'Ana', 'Ruiz', '+3461' || substr('0000000' || x, -7, 7), 'es', {NOW}, {NOW}, {NOW}
			FROM seq`,
		`INSERT INTO enrollments (student_id, course_id, status, roles, progress_total, progress_completed,
				progress_percent, imported, created_at, updated_at)
			SELECT s.id, c.id, 0, '["student"]', 4, 0, 0.0, 1, {NOW}, {NOW}
			FROM students s JOIN courses c ON c.moodle_course_id = 1 + (s.moodle_user_id - 1) % {M}
			ORDER BY s.id`,
		historyOnly(o.history, `INSERT INTO message_logs (rule, template, language, params, status, student_id, moodle_user_id,
				course_id, moodle_course_id, enrollment_id, to_phone, provider_message_id, trigger_kind,
				trigger_ref, attempts, created_at, sent_at)
			SELECT 'progress', 'progress', 'es', '["Ana","Course","25"]', 'SENT', e.student_id, s.moodle_user_id,
				e.course_id, c.moodle_course_id, e.id, s.phone, 'wamid.seed-' || e.id, 'scan', '0', 1,
				{MONTHAGO}, {MONTHAGO}
			FROM enrollments e JOIN students s ON s.id = e.student_id JOIN courses c ON c.id = e.course_id
			ORDER BY e.id`),
		`ANALYZE`,
	} {
		if _, err := db.ExecContext(ctx, r.Replace(q)); err != nil {
			return err
		}
	}
	return nil
}

// moodleStandIn is a Moodle site on the loopback that answers the plugin's
// bulk progress function for the seeded courses.
type moodleStandIn struct {
	url   string
	srv   *httptest.Server
	calls atomic.Int64
}

func newMoodleStandIn(o scanOptions) *moodleStandIn {
	s := &moodleStandIn{}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.calls.Add(1)
		if err := r.ParseForm(); err != nil || r.URL.Path != moodle.Endpoint {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if r.PostForm.Get("wsfunction") != moodle.BulkProgressFunction {
			_, _ = fmt.Fprint(w, `{"exception":"dml_missing_record_exception","errorcode":"invalidrecord","message":"Can't find data record in database table external_functions."}`)
			return
		}
		course, err := strconv.ParseInt(r.PostForm.Get("courseid"), 10, 64)
		if err != nil || course < 1 || course > int64(o.courses) {
			_, _ = fmt.Fprint(w, `{"exception":"dml_missing_record_exception","errorcode":"invalidrecord","message":"Can't find data record in database table course."}`)
			return
		}
		bw := bufio.NewWriter(w)
		fmt.Fprintf(bw, `{"courseid":%d,"scorm_total":4,"users":[`, course)
		first := true
		for u := course; u <= int64(o.enrollments); u += int64(o.courses) {
			done := 0
			if fires(u, o.fire) {
				done = 2
			}
			if !first {
				_ = bw.WriteByte(',')
			}
			first = false
			pct, _ := json.Marshal(float64(done) * 100 / 4)
			fmt.Fprintf(bw, `{"userid":%d,"scorm_total":4,"scorm_completed":%d,"percent":%s}`, u, done, pct)
		}
		_, _ = bw.WriteString(`],"warnings":[]}`)
		_ = bw.Flush()
	}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err == nil {
		s.srv.Listener = ln
	}
	s.srv.Start()
	s.url = s.srv.URL
	return s
}

func (s *moodleStandIn) close() { s.srv.Close() }

// resetPeakRSS resets the kernel's peak resident set size of this process
// (VmHWM), so that the next reading covers the measurement only.
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// readPeakRSS is VmHWM in bytes (0 when unknown).
func readPeakRSS() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("VmHWM:")); ok {
			f := strings.Fields(string(v))
			if len(f) > 0 {
				kb, _ := strconv.ParseUint(f[0], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}

func mib(b uint64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

// memSampler records the most memory the Go runtime held from the OS.
type memSampler struct {
	done chan struct{}
	wg   sync.WaitGroup
	peak uint64
}

func startMemSampler() *memSampler {
	m := &memSampler{done: make(chan struct{})}
	sample := []rtmetrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	m.wg.Go(func() {
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			rtmetrics.Read(sample)
			if v := sample[0].Value.Uint64() - sample[1].Value.Uint64(); v > m.peak {
				m.peak = v
			}
			select {
			case <-m.done:
				return
			case <-t.C:
			}
		}
	})
	return m
}

func (m *memSampler) stop() uint64 {
	close(m.done)
	m.wg.Wait()
	return m.peak
}
