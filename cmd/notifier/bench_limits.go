package main

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"
)

// limits are the machine's own limits, measured in the same run as the
// service: what the database and Redis do with nothing in between.
type limits struct {
	backend string
	conns   int
	// insert1 and insertN: single-row INSERT commits per second from one
	// connection and from conns connections. On SQLite both are the one
	// writer connection.
	insert1, insertN float64
	// xadd1, xaddN: XADD per second, one command per round trip, from one
	// and from conns clients; xaddPipe: XADD per second pipelined 100 at a
	// time from one client. Zero without Redis.
	xadd1, xaddN, xaddPipe float64
}

// insert is the best single-row commit rate: the ratios' denominator.
func (l limits) insert() float64 { return max(l.insert1, l.insertN) }

// xadd is the best unpipelined XADD rate.
func (l limits) xadd() float64 { return max(l.xadd1, l.xaddN) }

func (l limits) String() string {
	if l.insert() == 0 {
		return "not measured"
	}
	db := "postgres"
	if strings.HasPrefix(l.backend, "sqlite") {
		db = "sqlite"
	}
	s := fmt.Sprintf("%s single-row INSERT %.0f commits/s (1 conn %.0f/s, %d conns %.0f/s)",
		db, l.insert(), l.insert1, l.conns, l.insertN)
	if l.xaddN > 0 {
		s += fmt.Sprintf("; redis XADD %.0f/s (1 client %.0f/s, %d clients %.0f/s, pipelined x100 %.0f/s)",
			l.xadd(), l.xadd1, l.conns, l.xaddN, l.xaddPipe)
	}
	return s
}

// ratios prints rate against the limits.
func (l limits) ratios(rate float64) string {
	if l.insert() == 0 {
		return ""
	}
	s := fmt.Sprintf("insert limit %.0f commits/s (ratio %.2f)", l.insert(), rate/l.insert())
	if l.xadd() > 0 {
		s += fmt.Sprintf(", XADD limit %.0f/s (ratio %.2f)", l.xadd(), rate/l.xadd())
	}
	return s
}

// limitPayload is about the size of a Moodle event.
var limitPayload = strings.Repeat("x", 600)

// measureLimits measures the limits of the bench's servers, each for
// --limit-duration; zero skips them.
func (e *benchEnv) measureLimits(ctx context.Context) (limits, error) {
	d := e.flags.limitDuration
	l := limits{backend: e.backendName(), conns: max(e.flags.limitConns, 1)}
	if d <= 0 {
		return l, nil
	}
	var err error
	if e.dbURL != "" {
		if l.insert1, l.insertN, err = pgInsertLimit(ctx, e.dbURL, l.conns, d); err != nil {
			return l, fmt.Errorf("insert limit: %w", err)
		}
	} else {
		if l.insert1, err = sqliteInsertLimit(ctx, filepath.Join(e.dataDir, "limits.db"), d); err != nil {
			return l, fmt.Errorf("insert limit: %w", err)
		}
		l.insertN = l.insert1
	}
	if e.redisURL != "" {
		if l.xadd1, l.xaddN, l.xaddPipe, err = xaddLimit(ctx, e.redisURL, e.prefix+":bench-limits", l.conns, d); err != nil {
			return l, fmt.Errorf("XADD limit: %w", err)
		}
	}
	e.progress("limits: %s", l)
	return l, nil
}

// pgInsertLimit counts autocommitted single-row INSERTs per second, from
// one connection and from conns, into a table of its own that it drops.
func pgInsertLimit(ctx context.Context, dbURL string, conns int, d time.Duration) (float64, float64, error) {
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return 0, 0, err
	}
	cfg.MaxConns = int32(conns)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return 0, 0, err
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, `CREATE TABLE bench_limits (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		payload text NOT NULL, created_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return 0, 0, err
	}
	defer func() { _, _ = pool.Exec(context.WithoutCancel(ctx), `DROP TABLE bench_limits`) }()
	run := func(n int) (float64, error) {
		return concurrently(ctx, n, d, func(ctx context.Context) error {
			_, err := pool.Exec(ctx, `INSERT INTO bench_limits (payload) VALUES ($1)`, limitPayload)
			return err
		})
	}
	one, err := run(1)
	if err != nil {
		return 0, 0, err
	}
	many, err := run(conns)
	return one, many, err
}

// sqliteInsertLimit counts single-row INSERT commits per second on a file
// with the embedded store's settings (WAL, synchronous NORMAL, one writer).
func sqliteInsertLimit(ctx context.Context, path string, d time.Duration) (float64, error) {
	db, err := sql.Open("sqlite", path+"?_txlock=immediate&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, `CREATE TABLE bench_limits (id INTEGER PRIMARY KEY AUTOINCREMENT,
		payload TEXT NOT NULL, created_at INTEGER NOT NULL)`); err != nil {
		return 0, err
	}
	return concurrently(ctx, 1, d, func(ctx context.Context) error {
		_, err := db.ExecContext(ctx, `INSERT INTO bench_limits (payload, created_at) VALUES (?, ?)`,
			limitPayload, time.Now().UnixMicro())
		return err
	})
}

// xaddLimit counts XADDs per second on a stream of its own, which it
// deletes: one command per round trip from one client and from conns, then
// pipelined 100 at a time from one client.
func xaddLimit(ctx context.Context, rawURL, stream string, conns int, d time.Duration) (float64, float64, float64, error) {
	opt, err := redis.ParseURL(rawURL)
	if err != nil {
		return 0, 0, 0, errors.New("the Redis URL cannot be parsed")
	}
	opt.PoolSize = conns
	c := redis.NewClient(opt)
	defer c.Close()
	defer c.Del(context.WithoutCancel(ctx), stream)
	values := map[string]any{"_watermill_message_uuid": "0123456789abcdef", "metadata": "", "payload": limitPayload}
	run := func(n int) (float64, error) {
		return concurrently(ctx, n, d, func(ctx context.Context) error {
			return c.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: values}).Err()
		})
	}
	one, err := run(1)
	if err != nil {
		return 0, 0, 0, err
	}
	many, err := run(conns)
	if err != nil {
		return 0, 0, 0, err
	}
	const batch = 100
	piped, err := concurrently(ctx, 1, d, func(ctx context.Context) error {
		p := c.Pipeline()
		for range batch {
			p.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: values})
		}
		_, err := p.Exec(ctx)
		return err
	})
	return one, many, piped * batch, err
}

// concurrently runs op from n goroutines for d and returns the successful
// calls per second; the first error stops it.
func concurrently(ctx context.Context, n int, d time.Duration, op func(context.Context) error) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var (
		done     atomic.Int64
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	start := time.Now()
	for range n {
		wg.Go(func() {
			for ctx.Err() == nil {
				if err := op(ctx); err != nil {
					if ctx.Err() == nil {
						mu.Lock()
						if firstErr == nil {
							firstErr = err
						}
						mu.Unlock()
						cancel()
					}
					return
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return 0, firstErr
	}
	return float64(done.Load()) / time.Since(start).Seconds(), nil
}

// pgProxy forwards connections to PostgreSQL and counts, in what clients
// send, the messages that end a round trip (Sync of the extended protocol,
// Query of the simple one): the service's round trips to the database.
type pgProxy struct {
	url        string
	ln         net.Listener
	target     string
	roundTrips atomic.Int64
	wg         sync.WaitGroup
}

func startPGProxy(dbURL string) (*pgProxy, error) {
	u, err := url.Parse(dbURL)
	if err != nil {
		return nil, err
	}
	if q := u.Query(); q.Get("sslmode") != "disable" {
		return nil, usageError{"bench: --roundtrips needs sslmode=disable in DATABASE_URL (the proxy reads the protocol)"}
	}
	target := u.Host
	if u.Port() == "" {
		target = net.JoinHostPort(u.Hostname(), "5432")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &pgProxy{ln: ln, target: target}
	u.Host = ln.Addr().String()
	p.url = u.String()
	p.wg.Go(p.serve)
	return p, nil
}

func (p *pgProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Go(func() { p.handle(c) })
	}
}

func (p *pgProxy) handle(client net.Conn) {
	defer client.Close()
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer server.Close()
	go func() {
		_, _ = io.Copy(client, server)
		_ = client.Close()
	}()
	p.count(io.TeeReader(client, server))
}

// count reads the frontend stream: a startup message (length, then the
// body), then messages of one type byte and a length.
func (p *pgProxy) count(r io.Reader) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:4]); err != nil {
		return
	}
	if _, err := io.CopyN(io.Discard, r, int64(binary.BigEndian.Uint32(hdr[:4]))-4); err != nil {
		return
	}
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return
		}
		if hdr[0] == 'S' || hdr[0] == 'Q' {
			p.roundTrips.Add(1)
		}
		if _, err := io.CopyN(io.Discard, r, int64(binary.BigEndian.Uint32(hdr[1:]))-4); err != nil {
			return
		}
	}
}

func (p *pgProxy) close() {
	_ = p.ln.Close()
}
