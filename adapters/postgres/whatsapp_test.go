package postgres_test

import (
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/notifier/adapters/postgres"
	"github.com/acme/notifier/adapters/storetest"
	"github.com/acme/notifier/internal/testenv"
)

func TestWhatsAppStoreContract(t *testing.T) {
	storetest.RunWhatsApp(t, func(t *testing.T) storetest.WhatsAppStore { return openStore(t) })
}

// The suffix search (adapters/postgres/whatsapp.go) must be able to use
// its index, also from the generic plan of a prepared statement, which is
// what pgx's statement cache ends up running.
func TestStudentsByPhoneSuffixUsesItsIndex(t *testing.T) {
	url := testenv.PostgresURL(t)
	require.NoError(t, postgres.Migrate(t.Context(), url))
	conn, err := pgx.Connect(t.Context(), url)
	require.NoError(t, err)
	defer conn.Close(t.Context())
	_, err = conn.Exec(t.Context(), `SET enable_seqscan = off; SET plan_cache_mode = force_generic_plan`)
	require.NoError(t, err)
	_, err = conn.Exec(t.Context(), `PREPARE suffix(text, text) AS SELECT id FROM students
		WHERE phone <> '' AND reverse(regexp_replace(phone, '[^0-9]', '', 'g')) ~>=~ $1
		AND reverse(regexp_replace(phone, '[^0-9]', '', 'g')) ~<~ $2`)
	require.NoError(t, err)
	rows, err := conn.Query(t.Context(), `EXPLAIN EXECUTE suffix('222111', '222112')`)
	require.NoError(t, err)
	plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	assert.Contains(t, strings.Join(plan, "\n"), "students_phone_digits_rev_idx")
}
