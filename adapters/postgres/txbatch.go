package postgres

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// beginSQL starts the transactions of batchTransact: READ COMMITTED, for the
// reason transact gives.
const beginSQL = `begin isolation level read committed`

// batchTransact runs fn on one connection of the pool. fn begins the
// transaction itself, in the same batch as its first statements
// (lockedRow), and commits it in the same batch as its last ones
// (commitWith): a read-modify-write transaction then costs two round trips
// to the server instead of four or more. When fn returns with the
// transaction still open or failed, it is rolled back. Like transact, the
// whole is run again when PostgreSQL aborts it for a serialization failure
// or a deadlock, so fn may run more than once and must only act through
// the connection.
func (s *Store) batchTransact(ctx context.Context, fn func(c *pgxpool.Conn) error) error {
	for attempt := 1; ; attempt++ {
		err := s.batchTransactOnce(ctx, fn)
		if err == nil || !conflict(err) || attempt == maxAttempts {
			return err
		}
		pause := time.Duration(attempt) * time.Duration(5+rand.IntN(20)) * time.Millisecond
		select {
		case <-ctx.Done():
			return err
		case <-time.After(pause):
		}
	}
}

func (s *Store) batchTransactOnce(ctx context.Context, fn func(c *pgxpool.Conn) error) (err error) {
	c, err := s.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer func() {
		pc := c.Conn().PgConn()
		if !pc.IsClosed() && pc.TxStatus() != 'I' {
			// The pool would close a connection left in a transaction: end
			// it, even when ctx was cancelled meanwhile.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			if _, rerr := c.Exec(rctx, "rollback"); rerr != nil && err == nil {
				err = fmt.Errorf("rollback: %w", rerr)
			}
			cancel()
		}
		c.Release()
	}()
	return fn(c)
}

// query is one statement and its arguments.
type query struct {
	sql  string
	args []any
}

// beginWith begins a transaction and runs the statements in the same round
// trip; read gets their results, in order.
func beginWith(ctx context.Context, c *pgxpool.Conn, stmts []query, read func(pgx.BatchResults) error) error {
	return sendBatch(ctx, c, true, stmts, false, read)
}

// commitWith runs the statements and COMMIT in one round trip; read gets
// the statements' results, in order, before the commit's is checked.
func commitWith(ctx context.Context, c *pgxpool.Conn, stmts []query, read func(pgx.BatchResults) error) error {
	return sendBatch(ctx, c, false, stmts, true, read)
}

// transactWith begins a transaction, runs the statements and commits, all
// in one round trip: for a transaction whose statements need nothing that
// Go computes from the results of the earlier ones. read gets the
// statements' results, in order, before the commit's is checked.
func transactWith(ctx context.Context, c *pgxpool.Conn, stmts []query, read func(pgx.BatchResults) error) error {
	return sendBatch(ctx, c, true, stmts, true, read)
}

// sendBatch sends the statements in one batch, after BEGIN when begin is
// set and followed by COMMIT when commit is. read, when set, gets the
// statements' results, in order.
func sendBatch(ctx context.Context, c *pgxpool.Conn, begin bool, stmts []query, commit bool,
	read func(pgx.BatchResults) error) (err error) {
	b := &pgx.Batch{}
	if begin {
		b.Queue(beginSQL)
	}
	for _, q := range stmts {
		b.Queue(q.sql, q.args...)
	}
	if commit {
		b.Queue("commit")
	}
	br := c.SendBatch(ctx, b)
	defer func() { err = closeBatch(br, err) }()
	if begin {
		if _, err := br.Exec(); err != nil {
			return fmt.Errorf("begin: %w", err)
		}
	}
	if read != nil {
		if err := read(br); err != nil {
			return err
		}
	}
	if !commit {
		return nil
	}
	tag, err := br.Exec()
	if err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	if tag.String() != "COMMIT" {
		// COMMIT of a failed transaction answers ROLLBACK.
		return fmt.Errorf("commit: the transaction was rolled back (%s)", tag)
	}
	return nil
}

// closeBatch closes br, reading what is left of it; err, when set, is the
// error that counts.
func closeBatch(br pgx.BatchResults, err error) error {
	if cerr := br.Close(); err == nil {
		return cerr
	}
	return err
}

// asyncCommitSQL lets the transaction's COMMIT return before its WAL record
// reaches the disk.
const asyncCommitSQL = `set local synchronous_commit = off`

// execRepairable runs one statement in a transaction of its own whose
// COMMIT does not wait for the WAL flush (synchronous_commit off), in one
// round trip. A crash of the server may lose such a commit if it came less
// than a few hundred milliseconds before; it never loses one that a later
// synchronous commit follows, because the WAL is flushed in order. So it
// serves only writes whose loss is repaired: by a later synchronous commit
// of the same flow (a send's claim follows its evaluation), or by doing the
// work again (an event not marked processed is published again by
// recovery, and applying it again changes nothing).
func (s *Store) execRepairable(ctx context.Context, sql string, args ...any) error {
	return s.batchTransact(ctx, func(c *pgxpool.Conn) error {
		return transactWith(ctx, c, []query{{asyncCommitSQL, nil}, {sql, args}}, func(br pgx.BatchResults) error {
			for range 2 {
				if _, err := br.Exec(); err != nil {
					return err
				}
			}
			return nil
		})
	})
}
