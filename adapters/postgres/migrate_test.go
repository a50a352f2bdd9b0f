package postgres

import (
	"testing"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/notifier/internal/testenv"
)

func TestMigrationsGoDownAndUp(t *testing.T) {
	url := testenv.PostgresURL(t)
	s, err := Open(t.Context(), url)
	require.NoError(t, err)
	defer s.Close()
	require.NoError(t, s.Migrate(t.Context()))

	db := stdlib.OpenDBFromPool(s.pool)
	defer db.Close()
	p, err := newMigrator(db)
	require.NoError(t, err)
	_, err = p.DownTo(t.Context(), 0)
	require.NoError(t, err)
	v, err := p.GetDBVersion(t.Context())
	require.NoError(t, err)
	assert.Zero(t, v)
	require.NoError(t, s.Migrate(t.Context()))
}
