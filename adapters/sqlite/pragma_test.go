package sqlite

import (
	"path/filepath"
	"testing"

	"github.com/pressly/goose/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/notifier/migrations"
)

func TestConnectionSettings(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "notifier.db"))
	require.NoError(t, err)
	defer s.Close()
	pragma := func(name string) string {
		var v string
		require.NoError(t, s.write.QueryRowContext(t.Context(), "PRAGMA "+name).Scan(&v), name)
		return v
	}
	assert.Equal(t, "wal", pragma("journal_mode"))
	assert.Equal(t, "1", pragma("foreign_keys"))
	assert.Equal(t, "1", pragma("synchronous"), "NORMAL")
	assert.Equal(t, "10000", pragma("busy_timeout"))
	assert.Equal(t, 1, s.write.Stats().MaxOpenConnections, "one writer")

	_, err = s.read.ExecContext(t.Context(), "DELETE FROM students")
	assert.Error(t, err, "the reader pool cannot write")
}

func TestMigrationsGoDownAndUp(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "notifier.db"))
	require.NoError(t, err)
	defer s.Close()
	p, err := goose.NewProvider(goose.DialectSQLite3, s.write, migrations.SQLite(), goose.WithDisableGlobalRegistry(true))
	require.NoError(t, err)
	_, err = p.DownTo(t.Context(), 0)
	require.NoError(t, err)
	v, err := p.GetDBVersion(t.Context())
	require.NoError(t, err)
	assert.Zero(t, v)
	require.NoError(t, s.migrate(t.Context()))
	require.NoError(t, s.Ping(t.Context()))
}
