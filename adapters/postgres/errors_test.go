package postgres

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/notifier/app"
	"github.com/acme/notifier/internal/testenv"
)

func TestClassify(t *testing.T) {
	pgErr := func(code string) error { return &pgconn.PgError{Code: code} }
	assert.ErrorIs(t, classify(pgx.ErrNoRows), app.ErrNotFound)
	for _, code := range []string{"08006", "53300", "57P01", "57P03", "40001", "40P01", "55P03"} {
		err := classify(pgErr(code))
		assert.ErrorIs(t, err, app.ErrUnavailable, code)
		var pe *pgconn.PgError
		assert.ErrorAs(t, err, &pe, "the cause stays visible")
	}
	for _, code := range []string{"23505", "23503", "42P01"} {
		assert.NotErrorIs(t, classify(pgErr(code)), app.ErrUnavailable, code)
	}
	assert.ErrorIs(t, classify(context.DeadlineExceeded), app.ErrUnavailable)
	assert.NotErrorIs(t, classify(context.Canceled), app.ErrUnavailable)
	assert.NoError(t, classify(nil))
}

func TestTransactRetriesConflicts(t *testing.T) {
	s, err := Open(t.Context(), testenv.PostgresURL(t))
	require.NoError(t, err)
	defer s.Close()

	runs := 0
	err = s.transact(t.Context(), func(pgx.Tx) error {
		runs++
		if runs < 3 {
			return &pgconn.PgError{Code: "40001"}
		}
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, 3, runs)

	runs = 0
	boom := errors.New("boom")
	err = s.transact(t.Context(), func(pgx.Tx) error { runs++; return boom })
	assert.ErrorIs(t, err, boom)
	assert.Equal(t, 1, runs, "other errors are not retried")

	runs = 0
	err = s.transact(t.Context(), func(pgx.Tx) error { runs++; return &pgconn.PgError{Code: "40P01"} })
	assert.Error(t, err)
	assert.Equal(t, maxAttempts, runs, "retries are bounded")
}

// A repairable write commits without waiting for the WAL flush, and only
// its own transaction does: the session is back to synchronous commits.
func TestExecRepairableCommitsAsynchronously(t *testing.T) {
	s, err := Open(t.Context(), testenv.PostgresURL(t))
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	ctx := t.Context()
	_, err = s.pool.Exec(ctx, `CREATE TABLE repairable_probe (setting text)`)
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = s.pool.Exec(context.Background(), `DROP TABLE repairable_probe`) })

	require.NoError(t, s.execRepairable(ctx, `INSERT INTO repairable_probe SELECT current_setting('synchronous_commit')`))
	var inside string
	require.NoError(t, s.pool.QueryRow(ctx, `SELECT setting FROM repairable_probe`).Scan(&inside))
	assert.Equal(t, "off", inside, "the write's transaction commits asynchronously")

	var after string
	require.NoError(t, s.pool.QueryRow(ctx, `SELECT current_setting('synchronous_commit')`).Scan(&after))
	assert.Equal(t, "on", after, "SET LOCAL ends with the transaction")

	err = s.execRepairable(ctx, `INSERT INTO repairable_probe SELECT $1::text FROM generate_series(1, 2) g WHERE 1 / (g - 2) = 0`, "x")
	require.Error(t, err, "a failed statement is an error, and nothing of it is kept")
	var n int
	require.NoError(t, s.pool.QueryRow(ctx, `SELECT count(*) FROM repairable_probe`).Scan(&n))
	assert.Equal(t, 1, n)
}
