package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/notifier/adapters/postgres"
	"github.com/acme/notifier/adapters/storetest"
	"github.com/acme/notifier/app"
	"github.com/acme/notifier/internal/testenv"
)

func TestStoreContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) app.Store { return openStore(t) })
}

// openStore migrates a database of the test's own and opens it.
func openStore(t *testing.T) *postgres.Store {
	t.Helper()
	url := testenv.PostgresURL(t)
	require.NoError(t, postgres.Migrate(t.Context(), url))
	s, err := postgres.Open(t.Context(), url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestMigrateIsIdempotent(t *testing.T) {
	url := testenv.PostgresURL(t)
	require.NoError(t, postgres.Migrate(t.Context(), url))
	require.NoError(t, postgres.Migrate(t.Context(), url), "a second run finds nothing to do")
}

func TestOpenUnreachableIsUnavailable(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	// Port 1 refuses connections at once.
	_, err := postgres.Open(ctx, "postgres://notifier@127.0.0.1:1/notifier?sslmode=disable&connect_timeout=5")
	require.Error(t, err)
	assert.ErrorIs(t, err, app.ErrUnavailable)
}

func TestOpenBadURLHidesIt(t *testing.T) {
	_, err := postgres.Open(t.Context(), "postgres://user:s3cret@host:notaport/db")
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "s3cret")
}
