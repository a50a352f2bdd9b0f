package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/notifier/app"
	"github.com/acme/notifier/domain"
)

// ScanStores is a store that keeps both the core data and the scans, as
// both adapters do.
type ScanStores interface {
	app.Store
	app.ScanStore
}

// RunScans runs the scan contract suite; open gives each test an empty,
// migrated store of its own.
func RunScans(t *testing.T, open func(t *testing.T) ScanStores) {
	tests := []struct {
		name string
		run  func(t *testing.T, s ScanStores)
	}{
		{"OneScheduledScanPerDate", testOneScheduledScanPerDate},
		{"ManualScansAlwaysStart", testManualScansAlwaysStart},
		{"ItemsCoverActiveEnrollmentsOfRunningCourses", testScanItemsSelection},
		{"ItemsFinishOnceAndCountsFollow", testScanItemsFinishOnce},
		{"CompleteScans", testCompleteScans},
		{"ListScansNewestFirst", testListScans},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, open(t))
		})
	}
}

var scanDate = domain.Date{Year: 2026, Month: time.December, Day: 3}

func testOneScheduledScanPerDate(t *testing.T, s ScanStores) {
	const replicas = 16
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		created int
		ids     = map[int64]bool{}
	)
	for range replicas {
		wg.Go(func() {
			sc, ok, err := s.CreateScan(t.Context(), app.ScanScheduled, scanDate, base)
			assert.NoError(t, err)
			mu.Lock()
			defer mu.Unlock()
			if ok {
				created++
			}
			ids[sc.ID] = true
		})
	}
	wg.Wait()
	assert.Equal(t, 1, created, "exactly one replica starts the scheduled scan of a date")
	assert.Len(t, ids, 1, "the others are given the same scan")

	next, ok, err := s.CreateScan(t.Context(), app.ScanScheduled, scanDate.AddDays(1), base)
	require.NoError(t, err)
	assert.True(t, ok, "the next date gets its own scheduled scan")
	assert.Equal(t, scanDate.AddDays(1), next.Date)
	assert.Equal(t, app.ScanRunning, next.Status)
	assert.Equal(t, stored(base), next.StartedAt)
}

func testManualScansAlwaysStart(t *testing.T, s ScanStores) {
	_, ok, err := s.CreateScan(t.Context(), app.ScanScheduled, scanDate, base)
	require.NoError(t, err)
	require.True(t, ok)
	for range 2 {
		sc, ok, err := s.CreateScan(t.Context(), app.ScanManual, scanDate, base)
		require.NoError(t, err)
		assert.True(t, ok, "a manual scan runs even when the date has one")
		assert.Equal(t, app.ScanManual, sc.Kind)
	}
}

func testScanItemsSelection(t *testing.T, s ScanStores) {
	ctx := t.Context()
	dayStart := scanDate.Start(time.UTC)
	mk := func(n int64, end time.Time, mutate func(*domain.Enrollment)) int64 {
		st := mustStudent(t, s, n)
		c := newCourse(100 + n)
		c.EndDate = end
		c, err := s.UpsertCourse(ctx, c)
		require.NoError(t, err)
		f := mustEnroll(t, s, st, c, domain.Progress{})
		if mutate != nil {
			_, err := s.UpdateEnrollment(ctx, f.Enrollment.ID, func(e *domain.Enrollment) error { mutate(e); return nil })
			require.NoError(t, err)
		}
		return f.Enrollment.ID
	}
	noEnd := mk(1, time.Time{}, nil)
	endsToday := mk(2, dayStart.Add(23*time.Hour), nil)
	endsAtMidnight := mk(3, dayStart, nil)
	mk(4, dayStart.Add(-time.Second), nil) // ended yesterday
	mk(5, time.Time{}, func(e *domain.Enrollment) { e.Deleted = true })
	mk(6, time.Time{}, func(e *domain.Enrollment) { e.Status = domain.EnrolmentSuspended })

	sc, _, err := s.CreateScan(ctx, app.ScanManual, scanDate, base)
	require.NoError(t, err)
	undispatched, err := s.UndispatchedScans(ctx)
	require.NoError(t, err)
	require.Len(t, undispatched, 1)
	assert.Equal(t, sc.ID, undispatched[0].ID)

	n, claimed, err := s.AddScanItems(ctx, sc.ID, dayStart)
	require.NoError(t, err)
	assert.True(t, claimed)
	assert.Equal(t, 3, n)
	_, claimed, err = s.AddScanItems(ctx, sc.ID, dayStart)
	require.NoError(t, err)
	assert.False(t, claimed, "a scan is dispatched once")
	undispatched, err = s.UndispatchedScans(ctx)
	require.NoError(t, err)
	assert.Empty(t, undispatched)

	ids, err := s.PendingScanItems(ctx, sc.ID, 0, 10)
	require.NoError(t, err)
	assert.Equal(t, []int64{noEnd, endsToday, endsAtMidnight}, ids)

	page, err := s.PendingScanItems(ctx, sc.ID, ids[0], 1)
	require.NoError(t, err)
	assert.Equal(t, []int64{endsToday}, page, "pages continue after the given id")

	got, err := s.GetScan(ctx, sc.ID)
	require.NoError(t, err)
	assert.Equal(t, app.ScanCounts{Dispatched: 3}, got.Counts)
}

func testScanItemsFinishOnce(t *testing.T, s ScanStores) {
	ctx := t.Context()
	var ids []int64
	for n := int64(1); n <= 4; n++ {
		ids = append(ids, seed(t, s, n).Enrollment.ID)
	}
	sc, _, err := s.CreateScan(ctx, app.ScanManual, scanDate, base)
	require.NoError(t, err)
	_, _, err = s.AddScanItems(ctx, sc.ID, scanDate.Start(time.UTC))
	require.NoError(t, err)

	ok, err := s.FinishScanItem(ctx, sc.ID, ids[0], app.ScanItemDone, 2)
	require.NoError(t, err)
	assert.True(t, ok)
	ok, err = s.FinishScanItem(ctx, sc.ID, ids[0], app.ScanItemDone, 2)
	require.NoError(t, err)
	assert.False(t, ok, "a redelivered item finishes once")
	ok, err = s.FinishScanItem(ctx, sc.ID, ids[1], app.ScanItemFailed, 0)
	require.NoError(t, err)
	assert.True(t, ok)
	ok, err = s.FinishScanItem(ctx, sc.ID, 999999, app.ScanItemDone, 1)
	require.NoError(t, err)
	assert.False(t, ok, "an item the scan does not cover")

	got, err := s.GetScan(ctx, sc.ID)
	require.NoError(t, err)
	assert.Equal(t, app.ScanCounts{Dispatched: 4, Evaluated: 1, Messages: 2, Failed: 1}, got.Counts)
	pending, err := s.PendingScanItems(ctx, sc.ID, 0, 10)
	require.NoError(t, err)
	assert.Equal(t, ids[2:], pending)

	_, err = s.GetScan(ctx, 424242)
	assert.ErrorIs(t, err, app.ErrNotFound)

	// Several at once, finished ones and unknown ones among them.
	require.NoError(t, s.FinishScanItems(ctx, nil))
	require.NoError(t, s.FinishScanItems(ctx, []app.ScanItemResult{
		{ScanID: sc.ID, EnrollmentID: ids[2], State: app.ScanItemDone, Messages: 3},
		{ScanID: sc.ID, EnrollmentID: ids[0], State: app.ScanItemFailed}, // finished already
		{ScanID: sc.ID, EnrollmentID: 999999, State: app.ScanItemDone, Messages: 1},
		{ScanID: sc.ID, EnrollmentID: ids[3], State: app.ScanItemFailed},
	}))
	got, err = s.GetScan(ctx, sc.ID)
	require.NoError(t, err)
	assert.Equal(t, app.ScanCounts{Dispatched: 4, Evaluated: 2, Messages: 5, Failed: 2}, got.Counts)
	pending, err = s.PendingScanItems(ctx, sc.ID, 0, 10)
	require.NoError(t, err)
	assert.Empty(t, pending)
}

func testCompleteScans(t *testing.T, s ScanStores) {
	ctx := t.Context()
	a, b := seed(t, s, 1).Enrollment.ID, seed(t, s, 2).Enrollment.ID
	busy, _, err := s.CreateScan(ctx, app.ScanManual, scanDate, base)
	require.NoError(t, err)
	_, _, err = s.AddScanItems(ctx, busy.ID, scanDate.Start(time.UTC))
	require.NoError(t, err)
	undispatched, _, err := s.CreateScan(ctx, app.ScanManual, scanDate, base)
	require.NoError(t, err)
	empty, _, err := s.CreateScan(ctx, app.ScanScheduled, scanDate, base)
	require.NoError(t, err)
	_, _, err = s.AddScanItems(ctx, empty.ID, time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)) // every course ended
	require.NoError(t, err)

	done, err := s.CompleteScans(ctx, base.Add(time.Minute))
	require.NoError(t, err)
	require.Len(t, done, 1, "only the scan with nothing to do is complete")
	assert.Equal(t, empty.ID, done[0].ID)
	assert.Equal(t, app.ScanDone, done[0].Status)

	_, err = s.FinishScanItem(ctx, busy.ID, a, app.ScanItemDone, 1)
	require.NoError(t, err)
	done, err = s.CompleteScans(ctx, base.Add(2*time.Minute))
	require.NoError(t, err)
	assert.Empty(t, done, "one item is still pending")

	_, err = s.FinishScanItem(ctx, busy.ID, b, app.ScanItemFailed, 0)
	require.NoError(t, err)
	done, err = s.CompleteScans(ctx, base.Add(3*time.Minute))
	require.NoError(t, err)
	require.Len(t, done, 1)
	assert.Equal(t, busy.ID, done[0].ID)
	assert.Equal(t, app.ScanCounts{Dispatched: 2, Evaluated: 1, Messages: 1, Failed: 1}, done[0].Counts)
	assert.Equal(t, stored(base.Add(3*time.Minute)), done[0].FinishedAt)

	got, err := s.GetScan(ctx, busy.ID)
	require.NoError(t, err)
	assert.Equal(t, done[0], got, "a finished scan keeps its final counts")

	running, err := s.RunningScans(ctx)
	require.NoError(t, err)
	require.Len(t, running, 1)
	assert.Equal(t, undispatched.ID, running[0].ID, "a scan whose items were never recorded stays running")
}

func testListScans(t *testing.T, s ScanStores) {
	ctx := t.Context()
	var ids []int64
	for i := range 3 {
		sc, _, err := s.CreateScan(ctx, app.ScanManual, scanDate.AddDays(i), base)
		require.NoError(t, err)
		ids = append(ids, sc.ID)
	}
	all, err := s.ListScans(ctx, 0, 10)
	require.NoError(t, err)
	require.Len(t, all, 3)
	assert.Equal(t, ids[2], all[0].ID)
	page, err := s.ListScans(ctx, ids[2], 1)
	require.NoError(t, err)
	require.Len(t, page, 1)
	assert.Equal(t, ids[1], page[0].ID)
	assert.Equal(t, scanDate.AddDays(1), page[0].Date)
}
