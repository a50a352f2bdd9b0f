package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// `notifier bench` measures the service against the machine's own limits.
// Every subcommand starts the whole service in this process (the same
// newService the component tests start), drives it with its own stand-ins
// (a WhatsApp sender that answers OK at once, a Moodle site that answers the
// plugin's bulk progress function), prints ONE result line on stdout and
// removes what it created: its own PostgreSQL database on the server of
// DATABASE_URL, its own key prefix on the Redis of REDIS_URL, or a temporary
// folder for the embedded store when DATABASE_URL is unset. All traffic the
// bench makes itself goes to 127.0.0.1.

const benchUsage = `usage: notifier bench SUBCOMMAND [flags]

Runs against DATABASE_URL and REDIS_URL (a database and a key prefix of its
own, removed afterwards), or the embedded store and bus when they are unset.
Each subcommand prints one result line with its ratio to the machine's limits,
measured in the same run.

subcommands:
  limits                                 single-row INSERT commits/s and XADD/s of the same servers
  ingest [--requests N] [--concurrency C] [--rate R] [--duration D]
                                         signed webhooks accepted per second, p50/p99 latency
  e2e [--events N]                       enrolment events to SENT rows per second
  scan [--enrollments N] [--courses M] [--fire F] [--history=false]
                                         a daily scan through a Moodle stand-in: wall time, peak memory
common flags:
  --limit-duration D   how long each limit is measured (default 3s; 0 skips the limits)
  --limit-conns N      connections of the concurrent limit measurements (default 16)
  --cpuprofile FILE, --blockprofile FILE, --mutexprofile FILE
                       profiles of the whole process (service included) during the measurement
  --roundtrips         count PostgreSQL round trips per unit of work (through a counting proxy)
Every line on PostgreSQL also gives the transactions committed per unit of work
(pg_stat_database), and, where /proc shows them, the CPU the notifier (with the
bench's own load), PostgreSQL and Redis spent per unit of work.
  --log FILE           write the service's log there (default: formatted, then discarded)
`

// benchSecret signs the bench's webhooks; it only ever lives in this process.
const benchSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// benchToken is the admin token of the service under test.
const benchToken = "bench-admin-token-0123456789abcdef"

// benchCommand runs `notifier bench SUBCOMMAND`.
func benchCommand(ctx context.Context, getenv func(string) string, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{"bench: a subcommand is required\n" + benchUsage}
	}
	sub, args := args[0], args[1:]
	fs := newFlagSet("bench "+sub, stderr)
	common := benchFlags{}
	fs.DurationVar(&common.limitDuration, "limit-duration", 3*time.Second, "how long each machine limit is measured (0 skips)")
	fs.StringVar(&common.cpuProfile, "cpuprofile", "", "write a CPU profile of the measurement")
	fs.StringVar(&common.blockProfile, "blockprofile", "", "write a block profile of the measurement")
	fs.StringVar(&common.mutexProfile, "mutexprofile", "", "write a mutex profile of the measurement")
	fs.BoolVar(&common.roundTrips, "roundtrips", false, "count PostgreSQL round trips through a counting proxy")
	fs.StringVar(&common.logFile, "log", "", "write the service's log to this file")
	fs.IntVar(&common.limitConns, "limit-conns", 16, "connections of the concurrent limit measurements")
	var run func(context.Context, *benchEnv) (string, error)
	switch sub {
	case "limits":
		run = func(ctx context.Context, env *benchEnv) (string, error) {
			l, err := env.measureLimits(ctx)
			if err != nil {
				return "", err
			}
			return "limits: " + l.String(), nil
		}
	case "ingest":
		o := ingestOptions{}
		fs.IntVar(&o.requests, "requests", 20000, "requests of the throughput phase (at most)")
		fs.IntVar(&o.concurrency, "concurrency", 32, "requests in flight in the throughput phase")
		fs.IntVar(&o.rate, "rate", 1000, "requests per second of the latency phase (0 skips it)")
		fs.DurationVar(&o.duration, "duration", 10*time.Second, "longest time of each phase")
		run = func(ctx context.Context, env *benchEnv) (string, error) { return benchIngest(ctx, env, o) }
	case "e2e":
		o := e2eOptions{}
		fs.IntVar(&o.events, "events", 10000, "enrolment events, one message each")
		fs.IntVar(&o.concurrency, "concurrency", 32, "deliveries in flight")
		fs.DurationVar(&o.timeout, "timeout", 5*time.Minute, "give up after this long")
		run = func(ctx context.Context, env *benchEnv) (string, error) { return benchE2E(ctx, env, o) }
	case "scan":
		o := scanOptions{}
		fs.IntVar(&o.enrollments, "enrollments", 100000, "active enrollments (one student each)")
		fs.IntVar(&o.courses, "courses", 1000, "courses they are spread over")
		fs.Float64Var(&o.fire, "fire", 0.1, "share of enrollments whose progress moved since the last scan (each gets a progress message)")
		fs.DurationVar(&o.timeout, "timeout", 30*time.Minute, "give up after this long")
		fs.BoolVar(&o.history, "history", true, "give every enrollment last month's message (false: an empty message log)")
		run = func(ctx context.Context, env *benchEnv) (string, error) { return benchScan(ctx, env, o) }
	case "help", "-h", "--help":
		fmt.Fprint(stdout, benchUsage)
		return nil
	default:
		return usageError{fmt.Sprintf("bench: unknown subcommand %q\n%s", sub, benchUsage)}
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	env, err := newBenchEnv(ctx, getenv, common, stderr)
	if err != nil {
		return err
	}
	defer env.close()
	env.progress("%s on %s", sub, env.backendName())
	line, err := run(ctx, env)
	if err != nil {
		return fmt.Errorf("bench %s: %w", sub, err)
	}
	fmt.Fprintln(stdout, line)
	return nil
}

type benchFlags struct {
	limitDuration time.Duration
	limitConns    int
	cpuProfile    string
	blockProfile  string
	mutexProfile  string
	roundTrips    bool
	logFile       string
}

// benchEnv is the bench's own corner of the servers it was given.
type benchEnv struct {
	flags    benchFlags
	stderr   io.Writer
	getenv   func(string) string
	dbURL    string // the bench's database; empty: embedded SQLite in dataDir
	redisURL string // empty: in-process bus
	prefix   string // the bench's Redis key prefix
	dataDir  string
	proxy    *pgProxy // counts round trips when --roundtrips
	logOut   io.Writer
	cleanups []func()
}

func benchSuffix() string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newBenchEnv creates the bench's database, prefix and folder.
func newBenchEnv(ctx context.Context, getenv func(string) string, flags benchFlags, stderr io.Writer) (_ *benchEnv, err error) {
	env := &benchEnv{flags: flags, stderr: stderr, getenv: getenv, logOut: io.Discard}
	defer func() {
		if err != nil {
			env.close()
		}
	}()
	suffix := benchSuffix()
	dir, err := os.MkdirTemp("", "notifier-bench-")
	if err != nil {
		return nil, err
	}
	env.dataDir = dir
	env.cleanups = append(env.cleanups, func() { _ = os.RemoveAll(dir) })
	if flags.logFile != "" {
		f, err := os.Create(flags.logFile)
		if err != nil {
			return nil, usageError{"bench: --log: " + err.Error()}
		}
		env.logOut = f
		env.cleanups = append(env.cleanups, func() { _ = f.Close() })
	}
	if base := getenv("DATABASE_URL"); base != "" {
		if env.dbURL, err = createBenchDatabase(ctx, base, "notifier_bench_"+suffix, env); err != nil {
			return nil, err
		}
		if flags.roundTrips {
			if env.proxy, err = startPGProxy(env.dbURL); err != nil {
				return nil, err
			}
			env.cleanups = append(env.cleanups, env.proxy.close)
		}
	}
	if r := getenv("REDIS_URL"); r != "" {
		env.redisURL = r
		env.prefix = "notifier-bench-" + suffix
		env.cleanups = append(env.cleanups, func() { deleteRedisPrefix(r, env.prefix) })
	}
	return env, nil
}

// createBenchDatabase creates a database of the bench's own on the server
// of base and returns its URL; close drops it.
func createBenchDatabase(ctx context.Context, base, name string, env *benchEnv) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", &ConfigError{Var: "DATABASE_URL", Msg: "cannot be parsed"}
	}
	c, err := pgx.Connect(ctx, withoutPoolParams(base))
	if err != nil {
		return "", fmt.Errorf("bench: connect to DATABASE_URL: %w", err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("bench: create database %s: %w", name, err)
	}
	env.cleanups = append(env.cleanups, func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		c, err := pgx.Connect(ctx, withoutPoolParams(base))
		if err != nil {
			fmt.Fprintf(env.stderr, "bench: drop database %s: %v\n", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			fmt.Fprintf(env.stderr, "bench: drop database %s: %v\n", name, err)
		}
	})
	u.Path = "/" + name
	return u.String(), nil
}

// withoutPoolParams drops pgxpool's own parameters (pool_max_conns...)
// from a URL, for a single connection, which would send them to the server.
func withoutPoolParams(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	q := u.Query()
	for k := range q {
		if strings.HasPrefix(k, "pool_") {
			q.Del(k)
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

func deleteRedisPrefix(rawURL, prefix string) {
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		return
	}
	c := redis.NewClient(opt)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	iter := c.Scan(ctx, 0, prefix+":*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	for len(keys) > 0 {
		n := min(len(keys), 500)
		c.Unlink(ctx, keys[:n]...)
		keys = keys[n:]
	}
}

// progress tells stderr how the bench is getting on.
func (e *benchEnv) progress(format string, args ...any) {
	fmt.Fprintf(e.stderr, "bench %s: "+format+"\n", append([]any{time.Now().Format("15:04:05.0")}, args...)...)
}

// close removes what the bench created, last first.
func (e *benchEnv) close() {
	for i := len(e.cleanups) - 1; i >= 0; i-- {
		e.cleanups[i]()
	}
	e.cleanups = nil
}

// serviceDBURL is the URL the service under test connects to: through the
// counting proxy with --roundtrips.
func (e *benchEnv) serviceDBURL() string {
	if e.proxy != nil {
		return e.proxy.url
	}
	return e.dbURL
}

// backendName says what the bench runs on, for the result line.
func (e *benchEnv) backendName() string {
	db, bus := "sqlite", "in-process"
	if e.dbURL != "" {
		db = "postgres"
	}
	if e.redisURL != "" {
		bus = "redis"
	}
	return db + "+" + bus
}

// config is the service's configuration for the bench.
func (e *benchEnv) config(role, moodleURL string) (Config, error) {
	vars := map[string]string{
		"NOTIFIER_DATA_DIR":      e.dataDir,
		"DATABASE_URL":           e.serviceDBURL(),
		"REDIS_URL":              e.redisURL,
		"NOTIFIER_STREAM_PREFIX": e.prefix,
		"MOODLE_WEBHOOK_SECRET":  benchSecret,
		"NOTIFIER_ADMIN_TOKENS":  benchToken,
		"NOTIFIER_SCAN_AT":       "off",
		"NOTIFIER_HTTP_ADDR":     "127.0.0.1:0",
		"NOTIFIER_ROLE":          role,
		"NOTIFIER_LOG_LEVEL":     e.getenv("NOTIFIER_LOG_LEVEL"),
		"NOTIFIER_LOG_FORMAT":    e.getenv("NOTIFIER_LOG_FORMAT"),
		"NOTIFIER_TIMEZONE":      e.getenv("NOTIFIER_TIMEZONE"),
	}
	if e.prefix == "" {
		vars["NOTIFIER_STREAM_PREFIX"] = "notifier"
	}
	if moodleURL != "" {
		vars["MOODLE_URL"], vars["MOODLE_TOKEN"] = moodleURL, "bench-moodle-token"
	}
	return LoadConfig(func(k string) string { return vars[k] })
}

// benchService is the service under test, running in this process.
type benchService struct {
	*service
	url  string
	stop func() error
}

// startService starts the whole service on a loopback port.
func (e *benchEnv) startService(ctx context.Context, cfg Config, over overrides) (*benchService, error) {
	log := newLogger(cfg, e.logOut)
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s, err := newService(runCtx, cfg, log, over)
	if err != nil {
		cancel()
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		_ = s.Close()
		return nil, err
	}
	done := make(chan error, 1)
	go func() { done <- s.run(runCtx, ln) }()
	var (
		once    sync.Once
		stopErr error
	)
	stop := func() error {
		once.Do(func() {
			e.progress("stopping the service")
			cancel()
			select {
			case stopErr = <-done:
			case <-time.After(40 * time.Second):
				stopErr = errors.New("the service did not stop within 40 s")
			}
			stopErr = errors.Join(stopErr, s.Close())
			e.progress("service stopped")
		})
		return stopErr
	}
	if s.router != nil {
		select {
		case <-s.router.Running():
		case err := <-done:
			done <- err
			_ = stop()
			return nil, fmt.Errorf("the service stopped at start: %v", err)
		case <-time.After(30 * time.Second):
			_ = stop()
			return nil, errors.New("the message router did not start within 30 s")
		}
	}
	e.progress("service started (%s, role %s)", e.backendName(), cfg.Role)
	return &benchService{service: s, url: "http://" + ln.Addr().String(), stop: stop}, nil
}

// profiling starts the profiles asked for; the returned function writes
// them.
func (e *benchEnv) profiling() (func() error, error) {
	f := e.flags
	var stops []func() error
	if f.cpuProfile != "" {
		out, err := os.Create(f.cpuProfile)
		if err != nil {
			return nil, usageError{"bench: --cpuprofile: " + err.Error()}
		}
		if err := pprof.StartCPUProfile(out); err != nil {
			out.Close()
			return nil, err
		}
		stops = append(stops, func() error { pprof.StopCPUProfile(); return out.Close() })
	}
	if f.blockProfile != "" {
		runtime.SetBlockProfileRate(int(50 * time.Microsecond))
		stops = append(stops, func() error {
			defer runtime.SetBlockProfileRate(0)
			return writeProfile("block", f.blockProfile)
		})
	}
	if f.mutexProfile != "" {
		runtime.SetMutexProfileFraction(5)
		stops = append(stops, func() error {
			defer runtime.SetMutexProfileFraction(0)
			return writeProfile("mutex", f.mutexProfile)
		})
	}
	return func() error {
		var errs []error
		for _, s := range stops {
			errs = append(errs, s())
		}
		return errors.Join(errs...)
	}, nil
}

func writeProfile(name, path string) error {
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	defer out.Close()
	return pprof.Lookup(name).WriteTo(out, 0)
}

// dbCounter reads the counts the result lines report from the bench's
// database (PostgreSQL or the SQLite file).
type dbCounter struct {
	pg *pgx.Conn
	db *sql.DB
}

func (e *benchEnv) openCounter(ctx context.Context) (*dbCounter, error) {
	if e.dbURL != "" {
		c, err := pgx.Connect(ctx, withoutPoolParams(e.dbURL))
		if err != nil {
			return nil, err
		}
		return &dbCounter{pg: c}, nil
	}
	db, err := sql.Open("sqlite", filepath.Join(e.dataDir, "notifier.db")+"?_pragma=query_only(1)&_pragma=busy_timeout(10000)")
	if err != nil {
		return nil, err
	}
	return &dbCounter{db: db}, nil
}

func (c *dbCounter) count(ctx context.Context, q string, args ...any) (int64, error) {
	var n int64
	if c.pg != nil {
		err := c.pg.QueryRow(ctx, q, args...).Scan(&n)
		return n, err
	}
	err := c.db.QueryRowContext(ctx, strings.ReplaceAll(q, "$1", "?"), args...).Scan(&n)
	return n, err
}

// commits is the number of transactions committed in the bench's
// PostgreSQL database so far (0 on SQLite).
func (c *dbCounter) commits(ctx context.Context) int64 {
	if c.pg == nil {
		return 0
	}
	var n int64
	_ = c.pg.QueryRow(ctx, `SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()`).Scan(&n)
	return n
}

func (c *dbCounter) close() {
	if c.pg != nil {
		_ = c.pg.Close(context.Background())
	}
	if c.db != nil {
		_ = c.db.Close()
	}
}

// dbUsage is what a measurement cost in PostgreSQL round trips and
// transactions.
type dbUsage struct {
	roundTrips, commits int64
}

type usageMeter struct {
	env     *benchEnv
	counter *dbCounter
	start   dbUsage
}

func (e *benchEnv) meter(ctx context.Context, c *dbCounter) *usageMeter {
	m := &usageMeter{env: e, counter: c}
	m.start = m.now(ctx)
	return m
}

func (m *usageMeter) now(ctx context.Context) dbUsage {
	var u dbUsage
	if m.env.proxy != nil {
		u.roundTrips = m.env.proxy.roundTrips.Load()
	}
	u.commits = m.counter.commits(ctx)
	return u
}

// per describes the cost per unit of work, or "" when nothing was counted.
// Call it after the service stopped: a PostgreSQL backend may hold its
// counts for up to 10 s before pg_stat_database shows them, and it flushes
// them when its connection closes.
func (m *usageMeter) per(ctx context.Context, units int64, what string) string {
	if m.counter.pg == nil || units <= 0 {
		return ""
	}
	time.Sleep(200 * time.Millisecond) // the closed backends' last flush
	end := m.now(ctx)
	s := fmt.Sprintf("; %.1f transactions/%s", float64(end.commits-m.start.commits)/float64(units), what)
	if m.env.proxy != nil {
		s += fmt.Sprintf(", %.1f round trips/%s", float64(end.roundTrips-m.start.roundTrips)/float64(units), what)
	}
	return s
}
