// Package migrations embeds the database schema: one goose SQL set per
// engine, with the same version numbers in both, so that a PostgreSQL and an
// embedded SQLite store at the same version hold the same tables.
package migrations

import (
	"embed"
	"fmt"
	"io/fs"
)

//go:embed postgres/*.sql sqlite/*.sql
var files embed.FS

// Postgres is the PostgreSQL migration set, files at its root as goose
// expects them.
func Postgres() fs.FS { return sub("postgres") }

// SQLite is the SQLite migration set.
func SQLite() fs.FS { return sub("sqlite") }

func sub(dir string) fs.FS {
	f, err := fs.Sub(files, dir)
	if err != nil {
		// fs.Sub fails only on an invalid path, and dir is a constant.
		panic(fmt.Sprintf("migrations: %s: %v", dir, err))
	}
	return f
}
