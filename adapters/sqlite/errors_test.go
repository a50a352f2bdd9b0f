package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/notifier/app"
	"github.com/acme/notifier/domain"
)

func TestClassify(t *testing.T) {
	assert.ErrorIs(t, classify(sql.ErrNoRows), app.ErrNotFound)
	assert.ErrorIs(t, classify(context.DeadlineExceeded), app.ErrUnavailable)
	assert.ErrorIs(t, classify(context.DeadlineExceeded), context.DeadlineExceeded, "the cause stays visible")
	assert.NotErrorIs(t, classify(context.Canceled), app.ErrUnavailable)
	boom := errors.New("boom")
	assert.Equal(t, boom, classify(boom))
	assert.NoError(t, classify(nil))
}

// Another process holding the write lock beyond the caller's patience makes
// the store unavailable, not broken.
func TestLockedByAnotherProcessIsUnavailable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notifier.db")
	s, err := Open(t.Context(), path)
	require.NoError(t, err)
	defer s.Close()

	other, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	defer other.Close()
	conn, err := other.Conn(t.Context())
	require.NoError(t, err)
	defer conn.Close()
	_, err = conn.ExecContext(t.Context(), "BEGIN IMMEDIATE")
	require.NoError(t, err)
	defer conn.ExecContext(context.Background(), "ROLLBACK")

	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	_, err = s.UpsertStudent(ctx, domain.Student{MoodleUserID: 1})
	require.Error(t, err)
	assert.ErrorIs(t, err, app.ErrUnavailable)

	_, err = s.GetStudent(t.Context(), 1)
	assert.ErrorIs(t, err, app.ErrNotFound, "readers are not blocked by the writer")
}
