package postgres_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/acme/notifier/adapters/postgres"
	"github.com/acme/notifier/adapters/storetest"
	"github.com/acme/notifier/internal/testenv"
)

// BenchmarkStore needs NOTIFIER_TEST_DATABASE_URL; it runs only with -bench.
func BenchmarkStore(b *testing.B) {
	url := testenv.PostgresURL(b)
	require.NoError(b, postgres.Migrate(b.Context(), url))
	s, err := postgres.Open(b.Context(), url)
	require.NoError(b, err)
	b.Cleanup(func() { _ = s.Close() })
	storetest.Benchmarks(b, s)
}
