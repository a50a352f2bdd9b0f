package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/acme/notifier/adapters/sqlite"
	"github.com/acme/notifier/adapters/storetest"
	"github.com/acme/notifier/app"
)

func TestInboundStoreContract(t *testing.T) {
	storetest.RunInbound(t, func(t *testing.T) app.InboundStore {
		s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "notifier.db"))
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}
