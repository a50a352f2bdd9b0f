package app_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/notifier/app"
	"github.com/acme/notifier/domain"
)

// stallScans holds running scans, each with its pending items and a count
// of finished ones.
type stallScans struct {
	app.ScanStore
	mu       sync.Mutex
	pending  map[int64][]int64 // by scan
	finished map[int64]int
}

func (s *stallScans) RunningScans(context.Context) ([]app.Scan, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []app.Scan
	for id := range s.pending {
		out = append(out, app.Scan{ID: id, Status: app.ScanRunning, Date: domain.Date{Year: 2026, Month: 3, Day: 10}})
	}
	return out, nil
}

func (s *stallScans) GetScan(_ context.Context, id int64) (app.Scan, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return app.Scan{ID: id, Status: app.ScanRunning, Date: domain.Date{Year: 2026, Month: 3, Day: 10},
		Counts: app.ScanCounts{Dispatched: len(s.pending[id]) + s.finished[id], Evaluated: s.finished[id]}}, nil
}

func (s *stallScans) PendingScanItems(_ context.Context, scanID, after int64, limit int) ([]int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []int64
	for _, id := range s.pending[scanID] {
		if id > after && len(out) < limit {
			out = append(out, id)
		}
	}
	return out, nil
}

func (s *stallScans) CompleteScans(context.Context, time.Time) ([]app.Scan, error) { return nil, nil }
func (s *stallScans) UndispatchedScans(context.Context) ([]app.Scan, error)        { return nil, nil }

// busLog records the ids of the messages published.
type busLog struct {
	mu  sync.Mutex
	ids []string
}

func (b *busLog) Publish(_ context.Context, _ string, msgs ...app.BusMessage) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, m := range msgs {
		b.ids = append(b.ids, m.ID)
	}
	return nil
}

func (b *busLog) take() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := b.ids
	b.ids = nil
	return out
}

// A running scan whose items stopped finishing (their messages were lost)
// gets its pending items published again once StallAfter has passed with
// no progress; a scan that moves is left alone.
func TestScanStalledItemsArePublishedAgain(t *testing.T) {
	now := time.Date(2026, 3, 10, 8, 0, 0, 0, time.UTC)
	scans := &stallScans{pending: map[int64][]int64{1: {11, 12}, 2: {21}}, finished: map[int64]int{1: 5, 2: 0}}
	bus := &busLog{}
	a, err := app.New(app.Settings{Rules: domain.DefaultRules(168 * time.Hour), Location: time.UTC, PhoneRegion: "ES"},
		app.Deps{Store: &scanStore{}, Sender: noSender{}, Now: func() time.Time { return now },
			Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	h, err := app.NewScanHandler(a, scans, bus, nil)
	require.NoError(t, err)
	tick := func(d time.Duration) []string {
		t.Helper()
		now = now.Add(d)
		require.NoError(t, h.Tick(t.Context(), false, 0, 0))
		return bus.take()
	}

	assert.Empty(t, tick(0), "first seen")
	assert.Empty(t, tick(app.StallAfter-30*time.Second), "not stalled yet")

	// Scan 2 moves just before the deadline; scan 1 does not.
	scans.mu.Lock()
	scans.finished[2] = 1
	scans.mu.Unlock()
	assert.Empty(t, tick(40*time.Second), "stalled, but the last look was 40 s ago: looked at once a minute")
	assert.Equal(t, []string{"scan-1-11", "scan-1-12"}, tick(20*time.Second), "scan 1 stalled: its pending items again")
	assert.Empty(t, tick(time.Minute), "the clock starts again after a republish")
	assert.ElementsMatch(t, []string{"scan-1-11", "scan-1-12", "scan-2-21"}, tick(app.StallAfter),
		"both stalled now (scan 2 since it last moved)")

	// A scan that is no longer running is forgotten.
	scans.mu.Lock()
	delete(scans.pending, 1)
	scans.mu.Unlock()
	assert.Equal(t, []string{"scan-2-21"}, tick(app.StallAfter))
}
