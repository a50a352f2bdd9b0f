package migrations_test

import (
	"io/fs"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/notifier/migrations"
)

var migrationName = regexp.MustCompile(`^(\d{5})_[a-z0-9_]+\.sql$`)

// Both engines must stay at the same versions: a store at version N holds
// the same tables whatever the engine.
func TestEnginesShareVersions(t *testing.T) {
	pg := versions(t, migrations.Postgres())
	lite := versions(t, migrations.SQLite())
	require.NotEmpty(t, pg)
	assert.Equal(t, pg, lite)
}

func TestMigrationsAreReversible(t *testing.T) {
	for name, fsys := range map[string]fs.FS{"postgres": migrations.Postgres(), "sqlite": migrations.SQLite()} {
		entries, err := fs.ReadDir(fsys, ".")
		require.NoError(t, err, name)
		for _, e := range entries {
			body, err := fs.ReadFile(fsys, e.Name())
			require.NoError(t, err)
			up := strings.Index(string(body), "-- +goose Up")
			down := strings.Index(string(body), "-- +goose Down")
			assert.GreaterOrEqual(t, up, 0, "%s/%s has no Up section", name, e.Name())
			assert.Greater(t, down, up, "%s/%s needs a Down section after Up", name, e.Name())
		}
	}
}

func versions(t *testing.T, fsys fs.FS) []string {
	t.Helper()
	entries, err := fs.ReadDir(fsys, ".")
	require.NoError(t, err)
	var vs []string
	for _, e := range entries {
		m := migrationName.FindStringSubmatch(e.Name())
		require.NotNil(t, m, "migration file %q must be named NNNNN_name.sql", e.Name())
		vs = append(vs, m[1])
	}
	slices.Sort(vs)
	return vs
}
