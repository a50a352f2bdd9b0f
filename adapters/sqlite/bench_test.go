package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/acme/notifier/adapters/sqlite"
	"github.com/acme/notifier/adapters/storetest"
)

// BenchmarkStore runs only with -bench.
func BenchmarkStore(b *testing.B) {
	s, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "bench.db"))
	require.NoError(b, err)
	b.Cleanup(func() { _ = s.Close() })
	storetest.Benchmarks(b, s)
}
