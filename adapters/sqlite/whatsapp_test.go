package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/acme/notifier/adapters/sqlite"
	"github.com/acme/notifier/adapters/storetest"
)

func TestWhatsAppStoreContract(t *testing.T) {
	storetest.RunWhatsApp(t, func(t *testing.T) storetest.WhatsAppStore {
		s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "notifier.db"))
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}
