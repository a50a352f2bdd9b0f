package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/notifier/app"
	"github.com/acme/notifier/domain"
)

// MetricsStore is a store that also answers the counts the metrics scrape.
type MetricsStore interface {
	app.Store
	CountMessagesByStatusRule(ctx context.Context) ([]app.MessageTally, error)
}

// RunMetrics runs the contract of the metrics' counts; open gives each test
// an empty, migrated store of its own.
func RunMetrics(t *testing.T, open func(t *testing.T) MetricsStore) {
	t.Run("CountMessagesByStatusRule", func(t *testing.T) {
		t.Parallel()
		testCountMessagesByStatusRule(t, open(t))
	})
}

func testCountMessagesByStatusRule(t *testing.T, s MetricsStore) {
	ctx := t.Context()
	got, err := s.CountMessagesByStatusRule(ctx)
	require.NoError(t, err)
	assert.Empty(t, got, "no rows, no counts")

	a, b := seed(t, s, 1), seed(t, s, 2)
	at := time.Date(2026, time.December, 3, 10, 0, 0, 0, time.UTC)
	with := func(f fixture, rule string, st domain.Status, days int) {
		m := insertOne(t, s, f.message(rule, at.AddDate(0, 0, -days)))
		if st == domain.StatusPending {
			return
		}
		_, err := s.UpdateMessage(ctx, m.ID, func(m *domain.MessageLog) error {
			m.Status = st
			return nil
		})
		require.NoError(t, err)
	}
	with(a, "welcome", domain.StatusPending, 0)
	with(b, "welcome", domain.StatusSent, 400) // every row counts, however old
	with(a, "progress", domain.StatusSent, 0)
	with(b, "progress", domain.StatusSent, 1)
	with(a, "progress", domain.StatusFailed, 2)

	got, err = s.CountMessagesByStatusRule(ctx)
	require.NoError(t, err)
	assert.ElementsMatch(t, []app.MessageTally{
		{Status: domain.StatusPending, Rule: "welcome", Count: 1},
		{Status: domain.StatusSent, Rule: "welcome", Count: 1},
		{Status: domain.StatusSent, Rule: "progress", Count: 2},
		{Status: domain.StatusFailed, Rule: "progress", Count: 1},
	}, got)
}
