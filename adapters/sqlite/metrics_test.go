package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/acme/notifier/adapters/sqlite"
	"github.com/acme/notifier/adapters/storetest"
)

func TestMetricsStoreContract(t *testing.T) {
	storetest.RunMetrics(t, func(t *testing.T) storetest.MetricsStore {
		s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "notifier.db"))
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}
