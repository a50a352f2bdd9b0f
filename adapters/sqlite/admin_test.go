package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/acme/notifier/adapters/sqlite"
	"github.com/acme/notifier/adapters/storetest"
)

func TestAdminStoreContract(t *testing.T) {
	sqlite.SetIdempotencyPurgeBatch(t, storetest.PurgeBatch)
	storetest.RunAdmin(t, func(t *testing.T) storetest.AdminStores {
		s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "notifier.db"))
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}
