package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/notifier/adapters/sqlite"
	"github.com/acme/notifier/adapters/storetest"
	"github.com/acme/notifier/app"
	"github.com/acme/notifier/domain"
)

func TestStoreContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) app.Store {
		s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "notifier.db"))
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		return s
	})
}

func TestOpenCreatesTheFolderAndReopens(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "b", "notifier.db")
	s, err := sqlite.Open(t.Context(), path)
	require.NoError(t, err)
	st, err := s.UpsertStudent(t.Context(), storeStudent())
	require.NoError(t, err)
	require.NoError(t, s.Close())

	// Opening again migrates nothing and finds the data.
	s, err = sqlite.Open(t.Context(), path)
	require.NoError(t, err)
	defer s.Close()
	got, err := s.GetStudent(t.Context(), st.ID)
	require.NoError(t, err)
	assert.Equal(t, st, got)
}

func TestOpenRefusesURIs(t *testing.T) {
	_, err := sqlite.Open(t.Context(), "file:notifier.db?mode=memory")
	assert.Error(t, err)
}

func storeStudent() domain.Student {
	return domain.Student{MoodleUserID: 1, Username: "ana", FirstName: "Ana", Phone: "+34600111222"}
}
