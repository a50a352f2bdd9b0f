package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/notifier/app"
	"github.com/acme/notifier/domain"
)

// AdminStores is a store that keeps the core data and the admin API's
// tables, as both adapters do.
type AdminStores interface {
	app.Store
	app.AdminStore
}

// PurgeBatch is the number of records one statement of
// PurgeIdempotencyKeys deletes that the adapters' tests set before RunAdmin
// (production deletes 10,000 at a time): the contract then purges several
// batches from a few hundred records.
const PurgeBatch = 100

// RunAdmin runs the contract of app.AdminStore; open gives each test an
// empty, migrated store of its own. The tests run in parallel. The caller
// sets the store's purge batch to PurgeBatch first.
func RunAdmin(t *testing.T, open func(t *testing.T) AdminStores) {
	tests := []struct {
		name string
		run  func(t *testing.T, s AdminStores)
	}{
		{"ListStudents/NewestFirstInKeysetPages", testListStudentsPages},
		{"ListStudents/PagesUnderConcurrentInserts", testListStudentsConcurrent},
		{"ListCourses/NewestFirstAndFindByMoodleID", testListCourses},
		{"ListCourses/PagesUnderConcurrentInserts", testListCoursesConcurrent},
		{"ListEnrollments/FiltersAndMoodleIDs", testListEnrollmentsFilters},
		{"ListEnrollments/PagesUnderConcurrentInserts", testListEnrollmentsConcurrent},
		{"GetEnrollmentRecord", testGetEnrollmentRecord},
		{"CountMessages/ByStatusRuleAndQuarterHour", testCountMessages},
		{"IdempotencyKeys/FirstRecordWins", testIdempotencyKeys},
		{"IdempotencyKeys/ConcurrentSavesAgree", testIdempotencyConcurrent},
		{"IdempotencyKeys/PurgeBeforeTheInstant", testIdempotencyPurge},
		{"IdempotencyKeys/PurgeInBatches", testIdempotencyPurgeBatches},
		{"Syncs/Lifecycle", testSyncLifecycle},
		{"Syncs/FailAbandoned", testSyncAbandoned},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, open(t))
		})
	}
}

// pageAll reads every page of a list newest first, limit rows at a time,
// and returns the ids in the order read. list returns the ids of one page.
func pageAll(t *testing.T, limit int, list func(app.PageQuery) []int64) []int64 {
	t.Helper()
	var all []int64
	before := int64(0)
	for range 10_000 {
		page := list(app.PageQuery{BeforeID: before, Limit: limit})
		require.LessOrEqual(t, len(page), limit)
		for i := 1; i < len(page); i++ {
			require.Greater(t, page[i-1], page[i], "newest (highest id) first")
		}
		all = append(all, page...)
		if len(page) < limit {
			return all
		}
		before = page[len(page)-1]
	}
	t.Fatal("pages never ended")
	return nil
}

func studentIDs(t *testing.T, s AdminStores) func(app.PageQuery) []int64 {
	return func(q app.PageQuery) []int64 {
		rows, err := s.ListStudents(t.Context(), q)
		require.NoError(t, err)
		out := make([]int64, len(rows))
		for i, r := range rows {
			out[i] = r.ID
		}
		return out
	}
}

func testListStudentsPages(t *testing.T, s AdminStores) {
	ctx := t.Context()
	var want []int64
	for n := int64(1); n <= 7; n++ {
		want = append([]int64{mustStudent(t, s, n).ID}, want...)
	}
	assert.Equal(t, want, pageAll(t, 3, studentIDs(t, s)))
	assert.Equal(t, want, pageAll(t, 7, studentIDs(t, s)), "a full last page is followed by an empty one")

	rows, err := s.ListStudents(ctx, app.PageQuery{Limit: 2})
	require.NoError(t, err)
	require.Len(t, rows, 2)
	got, err := s.GetStudent(ctx, want[0])
	require.NoError(t, err)
	assert.Equal(t, got, rows[0], "rows come whole")

	rows, err = s.ListStudents(ctx, app.PageQuery{})
	require.NoError(t, err)
	assert.Len(t, rows, 7, "no limit is the default page")
	rows, err = s.ListStudents(ctx, app.PageQuery{BeforeID: want[6], Limit: 10})
	require.NoError(t, err)
	assert.Empty(t, rows)
}

// concurrentInserts runs insert in a loop until the returned stop is
// called, and returns how many rows it inserted; count tells how many so far.
func concurrentInserts(t *testing.T, insert func(n int64)) (count func() int64, stop func() int64) {
	var (
		n    atomic.Int64
		done = make(chan struct{})
		wg   sync.WaitGroup
	)
	for w := range 2 {
		wg.Go(func() {
			for i := int64(0); ; i++ {
				select {
				case <-done:
					return
				default:
				}
				insert(1_000_000*int64(w+1) + i)
				n.Add(1)
			}
		})
	}
	return n.Load, sync.OnceValue(func() int64 {
		close(done)
		wg.Wait()
		return n.Load()
	})
}

// checkPagesUnderInserts pages through a list while rows are inserted:
// every row that existed before is read exactly once, and no row twice.
func checkPagesUnderInserts(t *testing.T, existing []int64, insert func(n int64), list func(app.PageQuery) []int64) {
	t.Helper()
	count, stop := concurrentInserts(t, insert)
	defer stop()
	// Each page waits for an insert to land after it was read, so every
	// pass pages through a list that grows under it, however fast the reads.
	interleaved := func(q app.PageQuery) []int64 {
		before := count()
		ids := list(q)
		deadline := time.Now().Add(10 * time.Second)
		for count() == before && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		return ids
	}
	var read []int64
	for round := range 3 {
		read = pageAll(t, 7, interleaved)
		seen := map[int64]int{}
		for _, id := range read {
			seen[id]++
			require.Equal(t, 1, seen[id], "pass %d: row %d read twice", round, id)
		}
		for _, id := range existing {
			require.Equal(t, 1, seen[id], "pass %d: row %d skipped", round, id)
		}
	}
	inserted := stop()
	assert.Positive(t, inserted, "rows were inserted while the pages were read")
	t.Logf("%d rows read in the last pass, %d inserted meanwhile", len(read), inserted)
}

func testListStudentsConcurrent(t *testing.T, s AdminStores) {
	var existing []int64
	for n := int64(1); n <= 60; n++ {
		existing = append(existing, mustStudent(t, s, n).ID)
	}
	checkPagesUnderInserts(t, existing, func(n int64) {
		_, err := s.UpsertStudent(t.Context(), newStudent(n))
		assert.NoError(t, err)
	}, studentIDs(t, s))
}

func courseIDs(t *testing.T, s AdminStores) func(app.PageQuery) []int64 {
	return func(q app.PageQuery) []int64 {
		rows, err := s.ListCourses(t.Context(), q)
		require.NoError(t, err)
		out := make([]int64, len(rows))
		for i, r := range rows {
			out[i] = r.ID
		}
		return out
	}
}

func testListCourses(t *testing.T, s AdminStores) {
	ctx := t.Context()
	var want []int64
	for n := int64(1); n <= 5; n++ {
		want = append([]int64{mustCourse(t, s, n).ID}, want...)
	}
	assert.Equal(t, want, pageAll(t, 2, courseIDs(t, s)))

	c, err := s.FindCourseByMoodleID(ctx, 3)
	require.NoError(t, err)
	got, err := s.GetCourse(ctx, c.ID)
	require.NoError(t, err)
	assert.Equal(t, got, c)
	assert.Equal(t, newCourse(3).FullName, c.FullName)
	_, err = s.FindCourseByMoodleID(ctx, 999)
	assert.ErrorIs(t, err, app.ErrNotFound)
}

func testListCoursesConcurrent(t *testing.T, s AdminStores) {
	var existing []int64
	for n := int64(1); n <= 40; n++ {
		existing = append(existing, mustCourse(t, s, n).ID)
	}
	checkPagesUnderInserts(t, existing, func(n int64) {
		_, err := s.UpsertCourse(t.Context(), newCourse(n))
		assert.NoError(t, err)
	}, courseIDs(t, s))
}

func enrollmentIDs(t *testing.T, s AdminStores, f app.EnrollmentFilter) func(app.PageQuery) []int64 {
	return func(q app.PageQuery) []int64 {
		f.PageQuery = q
		rows, err := s.ListEnrollments(t.Context(), f)
		require.NoError(t, err)
		out := make([]int64, len(rows))
		for i, r := range rows {
			out[i] = r.ID
		}
		return out
	}
}

func testListEnrollmentsFilters(t *testing.T, s AdminStores) {
	ctx := t.Context()
	ana, bea := mustStudent(t, s, 1), mustStudent(t, s, 2)
	local, err := s.UpsertStudent(ctx, domain.Student{Username: "local", FirstName: "Sin", LastName: "Moodle"})
	require.NoError(t, err)
	prl, ing := mustCourse(t, s, 101), mustCourse(t, s, 102)
	a1 := mustEnroll(t, s, ana, prl, domain.NewProgress(4, 2)).Enrollment
	a2 := mustEnroll(t, s, ana, ing, domain.Progress{}).Enrollment
	b1 := mustEnroll(t, s, bea, prl, domain.NewProgress(4, 4)).Enrollment
	l1 := mustEnroll(t, s, local, ing, domain.Progress{}).Enrollment

	all := pageAll(t, 2, enrollmentIDs(t, s, app.EnrollmentFilter{}))
	assert.Equal(t, []int64{l1.ID, b1.ID, a2.ID, a1.ID}, all)
	assert.Equal(t, []int64{b1.ID, a1.ID}, pageAll(t, 1, enrollmentIDs(t, s, app.EnrollmentFilter{CourseID: prl.ID})))
	assert.Equal(t, []int64{a2.ID, a1.ID}, pageAll(t, 5, enrollmentIDs(t, s, app.EnrollmentFilter{StudentID: ana.ID})))
	assert.Equal(t, []int64{a2.ID}, pageAll(t, 5, enrollmentIDs(t, s, app.EnrollmentFilter{StudentID: ana.ID, CourseID: ing.ID})))
	assert.Empty(t, pageAll(t, 5, enrollmentIDs(t, s, app.EnrollmentFilter{StudentID: bea.ID, CourseID: ing.ID})))
	assert.Empty(t, pageAll(t, 5, enrollmentIDs(t, s, app.EnrollmentFilter{CourseID: 424242})))

	rows, err := s.ListEnrollments(ctx, app.EnrollmentFilter{StudentID: ana.ID})
	require.NoError(t, err)
	require.Len(t, rows, 2)
	assert.Equal(t, app.EnrollmentRecord{Enrollment: a1, MoodleUserID: ana.MoodleUserID, MoodleCourseID: prl.MoodleCourseID},
		rows[1], "the enrollment whole, with its progress and Moodle ids")
	assert.Equal(t, 50.0, *rows[1].Progress.Percent)
	assert.Nil(t, rows[0].Progress.Percent)

	rows, err = s.ListEnrollments(ctx, app.EnrollmentFilter{StudentID: local.ID})
	require.NoError(t, err)
	require.Len(t, rows, 1)
	assert.Zero(t, rows[0].MoodleUserID, "a student not linked to Moodle")
	assert.Equal(t, ing.MoodleCourseID, rows[0].MoodleCourseID)
}

func testListEnrollmentsConcurrent(t *testing.T, s AdminStores) {
	c := mustCourse(t, s, 500)
	other := mustCourse(t, s, 501)
	var existing []int64
	for n := int64(1); n <= 50; n++ {
		existing = append(existing, mustEnroll(t, s, mustStudent(t, s, n), c, domain.Progress{}).Enrollment.ID)
	}
	insert := func(n int64) {
		st, err := s.UpsertStudent(t.Context(), newStudent(n))
		if !assert.NoError(t, err) {
			return
		}
		for _, course := range []domain.Course{c, other} {
			_, err = s.UpsertEnrollment(t.Context(), domain.Enrollment{StudentID: st.ID, CourseID: course.ID,
				Roles: []string{"student"}})
			assert.NoError(t, err)
		}
	}
	checkPagesUnderInserts(t, existing, insert, enrollmentIDs(t, s, app.EnrollmentFilter{CourseID: c.ID}))
}

func testGetEnrollmentRecord(t *testing.T, s AdminStores) {
	ctx := t.Context()
	f := seed(t, s, 3)
	rec, err := s.GetEnrollmentRecord(ctx, f.Enrollment.ID)
	require.NoError(t, err)
	assert.Equal(t, app.EnrollmentRecord{Enrollment: f.Enrollment, MoodleUserID: 3, MoodleCourseID: 103}, rec)
	_, err = s.GetEnrollmentRecord(ctx, 424242)
	assert.ErrorIs(t, err, app.ErrNotFound)
}

func testCountMessages(t *testing.T, s AdminStores) {
	ctx := t.Context()
	day := time.Date(2026, time.December, 3, 0, 0, 0, 0, time.UTC)
	quarter := func(q int) time.Time { return day.Add(time.Duration(q) * app.StatsBucket) }
	a, b := seed(t, s, 1), seed(t, s, 2)
	progress := func(f fixture, at time.Time, st domain.Status) {
		m := insertOne(t, s, f.message("progress", at))
		if st != domain.StatusPending {
			_, err := s.UpdateMessage(ctx, m.ID, func(m *domain.MessageLog) error {
				m.Status = st
				return nil
			})
			require.NoError(t, err)
		}
	}
	insertOne(t, s, a.message("welcome", quarter(0))) // PENDING welcome, quarter 0
	insertOne(t, s, b.message("welcome", quarter(0).Add(14*time.Minute+59*time.Second)))
	progress(a, quarter(1), domain.StatusSent) // quarter 1
	progress(b, quarter(1).Add(time.Minute), domain.StatusSent)
	progress(a, quarter(1).Add(2*time.Minute), domain.StatusFailed)
	progress(a, quarter(4*24), domain.StatusRead)              // the next day
	progress(a, day.Add(-time.Microsecond), domain.StatusSent) // before the period

	counts, err := s.CountMessages(ctx, day, day.Add(48*time.Hour))
	require.NoError(t, err)
	assert.ElementsMatch(t, []app.MessageCount{
		{Status: domain.StatusPending, Rule: "welcome", Bucket: quarter(0), Count: 2},
		{Status: domain.StatusSent, Rule: "progress", Bucket: quarter(1), Count: 2},
		{Status: domain.StatusFailed, Rule: "progress", Bucket: quarter(1), Count: 1},
		{Status: domain.StatusRead, Rule: "progress", Bucket: quarter(4 * 24), Count: 1},
	}, counts)
	for _, c := range counts {
		assert.Equal(t, time.UTC, c.Bucket.Location())
	}

	counts, err = s.CountMessages(ctx, quarter(1), quarter(4*24))
	require.NoError(t, err)
	assert.ElementsMatch(t, []app.MessageCount{
		{Status: domain.StatusSent, Rule: "progress", Bucket: quarter(1), Count: 2},
		{Status: domain.StatusFailed, Rule: "progress", Bucket: quarter(1), Count: 1},
	}, counts, "since is included, until is not")

	counts, err = s.CountMessages(ctx, day.Add(72*time.Hour), day.Add(96*time.Hour))
	require.NoError(t, err)
	assert.Empty(t, counts)
}

func testIdempotencyKeys(t *testing.T, s AdminStores) {
	ctx := t.Context()
	_, err := s.GetIdempotencyKey(ctx, "k-1")
	assert.ErrorIs(t, err, app.ErrNotFound)

	first := app.IdempotencyRecord{Key: "k-1", RequestHash: "abc", Status: 201,
		Body: json.RawMessage(`{"id": 7,  "name":"Prevención"}`), CreatedAt: base.In(madrid)}
	got, err := s.SaveIdempotencyKey(ctx, first)
	require.NoError(t, err)
	want := first
	want.CreatedAt = stored(first.CreatedAt)
	assert.Equal(t, want, got, "the body is kept byte for byte")

	second := app.IdempotencyRecord{Key: "k-1", RequestHash: "def", Status: 200, Body: json.RawMessage(`{}`),
		CreatedAt: base.Add(time.Hour)}
	got, err = s.SaveIdempotencyKey(ctx, second)
	require.NoError(t, err)
	assert.Equal(t, want, got, "the first record of a key wins")
	got, err = s.GetIdempotencyKey(ctx, "k-1")
	require.NoError(t, err)
	assert.Equal(t, want, got)

	other := app.IdempotencyRecord{Key: "k-2", RequestHash: "abc", Status: 200, Body: json.RawMessage(`[]`),
		CreatedAt: base}
	got, err = s.SaveIdempotencyKey(ctx, other)
	require.NoError(t, err)
	assert.Equal(t, "k-2", got.Key)
}

func testIdempotencyConcurrent(t *testing.T, s AdminStores) {
	results := concurrently(16, func(i int) app.IdempotencyRecord {
		rec, err := s.SaveIdempotencyKey(t.Context(), app.IdempotencyRecord{Key: "same", RequestHash: "h",
			Status: 201, Body: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i)), CreatedAt: base})
		assert.NoError(t, err)
		return rec
	})
	for _, r := range results {
		assert.Equal(t, results[0], r, "every request is told the same first answer")
	}
}

// saveKey saves a record of key created at the instant.
func saveKey(t *testing.T, s AdminStores, key string, created time.Time) {
	t.Helper()
	_, err := s.SaveIdempotencyKey(t.Context(), app.IdempotencyRecord{Key: key, RequestHash: "h", Status: 201,
		Body: json.RawMessage(`{}`), CreatedAt: created})
	require.NoError(t, err)
}

// keptKeys tells which of the keys still have a record.
func keptKeys(t *testing.T, s AdminStores, keys ...string) []string {
	t.Helper()
	var kept []string
	for _, k := range keys {
		_, err := s.GetIdempotencyKey(t.Context(), k)
		if errors.Is(err, app.ErrNotFound) {
			continue
		}
		require.NoError(t, err)
		kept = append(kept, k)
	}
	return kept
}

func testIdempotencyPurge(t *testing.T, s AdminStores) {
	ctx := t.Context()
	n, err := s.PurgeIdempotencyKeys(ctx, base)
	require.NoError(t, err)
	assert.Zero(t, n, "nothing to purge")

	saveKey(t, s, "week-old", base.Add(-7*24*time.Hour))
	saveKey(t, s, "madrid", base.Add(-time.Hour).In(madrid))
	saveKey(t, s, "just-before", base.Add(-time.Microsecond))
	saveKey(t, s, "at", base) // base has nanoseconds: stored to the microsecond
	saveKey(t, s, "after", base.Add(time.Microsecond))
	saveKey(t, s, "hour-later", base.Add(time.Hour))
	all := []string{"week-old", "madrid", "just-before", "at", "after", "hour-later"}

	n, err = s.PurgeIdempotencyKeys(ctx, base.In(madrid))
	require.NoError(t, err)
	assert.Equal(t, 3, n, "the records created before the instant")
	assert.Equal(t, []string{"at", "after", "hour-later"}, keptKeys(t, s, all...),
		"a record created at the instant is kept")

	n, err = s.PurgeIdempotencyKeys(ctx, base)
	require.NoError(t, err)
	assert.Zero(t, n, "a second purge finds nothing")

	n, err = s.PurgeIdempotencyKeys(ctx, base.Add(time.Microsecond))
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.Equal(t, []string{"after", "hour-later"}, keptKeys(t, s, all...))

	// A purged key can be used again.
	saveKey(t, s, "week-old", base.Add(time.Hour))
	got, err := s.GetIdempotencyKey(ctx, "week-old")
	require.NoError(t, err)
	assert.Equal(t, stored(base.Add(time.Hour)), got.CreatedAt)
}

func testIdempotencyPurgeBatches(t *testing.T, s AdminStores) {
	ctx := t.Context()
	insertOld := func(prefix string, count int) {
		t.Helper()
		for i := range count {
			saveKey(t, s, fmt.Sprintf("%s-%d", prefix, i), base.Add(-time.Duration(i+1)*time.Second))
		}
	}
	saveKey(t, s, "new-1", base)
	saveKey(t, s, "new-2", base.Add(time.Hour))

	insertOld("a", 2*PurgeBatch+PurgeBatch/2)
	n, err := s.PurgeIdempotencyKeys(ctx, base)
	require.NoError(t, err)
	assert.Equal(t, 2*PurgeBatch+PurgeBatch/2, n, "every batch is counted")
	assert.Empty(t, keptKeys(t, s, "a-0", fmt.Sprintf("a-%d", PurgeBatch), fmt.Sprintf("a-%d", 2*PurgeBatch+PurgeBatch/2-1)))

	insertOld("b", 2*PurgeBatch)
	n, err = s.PurgeIdempotencyKeys(ctx, base)
	require.NoError(t, err)
	assert.Equal(t, 2*PurgeBatch, n, "a whole number of batches")

	n, err = s.PurgeIdempotencyKeys(ctx, base)
	require.NoError(t, err)
	assert.Zero(t, n)
	assert.Equal(t, []string{"new-1", "new-2"}, keptKeys(t, s, "new-1", "new-2"), "the newer records are kept")
}

func testSyncLifecycle(t *testing.T, s AdminStores) {
	ctx := t.Context()
	sc, err := s.CreateSync(ctx, []int64{7, 3}, base)
	require.NoError(t, err)
	assert.Positive(t, sc.ID)
	assert.Equal(t, app.Sync{ID: sc.ID, MoodleCourseIDs: []int64{7, 3}, Status: app.SyncRunning,
		StartedAt: stored(base), HeartbeatAt: stored(base)}, sc)

	all, err := s.CreateSync(ctx, nil, base)
	require.NoError(t, err)
	assert.Nil(t, all.MoodleCourseIDs, "no course named: every course")
	assert.Greater(t, all.ID, sc.ID)

	counts := app.SyncCounts{Courses: 1, Added: 5, Updated: 2, Skipped: 9, Failed: 1}
	ok, err := s.SaveSyncProgress(ctx, sc.ID, counts, base.Add(time.Minute))
	require.NoError(t, err)
	assert.True(t, ok)
	got, err := s.GetSync(ctx, sc.ID)
	require.NoError(t, err)
	assert.Equal(t, counts, got.Counts)
	assert.Equal(t, stored(base.Add(time.Minute)), got.HeartbeatAt)
	assert.Equal(t, app.SyncRunning, got.Status)
	assert.True(t, got.FinishedAt.IsZero())

	counts.Courses = 2
	ok, err = s.FinishSync(ctx, sc.ID, app.SyncFailed, counts, "course 3: not found in Moodle", base.Add(2*time.Minute))
	require.NoError(t, err)
	assert.True(t, ok)
	got, err = s.GetSync(ctx, sc.ID)
	require.NoError(t, err)
	assert.Equal(t, app.Sync{ID: sc.ID, MoodleCourseIDs: []int64{7, 3}, Status: app.SyncFailed, Counts: counts,
		Error: "course 3: not found in Moodle", StartedAt: stored(base), HeartbeatAt: stored(base.Add(2 * time.Minute)),
		FinishedAt: stored(base.Add(2 * time.Minute))}, got)

	ok, err = s.FinishSync(ctx, sc.ID, app.SyncDone, app.SyncCounts{}, "", base.Add(3*time.Minute))
	require.NoError(t, err)
	assert.False(t, ok, "a sync finishes once")
	ok, err = s.SaveSyncProgress(ctx, sc.ID, app.SyncCounts{}, base.Add(3*time.Minute))
	require.NoError(t, err)
	assert.False(t, ok, "a finished sync keeps its counts")
	got, err = s.GetSync(ctx, sc.ID)
	require.NoError(t, err)
	assert.Equal(t, counts, got.Counts)

	ok, err = s.FinishSync(ctx, all.ID, app.SyncDone, app.SyncCounts{Courses: 3}, "", base.Add(time.Minute))
	require.NoError(t, err)
	assert.True(t, ok)
	got, err = s.GetSync(ctx, all.ID)
	require.NoError(t, err)
	assert.Equal(t, app.SyncDone, got.Status)
	assert.Empty(t, got.Error)

	_, err = s.FinishSync(ctx, all.ID, app.SyncRunning, app.SyncCounts{}, "", base)
	assert.Error(t, err, "finishing means done or failed")
	_, err = s.GetSync(ctx, 424242)
	assert.ErrorIs(t, err, app.ErrNotFound)
}

func testSyncAbandoned(t *testing.T, s AdminStores) {
	ctx := t.Context()
	stale, err := s.CreateSync(ctx, nil, base)
	require.NoError(t, err)
	alive, err := s.CreateSync(ctx, nil, base)
	require.NoError(t, err)
	_, err = s.SaveSyncProgress(ctx, alive.ID, app.SyncCounts{Added: 1}, base.Add(20*time.Minute))
	require.NoError(t, err)
	done, err := s.CreateSync(ctx, nil, base)
	require.NoError(t, err)
	_, err = s.FinishSync(ctx, done.ID, app.SyncDone, app.SyncCounts{}, "", base.Add(time.Minute))
	require.NoError(t, err)

	n, err := s.FailAbandonedSyncs(ctx, base.Add(10*time.Minute), base.Add(21*time.Minute))
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	got, err := s.GetSync(ctx, stale.ID)
	require.NoError(t, err)
	assert.Equal(t, app.SyncFailed, got.Status)
	assert.Contains(t, got.Error, "abandoned")
	assert.Equal(t, stored(base.Add(21*time.Minute)), got.FinishedAt)
	got, err = s.GetSync(ctx, alive.ID)
	require.NoError(t, err)
	assert.Equal(t, app.SyncRunning, got.Status)
	got, err = s.GetSync(ctx, done.ID)
	require.NoError(t, err)
	assert.Equal(t, app.SyncDone, got.Status)
}
