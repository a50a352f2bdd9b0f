package app_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/notifier/app"
	"github.com/acme/notifier/domain"
)

// adminFakeStore answers what the admin use cases under test reach; the
// rest panics (the embedded nil interfaces).
type adminFakeStore struct {
	app.Store
	app.AdminStore

	mu       sync.Mutex
	students []domain.Student
	counts   []app.MessageCount
	keys     map[string]app.IdempotencyRecord
	// saveFirst, when set, is stored before the first save: a concurrent
	// request with the same key finished first.
	saveFirst *app.IdempotencyRecord
	// purgedBefore are the instants PurgeIdempotencyKeys was asked for;
	// purgeErr is what it fails with.
	purgedBefore []time.Time
	purgeErr     error
}

func (s *adminFakeStore) PurgeIdempotencyKeys(_ context.Context, before time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.purgedBefore = append(s.purgedBefore, before)
	if s.purgeErr != nil {
		return 0, s.purgeErr
	}
	n := 0
	for k, rec := range s.keys {
		if rec.CreatedAt.Before(before) {
			delete(s.keys, k)
			n++
		}
	}
	return n, nil
}

func (s *adminFakeStore) UpsertStudent(_ context.Context, st domain.Student) (domain.Student, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, have := range s.students {
		if have.MoodleUserID == st.MoodleUserID {
			st.ID, st.OptedOut = have.ID, have.OptedOut
			s.students[i] = st
			return st, nil
		}
	}
	st.ID = int64(len(s.students) + 1)
	s.students = append(s.students, st)
	return st, nil
}

func (s *adminFakeStore) CountMessages(context.Context, time.Time, time.Time) ([]app.MessageCount, error) {
	return s.counts, nil
}

func (s *adminFakeStore) GetIdempotencyKey(_ context.Context, key string) (app.IdempotencyRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.keys[key]
	if !ok {
		return app.IdempotencyRecord{}, app.ErrNotFound
	}
	return rec, nil
}

func (s *adminFakeStore) SaveIdempotencyKey(_ context.Context, rec app.IdempotencyRecord) (app.IdempotencyRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.saveFirst != nil {
		s.keys[s.saveFirst.Key], s.saveFirst = *s.saveFirst, nil
	}
	if have, ok := s.keys[rec.Key]; ok {
		return have, nil
	}
	s.keys[rec.Key] = rec
	return rec, nil
}

// adminFakeMoodle answers from its functions; calls it has none for panic.
type adminFakeMoodle struct {
	app.Moodle
	byUsername func(string) (app.MoodleUser, error)
	create     func(app.NewMoodleUser) (int64, error)
	creates    int
}

func (m *adminFakeMoodle) UserByUsername(_ context.Context, username string) (app.MoodleUser, error) {
	return m.byUsername(username)
}

func (m *adminFakeMoodle) CreateUser(_ context.Context, u app.NewMoodleUser) (int64, error) {
	m.creates++
	return m.create(u)
}

type adminNoSender struct{}

func (adminNoSender) Send(context.Context, domain.MessageLog) app.SendResult {
	return app.SendResult{Outcome: app.OutcomeSent}
}

var adminNow = time.Date(2026, time.December, 3, 10, 15, 0, 0, time.UTC)

func newTestAdmin(t *testing.T, loc *time.Location, store *adminFakeStore, moodle app.Moodle) *app.Admin {
	t.Helper()
	if store.keys == nil {
		store.keys = map[string]app.IdempotencyRecord{}
	}
	a, err := app.New(app.Settings{Rules: domain.DefaultRules(168 * time.Hour), Location: loc, PhoneRegion: "ES"},
		app.Deps{Store: store, Sender: adminNoSender{}, Now: func() time.Time { return adminNow },
			Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	admin, err := app.NewAdmin(a, app.AdminDeps{Store: store, Moodle: moodle})
	require.NoError(t, err)
	return admin
}

func TestNewAdminNeedsItsStore(t *testing.T) {
	_, err := app.NewAdmin(nil, app.AdminDeps{Store: &adminFakeStore{}})
	assert.Error(t, err)
	a, err := app.New(app.Settings{Rules: domain.DefaultRules(time.Hour), Location: time.UTC},
		app.Deps{Store: &adminFakeStore{}, Sender: adminNoSender{}})
	require.NoError(t, err)
	_, err = app.NewAdmin(a, app.AdminDeps{})
	assert.Error(t, err)
	admin, err := app.NewAdmin(a, app.AdminDeps{Store: &adminFakeStore{}})
	require.NoError(t, err)
	assert.False(t, admin.MoodleConfigured())
}

func TestStatsFoldQuartersIntoLocalDays(t *testing.T) {
	madrid, err := time.LoadLocation("Europe/Madrid")
	require.NoError(t, err)
	kathmandu, err := time.LoadLocation("Asia/Kathmandu") // UTC+05:45
	require.NoError(t, err)
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		require.NoError(t, err)
		return v
	}
	counts := []app.MessageCount{
		// 2026-10-24 22:00 UTC is 2026-10-25 00:00 in Madrid (UTC+2 until 01:00 UTC).
		{Status: domain.StatusSent, Rule: "welcome", Bucket: at("2026-10-24T22:00:00Z"), Count: 1},
		{Status: domain.StatusSent, Rule: "welcome", Bucket: at("2026-10-24T21:45:00Z"), Count: 2},
		// 2026-10-25 23:00 UTC is 2026-10-26 00:00 in Madrid (UTC+1 since the change).
		{Status: domain.StatusFailed, Rule: "progress", Bucket: at("2026-10-25T22:45:00Z"), Count: 4},
		{Status: domain.StatusFailed, Rule: "progress", Bucket: at("2026-10-25T23:00:00Z"), Count: 8},
	}
	store := &adminFakeStore{counts: counts}
	st, err := newTestAdmin(t, madrid, store, nil).Queries.Stats(t.Context(), at("2026-10-23T22:00:00Z"),
		at("2026-10-26T23:00:00Z"))
	require.NoError(t, err)
	assert.Equal(t, 15, st.Total)
	require.Len(t, st.ByDay, 3)
	days := map[string]int{}
	for _, d := range st.ByDay {
		days[d.Day.String()] = d.Total
	}
	assert.Equal(t, map[string]int{"2026-10-24": 2, "2026-10-25": 5, "2026-10-26": 8}, days,
		"the day of 25 hours holds its last hour")
	assert.Equal(t, []app.DayCount{
		{Day: domain.Date{Year: 2026, Month: 10, Day: 24}, Rule: "welcome", Status: domain.StatusSent, Count: 2},
		{Day: domain.Date{Year: 2026, Month: 10, Day: 25}, Rule: "progress", Status: domain.StatusFailed, Count: 4},
		{Day: domain.Date{Year: 2026, Month: 10, Day: 25}, Rule: "welcome", Status: domain.StatusSent, Count: 1},
		{Day: domain.Date{Year: 2026, Month: 10, Day: 26}, Rule: "progress", Status: domain.StatusFailed, Count: 8},
	}, st.Counts)
	assert.Equal(t, 0, st.ByStatus[domain.StatusRead], "every status is counted, zero included")
	assert.Equal(t, 0, st.ByRule["review"], "every rule in force is counted, zero included")

	store.counts = []app.MessageCount{
		{Status: domain.StatusRead, Rule: "custom", Bucket: at("2026-12-02T18:00:00Z"), Count: 1}, // 23:45 local
		{Status: domain.StatusRead, Rule: "custom", Bucket: at("2026-12-02T18:15:00Z"), Count: 1}, // 00:00 local
	}
	st, err = newTestAdmin(t, kathmandu, store, nil).Queries.Stats(t.Context(), time.Time{}, time.Time{})
	require.NoError(t, err)
	require.Len(t, st.ByDay, app.DefaultStatsDays)
	last := st.ByDay[len(st.ByDay)-1]
	assert.Equal(t, "2026-12-03", last.Day.String(), "today, in the zone")
	assert.Equal(t, 1, last.Total)
	assert.Equal(t, 1, st.ByDay[len(st.ByDay)-2].Total)
	assert.Equal(t, 2, st.ByRule["custom"], "a rule no longer in force still counts")

	_, err = newTestAdmin(t, time.UTC, store, nil).Queries.Stats(t.Context(), adminNow, adminNow)
	var inv *app.InvalidError
	require.ErrorAs(t, err, &inv)
	assert.Equal(t, "since", inv.Field)
}

func TestIdempotency(t *testing.T) {
	store := &adminFakeStore{}
	admin := newTestAdmin(t, time.UTC, store, nil)
	runs := 0
	run := func(status int) func(context.Context) (app.Answer, error) {
		return func(context.Context) (app.Answer, error) {
			runs++
			return app.Answer{Status: status, Body: json.RawMessage(fmt.Sprintf(`{"run":%d}`, runs))}, nil
		}
	}
	hash, err := app.RequestHash("POST /x", map[string]int{"a": 1})
	require.NoError(t, err)
	other, err := app.RequestHash("POST /y", map[string]int{"a": 1})
	require.NoError(t, err)
	assert.NotEqual(t, hash, other, "the route is part of the request")

	for range 2 {
		ans, err := admin.Idempotency.Do(t.Context(), "", hash, run(201))
		require.NoError(t, err)
		assert.False(t, ans.Replayed)
	}
	assert.Equal(t, 2, runs, "without a key every request runs")

	first, err := admin.Idempotency.Do(t.Context(), "k", hash, run(201))
	require.NoError(t, err)
	again, err := admin.Idempotency.Do(t.Context(), "k", hash, run(201))
	require.NoError(t, err)
	assert.Equal(t, 3, runs)
	assert.True(t, again.Replayed)
	assert.Equal(t, first.Status, again.Status)
	assert.JSONEq(t, string(first.Body), string(again.Body))

	_, err = admin.Idempotency.Do(t.Context(), "k", other, run(201))
	var inv *app.InvalidError
	require.ErrorAs(t, err, &inv)
	assert.Equal(t, "Idempotency-Key", inv.Field)
	_, err = admin.Idempotency.Do(t.Context(), "bad key", hash, run(201))
	require.ErrorAs(t, err, &inv)
	assert.Equal(t, "Idempotency-Key", inv.Field)
	assert.Equal(t, 3, runs)

	// Failures are not recorded: the next request runs again.
	boom := errors.New("boom")
	_, err = admin.Idempotency.Do(t.Context(), "f", hash, func(context.Context) (app.Answer, error) { return app.Answer{}, boom })
	assert.ErrorIs(t, err, boom)
	ans, err := admin.Idempotency.Do(t.Context(), "f", hash, run(503))
	require.NoError(t, err)
	assert.Equal(t, 503, ans.Status)
	ans, err = admin.Idempotency.Do(t.Context(), "f", hash, run(200))
	require.NoError(t, err)
	assert.False(t, ans.Replayed, "an error answer is not recorded either")
	assert.Equal(t, 5, runs)

	// A concurrent request with the key finished first: its answer wins.
	store.saveFirst = &app.IdempotencyRecord{Key: "c", RequestHash: hash, Status: 201, Body: json.RawMessage(`{"first":true}`)}
	ans, err = admin.Idempotency.Do(t.Context(), "c", hash, run(200))
	require.NoError(t, err)
	assert.Equal(t, 201, ans.Status)
	assert.JSONEq(t, `{"first":true}`, string(ans.Body))

	assert.True(t, app.ValidIdempotencyKey("a-b_c.d:e/f=1"))
	for _, k := range []string{"", "a b", "ñ", string(make([]byte, 256))} {
		assert.False(t, app.ValidIdempotencyKey(k), "%q", k)
	}
}

func TestIdempotencyPurgeForgetsKeysAfterTheirLifetime(t *testing.T) {
	assert.Equal(t, 7*24*time.Hour, app.IdempotencyKeyLifetime)
	store := &adminFakeStore{}
	admin := newTestAdmin(t, time.UTC, store, nil)
	for key, age := range map[string]time.Duration{"old": app.IdempotencyKeyLifetime + time.Second,
		"edge": app.IdempotencyKeyLifetime, "recent": time.Hour} {
		store.keys[key] = app.IdempotencyRecord{Key: key, CreatedAt: adminNow.Add(-age)}
	}

	n, err := admin.Idempotency.Purge(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.Equal(t, []time.Time{adminNow.Add(-7 * 24 * time.Hour)}, store.purgedBefore,
		"the application's clock less the lifetime")
	assert.Contains(t, store.keys, "edge", "a key exactly 7 days old is still kept")
	assert.Contains(t, store.keys, "recent")

	boom := errors.New("boom")
	store.purgeErr = boom
	_, err = admin.Idempotency.Purge(t.Context())
	assert.ErrorIs(t, err, boom)
}

func TestCreateStudentDecisions(t *testing.T) {
	ana := app.CreateStudent{Username: " Ana ", FirstName: "Ana", LastName: "Ruiz", Email: "ana@example.com",
		Phone: "600 111 222", Lang: "es"}
	notFound := func(string) (app.MoodleUser, error) { return app.MoodleUser{}, app.ErrMoodleNotFound }

	admin := newTestAdmin(t, time.UTC, &adminFakeStore{}, nil)
	_, err := admin.CreateStudent.Handle(t.Context(), ana)
	assert.ErrorIs(t, err, app.ErrMoodleNotConfigured)

	t.Run("created", func(t *testing.T) {
		m := &adminFakeMoodle{byUsername: notFound, create: func(u app.NewMoodleUser) (int64, error) {
			assert.Equal(t, app.NewMoodleUser{Username: "ana", FirstName: "Ana", LastName: "Ruiz", Email: "ana@example.com",
				Phone: "+34600111222", Lang: "es"}, u, "lower-cased username, phone in E.164")
			return 42, nil
		}}
		res, err := newTestAdmin(t, time.UTC, &adminFakeStore{}, m).CreateStudent.Handle(t.Context(), ana)
		require.NoError(t, err)
		assert.True(t, res.Created)
		assert.Equal(t, int64(42), res.Student.MoodleUserID)
	})
	t.Run("invalid phone asks nothing of Moodle", func(t *testing.T) {
		m := &adminFakeMoodle{}
		bad := ana
		bad.Phone = "12"
		_, err := newTestAdmin(t, time.UTC, &adminFakeStore{}, m).CreateStudent.Handle(t.Context(), bad)
		var inv *app.InvalidError
		require.ErrorAs(t, err, &inv)
		assert.Equal(t, "phone", inv.Field)
	})
	t.Run("linked when the email matches", func(t *testing.T) {
		m := &adminFakeMoodle{byUsername: func(string) (app.MoodleUser, error) {
			return app.MoodleUser{ID: 7, Username: "ana", FirstName: "Ana María", Email: "ANA@example.com", Lang: "pt_br"}, nil
		}}
		res, err := newTestAdmin(t, time.UTC, &adminFakeStore{}, m).CreateStudent.Handle(t.Context(), ana)
		require.NoError(t, err)
		assert.False(t, res.Created)
		assert.Zero(t, m.creates)
		assert.Equal(t, "Ana María", res.Student.FirstName, "Moodle's name")
		assert.Equal(t, "Ruiz", res.Student.LastName, "what Moodle does not show comes from the request")
		assert.Equal(t, "es", res.Student.Lang, "the language asked for")
		assert.Equal(t, "+34600111222", res.Student.Phone)
	})
	t.Run("conflict when it does not", func(t *testing.T) {
		m := &adminFakeMoodle{byUsername: func(string) (app.MoodleUser, error) {
			return app.MoodleUser{ID: 7, Username: "ana", Email: "someone@example.com"}, nil
		}}
		_, err := newTestAdmin(t, time.UTC, &adminFakeStore{}, m).CreateStudent.Handle(t.Context(), ana)
		assert.ErrorIs(t, err, app.ErrConflict)
	})
	t.Run("a concurrent creation is linked", func(t *testing.T) {
		calls := 0
		m := &adminFakeMoodle{
			byUsername: func(string) (app.MoodleUser, error) {
				calls++
				if calls == 1 {
					return app.MoodleUser{}, app.ErrMoodleNotFound
				}
				return app.MoodleUser{ID: 9, Username: "ana", Email: "ana@example.com"}, nil
			},
			create: func(app.NewMoodleUser) (int64, error) {
				return 0, fmt.Errorf("%w: username taken", app.ErrMoodleRejected)
			},
		}
		res, err := newTestAdmin(t, time.UTC, &adminFakeStore{}, m).CreateStudent.Handle(t.Context(), ana)
		require.NoError(t, err)
		assert.False(t, res.Created)
		assert.Equal(t, int64(9), res.Student.MoodleUserID)
	})
	t.Run("unknown outcome and Moodle still away", func(t *testing.T) {
		calls := 0
		m := &adminFakeMoodle{
			byUsername: func(string) (app.MoodleUser, error) {
				calls++
				if calls == 1 {
					return app.MoodleUser{}, app.ErrMoodleNotFound
				}
				return app.MoodleUser{}, app.ErrUnavailable
			},
			create: func(app.NewMoodleUser) (int64, error) {
				return 0, fmt.Errorf("%w: %w: timeout", app.ErrMoodleOutcomeUnknown, app.ErrUnavailable)
			},
		}
		store := &adminFakeStore{}
		_, err := newTestAdmin(t, time.UTC, store, m).CreateStudent.Handle(t.Context(), ana)
		assert.ErrorIs(t, err, app.ErrMoodleOutcomeUnknown)
		assert.Equal(t, 2, calls, "looked up again after the unknown outcome")
		assert.Empty(t, store.students, "nothing here")
	})
	t.Run("weak password", func(t *testing.T) {
		m := &adminFakeMoodle{byUsername: notFound, create: func(app.NewMoodleUser) (int64, error) {
			return 0, fmt.Errorf("%w: %w: too short", app.ErrMoodleRejected, app.ErrMoodleWeakPassword)
		}}
		weak := ana
		weak.Password = "abc"
		_, err := newTestAdmin(t, time.UTC, &adminFakeStore{}, m).CreateStudent.Handle(t.Context(), weak)
		var inv *app.InvalidError
		require.ErrorAs(t, err, &inv)
		assert.Equal(t, "password", inv.Field)
	})
}

func TestSyncStartChecksItsCourses(t *testing.T) {
	_, err := newTestAdmin(t, time.UTC, &adminFakeStore{}, nil).Sync.Start(t.Context(), nil)
	assert.ErrorIs(t, err, app.ErrMoodleNotConfigured)
	admin := newTestAdmin(t, time.UTC, &adminFakeStore{}, &adminFakeMoodle{})
	_, err = admin.Sync.Start(t.Context(), []int64{3, -1})
	var inv *app.InvalidError
	require.ErrorAs(t, err, &inv)
	assert.Equal(t, "moodle_course_ids[1]", inv.Field)
	_, err = admin.Sync.Start(t.Context(), make([]int64, app.MaxSyncCourses+1))
	require.ErrorAs(t, err, &inv)
	assert.Equal(t, "moodle_course_ids", inv.Field)
}
