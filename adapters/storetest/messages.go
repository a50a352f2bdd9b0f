package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/notifier/app"
	"github.com/acme/notifier/domain"
)

var messageTests = []contractTest{
	{"UpdateMessage/RoundTripsEveryField", testUpdateMessageRoundTrip},
	{"UpdateMessage/ClosureErrorSavesNothing", testUpdateMessageError},
	{"UpdateMessage/ProviderMessageIDsAreUnique", testProviderMessageIDUnique},
	{"ListMessages/Filters", testListFilters},
	{"ListMessages/KeysetPagination", testListPagination},
	{"DueMessages", testDueMessages},
	{"StaleClaims", testStaleClaims},
	{"Ping", testPing},
}

func testUpdateMessageRoundTrip(t *testing.T, s app.Store) {
	ctx := t.Context()
	f := seed(t, s, 1)
	g := seed(t, s, 2)
	row := insertOne(t, s, f.message("welcome", base))

	// Every field but the id changes, times with nanoseconds and in another
	// zone, JSON with its own spacing.
	at := func(d time.Duration) time.Time { return base.Add(d).In(madrid) }
	full := domain.MessageLog{
		ID: row.ID, Rule: "progress", Template: "progress_v2", Language: "pt_BR",
		Params: []string{"Ana", "Prevención \"1\"", "50"}, Status: domain.StatusRead, DryRun: true,
		StudentID: g.Student.ID, MoodleUserID: 4242, CourseID: g.Course.ID, MoodleCourseID: 4343,
		EnrollmentID: g.Enrollment.ID, OnceKey: "progress", To: "+34600111222",
		ProviderMessageID: "wamid.HBgLMzQ2MDAxMTEyMjIVAgARGBI", ErrorCode: "131047", ErrorMessage: "Re-engagement message",
		Trigger:  domain.Trigger{Kind: domain.TriggerManual, Ref: "admin:7"},
		Request:  json.RawMessage(`{"messaging_product": "whatsapp",  "to":"34600111222", "n": 1.50}`),
		Response: json.RawMessage(`{"messages":[{"id":"wamid.HBgL"}]}`),
		Attempts: 3, ClaimedAt: at(1), NextAttemptAt: at(time.Minute + 999),
		CreatedAt: at(-time.Hour), SentAt: at(time.Second + 1), DeliveredAt: at(2*time.Second + 1001),
		ReadAt: at(3 * time.Second), FailedAt: at(4*time.Second + 999999),
	}
	got, err := s.UpdateMessage(ctx, row.ID, func(m *domain.MessageLog) error {
		*m = full
		m.ID = 0 // the id is not a field the closure can change
		return nil
	})
	require.NoError(t, err)
	want := storedMessage(full, row.ID)
	assert.Equal(t, want, got)
	fetched, err := s.GetMessage(ctx, row.ID)
	require.NoError(t, err)
	assert.Equal(t, want, fetched)

	// And back to "none": zero values are NULL and read back as zero.
	bare := domain.MessageLog{
		ID: row.ID, Rule: "welcome", Template: "welcome", Status: domain.StatusPending,
		StudentID: f.Student.ID, CourseID: f.Course.ID, EnrollmentID: f.Enrollment.ID,
		Trigger: domain.Trigger{Kind: domain.TriggerScan}, CreatedAt: base,
	}
	got, err = s.UpdateMessage(ctx, row.ID, func(m *domain.MessageLog) error {
		*m = bare
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, storedMessage(bare, row.ID), got)
	fetched, err = s.GetMessage(ctx, row.ID)
	require.NoError(t, err)
	assert.Equal(t, storedMessage(bare, row.ID), fetched)

	// A JSON null is a value, not a missing one.
	got, err = s.UpdateMessage(ctx, row.ID, func(m *domain.MessageLog) error {
		m.Response = json.RawMessage(`null`)
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, json.RawMessage(`null`), got.Response)
}

func testUpdateMessageError(t *testing.T, s app.Store) {
	ctx := t.Context()
	f := seed(t, s, 1)
	row := insertOne(t, s, f.message("welcome", base))
	_, err := s.UpdateMessage(ctx, row.ID, func(m *domain.MessageLog) error {
		m.Status = domain.StatusSent
		return domain.ErrNotClaimable
	})
	require.ErrorIs(t, err, domain.ErrNotClaimable, "the closure's error comes back")
	got, err := s.GetMessage(ctx, row.ID)
	require.NoError(t, err)
	assert.Equal(t, row, got)
}

func testProviderMessageIDUnique(t *testing.T, s app.Store) {
	ctx := t.Context()
	f := seed(t, s, 1)
	a := insertOne(t, s, f.message("progress", base))
	b := insertOne(t, s, f.message("progress", base))
	setID := func(id string) func(*domain.MessageLog) error {
		return func(m *domain.MessageLog) error { m.ProviderMessageID = id; return nil }
	}
	_, err := s.UpdateMessage(ctx, a.ID, setID("wamid.1"))
	require.NoError(t, err)
	_, err = s.UpdateMessage(ctx, b.ID, setID("wamid.1"))
	assert.Error(t, err, "two rows cannot hold one WhatsApp message id")
	_, err = s.UpdateMessage(ctx, b.ID, setID(""))
	assert.NoError(t, err, "rows without one are many")
}

// listFixture writes five rows across two students and two courses, an hour
// apart, and returns them oldest first.
func listFixture(t *testing.T, s app.Store) (rows []domain.MessageLog, s1c1, s2c1, s1c2 fixture) {
	s1c1 = seed(t, s, 1)
	s1c2 = mustEnroll(t, s, s1c1.Student, mustCourse(t, s, 102), domain.Progress{})
	s2c1 = mustEnroll(t, s, mustStudent(t, s, 2), s1c1.Course, domain.Progress{})
	withStatus := func(m domain.MessageLog, st domain.Status) domain.MessageLog {
		m.Status = st
		return m
	}
	rows = insert(t, s,
		s1c1.message("welcome", base),
		withStatus(s1c1.message("progress", base.Add(time.Hour)), domain.StatusSent),
		withStatus(s1c2.message("welcome", base.Add(2*time.Hour)), domain.StatusFailed),
		withStatus(s2c1.message("welcome", base.Add(3*time.Hour)), domain.StatusRead),
		withStatus(s2c1.message("progress", base.Add(4*time.Hour)), domain.StatusSent),
	)
	require.Len(t, rows, 5)
	return rows, s1c1, s2c1, s1c2
}

func testListFilters(t *testing.T, s app.Store) {
	r, s1c1, s2c1, s1c2 := listFixture(t, s)
	s1, c1, s2, c2 := s1c1.Student, s1c1.Course, s2c1.Student, s1c2.Course
	id := func(i ...int) []int64 {
		out := make([]int64, len(i))
		for k, n := range i {
			out[k] = r[n].ID
		}
		return out
	}
	cases := []struct {
		name   string
		filter app.MessageFilter
		want   []int64
	}{
		{"none", app.MessageFilter{}, id(4, 3, 2, 1, 0)},
		{"status", app.MessageFilter{Status: domain.StatusSent}, id(4, 1)},
		{"rule", app.MessageFilter{Rule: "welcome"}, id(3, 2, 0)},
		{"student", app.MessageFilter{StudentID: s1.ID}, id(2, 1, 0)},
		{"course", app.MessageFilter{CourseID: c1.ID}, id(4, 3, 1, 0)},
		{"moodle user", app.MessageFilter{MoodleUserID: s2.MoodleUserID}, id(4, 3)},
		{"moodle course", app.MessageFilter{MoodleCourseID: c2.MoodleCourseID}, id(2)},
		{"since is inclusive", app.MessageFilter{Since: base.Add(time.Hour)}, id(4, 3, 2, 1)},
		{"until is exclusive", app.MessageFilter{Until: base.Add(2 * time.Hour)}, id(1, 0)},
		{"since and until", app.MessageFilter{Since: base.Add(time.Hour).In(madrid), Until: base.Add(3 * time.Hour)}, id(2, 1)},
		{"all at once", app.MessageFilter{Rule: "progress", StudentID: s2.ID, CourseID: c1.ID,
			Status: domain.StatusSent, MoodleCourseID: c1.MoodleCourseID}, id(4)},
		{"before id", app.MessageFilter{BeforeID: r[3].ID}, id(2, 1, 0)},
		{"limit", app.MessageFilter{Limit: 2}, id(4, 3)},
		{"nothing matches", app.MessageFilter{Rule: "review"}, nil},
	}
	for _, tc := range cases {
		got, err := s.ListMessages(t.Context(), tc.filter)
		require.NoError(t, err, tc.name)
		if tc.want == nil {
			assert.Empty(t, got, tc.name)
			continue
		}
		assert.Equal(t, tc.want, ids(got), tc.name)
	}
	// Rows come whole.
	got, err := s.ListMessages(t.Context(), app.MessageFilter{Limit: 1})
	require.NoError(t, err)
	want, err := s.GetMessage(t.Context(), r[4].ID)
	require.NoError(t, err)
	assert.Equal(t, []domain.MessageLog{want}, got)
}

func testListPagination(t *testing.T, s app.Store) {
	ctx := t.Context()
	f := seed(t, s, 1)
	var all []int64
	for i := range 7 {
		all = append(all, insertOne(t, s, f.message("progress", base.Add(time.Duration(i)*time.Minute))).ID)
	}
	var pages [][]int64
	filter := app.MessageFilter{Limit: 3}
	for {
		page, err := s.ListMessages(ctx, filter)
		require.NoError(t, err)
		if len(page) == 0 {
			break
		}
		pages = append(pages, ids(page))
		filter.BeforeID = page[len(page)-1].ID
		if len(pages) == 1 {
			// A row written while the client pages does not shift later pages.
			insertOne(t, s, f.message("progress", base.Add(time.Hour)))
		}
		require.Less(t, len(pages), 10, "pagination does not end")
	}
	want := [][]int64{{all[6], all[5], all[4]}, {all[3], all[2], all[1]}, {all[0]}}
	assert.Equal(t, want, pages, "newest first, every row once")
}

func testDueMessages(t *testing.T, s app.Store) {
	ctx := t.Context()
	f := seed(t, s, 1)
	now := time.Date(2026, time.December, 3, 12, 0, 0, 0, time.UTC)
	row := func(mod func(*domain.MessageLog)) int64 {
		m := f.message("progress", base)
		mod(&m)
		return insertOne(t, s, m).ID
	}
	never := row(func(*domain.MessageLog) {})
	past := row(func(m *domain.MessageLog) { m.NextAttemptAt = now.Add(-time.Second) })
	exactly := row(func(m *domain.MessageLog) { m.NextAttemptAt = now.In(madrid) })
	row(func(m *domain.MessageLog) { m.NextAttemptAt = now.Add(time.Microsecond) })
	row(func(m *domain.MessageLog) { m.ClaimedAt = now.Add(-time.Hour); m.Attempts = 1 })
	row(func(m *domain.MessageLog) { m.Status = domain.StatusSent })
	row(func(m *domain.MessageLog) { m.Status = domain.StatusFailed })

	due, err := s.DueMessages(ctx, now, 10)
	require.NoError(t, err)
	assert.Equal(t, []int64{never, past, exactly}, due, "PENDING, unclaimed and due, oldest first")

	due, err = s.DueMessages(ctx, now, 2)
	require.NoError(t, err)
	assert.Equal(t, []int64{never, past}, due)

	due, err = s.DueMessages(ctx, now.Add(-time.Hour), 10)
	require.NoError(t, err)
	assert.Equal(t, []int64{never}, due)
}

func testStaleClaims(t *testing.T, s app.Store) {
	ctx := t.Context()
	f := seed(t, s, 1)
	now := time.Date(2026, time.December, 3, 12, 0, 0, 0, time.UTC)
	claimed := func(ago time.Duration, status domain.Status) int64 {
		m := f.message("progress", base)
		m.Status, m.Attempts = status, 1
		if ago > 0 {
			m.ClaimedAt = now.Add(-ago)
		}
		return insertOne(t, s, m).ID
	}
	fiveAgo := claimed(5*time.Minute, domain.StatusPending)
	tenAgo := claimed(10*time.Minute, domain.StatusPending)
	claimed(time.Minute, domain.StatusPending)
	claimed(2*time.Minute, domain.StatusPending) // exactly at the cut: not before it
	claimed(0, domain.StatusPending)
	claimed(time.Hour, domain.StatusSent)
	claimed(time.Hour, domain.StatusFailed)

	stale, err := s.StaleClaims(ctx, now.Add(-2*time.Minute), 10)
	require.NoError(t, err)
	assert.Equal(t, []int64{tenAgo, fiveAgo}, stale, "longest held first")

	stale, err = s.StaleClaims(ctx, now.Add(-2*time.Minute), 1)
	require.NoError(t, err)
	assert.Equal(t, []int64{tenAgo}, stale)
}

func testPing(t *testing.T, s app.Store) {
	assert.NoError(t, s.Ping(t.Context()))
}
