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
