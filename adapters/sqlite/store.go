// Package sqlite is the embedded store: it implements app.Store on one
// SQLite file (modernc.org/sqlite, no cgo), with the schema of
// migrations/sqlite.
//
// SQLite lets one writer at a time hold the file. Rather than have
// connections fight over the write lock and fail with "database is locked",
// the store funnels every write through a pool of exactly one connection, so
// writers queue in Go, where waiting honours the context; reads use a pool of
// their own and, in WAL mode, never wait for the writer.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/acme/notifier/app"
	"github.com/acme/notifier/migrations"
)

// busyTimeout is how long a connection waits for a lock held by another
// process (a second notifier, the sqlite3 shell) before giving up.
const busyTimeout = 10 * time.Second

// Store is the SQLite implementation of app.Store. It is safe for
// concurrent use.
type Store struct {
	write *sql.DB // one connection: every write transaction, in turn
	read  *sql.DB // several connections, query_only
	now   func() time.Time

	// The hot statements, prepared once on each pool.
	writeStmts, readStmts *stmtCache
}

var _ app.Store = (*Store)(nil)

// Open opens (creating it and its folder when missing) the database file at
// path and applies the embedded migrations it lacks: the embedded store
// belongs to one process, which brings its schema with it.
func Open(ctx context.Context, path string) (*Store, error) {
	s, err := open(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if err := s.migrate(ctx); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("sqlite: open %s: migrate: %w", path, classify(err))
	}
	if err := s.prepare(ctx); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("sqlite: open %s: prepare: %w", path, classify(err))
	}
	return s, nil
}

// prepare prepares the statements of evaluations, sends and Moodle events
// (the upserts) on both pools.
func (s *Store) prepare(ctx context.Context) error {
	reads := []string{enrollmentByIDSQL, studentByIDSQL, courseByIDSQL, historySQL}
	var err error
	if s.readStmts, err = newStmtCache(ctx, s.read, readStateSQL); err != nil {
		return err
	}
	s.writeStmts, err = newStmtCache(ctx, s.write, append(reads, updateProgressSQL, insertMessageSQL, messageByIDSQL,
		updateMessageSQL, finishItemSQL, upsertStudentSQL, upsertCourseSQL, upsertEnrollmentSQL, insertInboundSQL,
		markProcessedSQL)...)
	return err
}

func open(ctx context.Context, path string) (*Store, error) {
	if path == "" || strings.ContainsAny(path, "?#") || strings.HasPrefix(path, "file:") {
		return nil, errors.New("want the path of a file, without '?', '#' or a file: prefix")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, err
	}
	write, err := sql.Open("sqlite", dsn(path, url.Values{
		"_txlock": {"immediate"}, // take the write lock at BEGIN, not at the first write
		"_pragma": {"journal_mode(WAL)", "synchronous(NORMAL)", "foreign_keys(1)", busyPragma()},
	}))
	if err != nil {
		return nil, err
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	write.SetConnMaxIdleTime(0)
	// The first connection creates the file and switches it to WAL before
	// any reader opens it.
	if err := write.PingContext(ctx); err != nil {
		_ = write.Close()
		return nil, classify(err)
	}
	read, err := sql.Open("sqlite", dsn(path, url.Values{
		"_pragma": {"query_only(1)", "foreign_keys(1)", busyPragma()},
	}))
	if err != nil {
		_ = write.Close()
		return nil, err
	}
	read.SetMaxOpenConns(max(4, runtime.GOMAXPROCS(0)))
	read.SetMaxIdleConns(max(4, runtime.GOMAXPROCS(0)))
	return &Store{write: write, read: read, now: time.Now}, nil
}

func dsn(path string, params url.Values) string { return path + "?" + params.Encode() }

func busyPragma() string { return fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()) }

// migrate runs goose on the writer: goose holds one connection throughout,
// which is all the writer pool has.
func (s *Store) migrate(ctx context.Context) error {
	p, err := goose.NewProvider(goose.DialectSQLite3, s.write, migrations.SQLite(),
		goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return err
	}
	// p.Close would close s.write: the provider is dropped instead.
	_, err = p.Up(ctx)
	return err
}

// Ping checks that the file can be read.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.read.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping: %w", classify(err))
	}
	if err := s.write.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping: %w", classify(err))
	}
	return nil
}

// Close closes both pools.
func (s *Store) Close() error {
	return errors.Join(s.writeStmts.close(), s.readStmts.close(), s.read.Close(), s.write.Close())
}

// transact runs fn in a transaction on the writer and commits. BEGIN
// IMMEDIATE takes the file's write lock first, so what fn reads cannot
// change before it writes, and nothing else writes until it commits.
func (s *Store) transact(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// classify maps the errors callers decide on to the app's: a missing row
// to app.ErrNotFound, and a file that cannot serve now (locked by another
// process beyond the busy timeout, a timeout) to an error wrapping
// app.ErrUnavailable. Other errors pass as they are.
func classify(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sql.ErrNoRows):
		return app.ErrNotFound
	case unavailable(err):
		return fmt.Errorf("%w: %w", app.ErrUnavailable, err)
	}
	return err
}

func unavailable(err error) bool {
	switch sqliteCode(err) & 0xff { // the primary result code
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL,
		sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PROTOCOL:
		return true
	}
	return errors.Is(err, context.DeadlineExceeded)
}

func sqliteCode(err error) int {
	var e *sqlite.Error
	if errors.As(err, &e) {
		return e.Code()
	}
	return 0
}
