// Package postgres is the PostgreSQL store: it implements app.Store on a
// pgx connection pool, with the schema of migrations/postgres.
package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/acme/notifier/app"
	"github.com/acme/notifier/migrations"
)

// Store is the PostgreSQL implementation of app.Store. It is safe for
// concurrent use, also by several processes sharing the database.
type Store struct {
	pool *pgxpool.Pool
	now  func() time.Time
}

var _ app.Store = (*Store)(nil)

// DefaultMaxConns is the pool size when the database URL sets no
// pool_max_conns. pgxpool's own default, max(4, number of CPUs), is 4 on a
// small machine: the HTTP handlers and the bus's consumers (dozens per
// handler) then queue for a connection while the database is far from busy.
// More connections in flight also let PostgreSQL group the commits they
// wait on into one WAL flush. Connections are opened on demand and each replica
// holds at most this many: keep replicas x DefaultMaxConns under the
// server's max_connections, or set pool_max_conns in DATABASE_URL.
const DefaultMaxConns = 16

// Open connects to the database at url and checks that it answers. It does
// not migrate: see Migrate.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The message may quote the URL and its password: say only what failed.
		return nil, errors.New("postgres: open: the database URL cannot be parsed")
	}
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = DefaultMaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: open: %w", classify(err))
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: open: %w", classify(err))
	}
	return &Store{pool: pool, now: time.Now}, nil
}

// Migrate applies the embedded migrations that the database at url lacks.
func Migrate(ctx context.Context, url string) error {
	s, err := Open(ctx, url)
	if err != nil {
		return err
	}
	defer s.Close()
	return s.Migrate(ctx)
}

// Migrate applies the embedded migrations the database lacks. A session
// advisory lock makes replicas that start together take turns.
func (s *Store) Migrate(ctx context.Context) error {
	db := stdlib.OpenDBFromPool(s.pool)
	defer db.Close() // leaves the pool open
	p, err := newMigrator(db)
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("postgres: migrate: %w", classify(err))
	}
	return nil
}

// newMigrator is the goose provider for the embedded PostgreSQL migrations.
func newMigrator(db *sql.DB) (*goose.Provider, error) {
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 300))
	if err != nil {
		return nil, err
	}
	return goose.NewProvider(goose.DialectPostgres, db, migrations.Postgres(),
		goose.WithSessionLocker(locker), goose.WithDisableGlobalRegistry(true))
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: ping: %w", classify(err))
	}
	return nil
}

// Close closes every connection; it waits for those in use.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// maxAttempts bounds the runs of one transaction that PostgreSQL aborted to
// resolve a conflict with another.
const maxAttempts = 5

// transact runs fn in a READ COMMITTED transaction and commits, running it
// again when PostgreSQL aborts it for a serialization failure or a deadlock.
// READ COMMITTED matters: a statement that follows a row lock sees every
// row committed before the lock was granted, which the evaluation's history
// read relies on. fn may run more than once, so it must only act through tx.
func (s *Store) transact(ctx context.Context, fn func(pgx.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.ReadCommitted}, fn)
		if err == nil || !conflict(err) || attempt == maxAttempts {
			return err
		}
		// A short random pause lets the transactions that collided finish
		// in some order instead of colliding again.
		pause := time.Duration(attempt) * time.Duration(5+rand.IntN(20)) * time.Millisecond
		select {
		case <-ctx.Done():
			return err
		case <-time.After(pause):
		}
	}
}

// conflict reports a serialization failure or a deadlock: the transaction
// may succeed when run again.
func conflict(err error) bool {
	code := pgCode(err)
	return code == "40001" || code == "40P01"
}

func pgCode(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

// classify maps the errors callers decide on to the app's: a missing row
// to app.ErrNotFound, and a database that cannot serve now to an error
// wrapping app.ErrUnavailable. Other errors pass as they are.
func classify(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, pgx.ErrNoRows):
		return app.ErrNotFound
	case unavailable(err):
		return fmt.Errorf("%w: %w", app.ErrUnavailable, err)
	}
	return err
}

// unavailable reports errors worth retrying later: the server cannot be
// reached or is shutting down, too many connections, conflicts that
// outlasted the retries, timeouts.
func unavailable(err error) bool {
	code := pgCode(err)
	switch {
	case strings.HasPrefix(code, "08"), // connection exception
		strings.HasPrefix(code, "53"),    // insufficient resources
		code == "40001", code == "40P01", // conflicts that outlasted the retries
		code == "55P03",                                   // lock not available
		code == "57P01", code == "57P02", code == "57P03": // shutting down, starting up
		return true
	case code != "":
		return false
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	return errors.As(err, &connectErr) || errors.As(err, &netErr) || pgconn.Timeout(err) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)
}
