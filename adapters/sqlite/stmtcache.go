package sqlite

import (
	"context"
	"database/sql"
	"errors"
)

// stmtCache holds statements prepared once per pool: SQLite's parser costs
// more than most of the statements it parses (a third of a scan's CPU went
// to preparing the same few statements again and again). They are
// prepared when the store opens, while no transaction holds the writer's
// only connection; a transaction then uses them on its own connection
// (database/sql prepares them there once, if need be).
type stmtCache struct {
	m map[string]*sql.Stmt
}

// newStmtCache prepares queries on db.
func newStmtCache(ctx context.Context, db *sql.DB, queries ...string) (*stmtCache, error) {
	c := &stmtCache{m: map[string]*sql.Stmt{}}
	for _, q := range queries {
		st, err := db.PrepareContext(ctx, q)
		if err != nil {
			return nil, errors.Join(err, c.close())
		}
		c.m[q] = st
	}
	return c, nil
}

// get returns q prepared, or nil when it is not one of the cached
// statements (the caller then runs it unprepared).
func (c *stmtCache) get(q string) *sql.Stmt {
	if c == nil {
		return nil
	}
	return c.m[q]
}

func (c *stmtCache) close() error {
	if c == nil {
		return nil
	}
	var errs []error
	for q, st := range c.m {
		errs = append(errs, st.Close())
		delete(c.m, q)
	}
	return errors.Join(errs...)
}

// writeRow runs q on the writer outside a transaction, prepared when it is
// one of the cached statements.
func (s *Store) writeRow(ctx context.Context, q string, args ...any) *sql.Row {
	if st := s.writeStmts.get(q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return s.write.QueryRowContext(ctx, q, args...)
}

// txQuerier is what the reads of a transaction need.
type txQuerier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// cachedTx runs a transaction's statements through the pool's prepared
// statements (prepared on the transaction's connection at most once).
type cachedTx struct {
	tx    *sql.Tx
	stmts *stmtCache
}

func (t cachedTx) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	if st := t.stmts.get(q); st != nil {
		return t.tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	return t.tx.QueryRowContext(ctx, q, args...)
}

func (t cachedTx) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if st := t.stmts.get(q); st != nil {
		return t.tx.StmtContext(ctx, st).QueryContext(ctx, args...)
	}
	return t.tx.QueryContext(ctx, q, args...)
}

func (t cachedTx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if st := t.stmts.get(q); st != nil {
		return t.tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	return t.tx.ExecContext(ctx, q, args...)
}
