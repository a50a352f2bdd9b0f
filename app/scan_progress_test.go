package app_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/notifier/app"
	"github.com/acme/notifier/domain"
)

// scanStore holds one enrollment for the scan tests. It reads it without a
// lock, evaluates it as the stores do (the progress an evaluation carries is
// kept when it differs, and the rules decide on it), and counts each.
type scanStore struct {
	app.Store
	state          app.EnrollmentState
	reads, locks   int
	progressWrites int
	written        []domain.MessageLog
	vanishOnLock   bool // deleted between the read and the lock
}

func (s *scanStore) ReadEnrollmentStates(_ context.Context, ids ...int64) (map[int64]app.EnrollmentState, error) {
	out := map[int64]app.EnrollmentState{}
	for _, id := range ids {
		if id == s.state.Enrollment.ID {
			s.reads++
			out[id] = s.state
		}
	}
	return out, nil
}

func (s *scanStore) EvaluateLocked(_ context.Context, id int64, progress *domain.Progress,
	decide func(app.EnrollmentState) ([]domain.MessageLog, error)) ([]domain.MessageLog, error) {
	if id != s.state.Enrollment.ID || s.vanishOnLock {
		return nil, app.ErrNotFound
	}
	s.locks++
	st := s.state
	update := progress != nil && !progress.Equal(st.Enrollment.Progress)
	if update {
		st.Enrollment.Progress = *progress
	}
	rows, err := decide(st)
	if err != nil {
		return nil, err
	}
	if update {
		s.state.Enrollment, s.progressWrites = st.Enrollment, s.progressWrites+1
	}
	for i := range rows {
		rows[i].ID = int64(len(s.written) + 1)
		s.written = append(s.written, rows[i])
		s.state.History = append(s.state.History, rows[i].Prior())
	}
	return rows, nil
}

// UpdateEnrollment is not how a scan stores progress any more.
func (s *scanStore) UpdateEnrollment(context.Context, int64, func(*domain.Enrollment) error) (domain.Enrollment, error) {
	return domain.Enrollment{}, errors.New("UpdateEnrollment called: a scan stores progress in its evaluation")
}

// UpdateMessage refuses the claim, as when the due-rows sweep took the row
// first: the rows a scan writes stay as they were recorded.
func (s *scanStore) UpdateMessage(context.Context, int64, func(*domain.MessageLog) error) (domain.MessageLog, error) {
	return domain.MessageLog{}, domain.ErrNotClaimable
}

// itemStore records the scan items finished.
type itemStore struct {
	app.ScanStore
	finished []app.ScanItemResult
}

func (s *itemStore) FinishScanItems(_ context.Context, items []app.ScanItemResult) error {
	s.finished = append(s.finished, items...)
	return nil
}

type quietBus struct{}

func (quietBus) Publish(context.Context, string, ...app.BusMessage) error { return nil }

// moodleProgress gives every Moodle user in users the same progress, or
// fails with err.
type moodleProgress struct {
	users map[int64]domain.Progress
	err   error
	calls int
}

func (m *moodleProgress) CourseProgress(context.Context, int64, []int64) (map[int64]domain.Progress, error) {
	m.calls++
	return m.users, m.err
}

// A scan stores Moodle's progress in the evaluation's transaction: one lock
// per enrollment whose progress moved, whether a rule fires on the new
// figure or not; none when the progress did not move and nothing fires.
func TestScanStoresMoodleProgressInTheEvaluation(t *testing.T) {
	now := time.Date(2026, 3, 10, 8, 0, 0, 0, time.UTC)
	const moodleUser = 42
	state := func(p domain.Progress, history ...domain.PriorMessage) app.EnrollmentState {
		return app.EnrollmentState{
			Student: domain.Student{ID: 1, MoodleUserID: moodleUser, FirstName: "Ana", Phone: "+34 600 111 222"},
			Course:  domain.Course{ID: 1, MoodleCourseID: 7, FullName: "Curso"},
			Enrollment: domain.Enrollment{ID: 1, StudentID: 1, CourseID: 1, Roles: []string{"student"}, Imported: true,
				Progress: p},
			History: history,
		}
	}
	setup := func(t *testing.T, st app.EnrollmentState, moodle *moodleProgress) (*app.ScanHandler, *scanStore, *itemStore) {
		t.Helper()
		store, items := &scanStore{state: st}, &itemStore{}
		a, err := app.New(app.Settings{Rules: domain.DefaultRules(168 * time.Hour), Location: time.UTC, PhoneRegion: "ES"},
			app.Deps{Store: store, Sender: noSender{}, Now: func() time.Time { return now },
				Logger: slog.New(slog.DiscardHandler)})
		require.NoError(t, err)
		h, err := app.NewScanHandler(a, items, quietBus{}, moodle)
		require.NoError(t, err)
		return h, store, items
	}
	item := func(scan int64) app.ScanItem { return app.ScanItem{ScanID: scan, EnrollmentID: 1, Date: "2026-03-10"} }
	half := domain.NewProgress(4, 2)

	t.Run("MovedAndARuleFires", func(t *testing.T) {
		h, store, items := setup(t, state(domain.Progress{}), &moodleProgress{users: map[int64]domain.Progress{moodleUser: half}})
		require.NoError(t, h.Evaluate(t.Context(), item(1)))
		assert.Equal(t, 1, store.locks, "one transaction")
		assert.Equal(t, 1, store.progressWrites)
		assert.True(t, half.Equal(store.state.Enrollment.Progress), "the progress is stored")
		require.Len(t, store.written, 1)
		assert.Equal(t, "progress", store.written[0].Rule, "the rules decided on the new progress")
		assert.Equal(t, []string{"Ana", "Curso", "50"}, store.written[0].Params)
		assert.Equal(t, []app.ScanItemResult{{ScanID: 1, EnrollmentID: 1, State: app.ScanItemDone, Messages: 1}},
			items.finished)
	})

	t.Run("MovedAndNoRuleFires", func(t *testing.T) {
		// A progress message went out an hour ago: the window holds the
		// rule back, but the new figure is stored all the same.
		sent := domain.PriorMessage{Rule: "progress", Template: "progress", Status: domain.StatusSent,
			CreatedAt: now.Add(-time.Hour)}
		threeQuarters := domain.NewProgress(4, 3)
		h, store, items := setup(t, state(half, sent), &moodleProgress{users: map[int64]domain.Progress{moodleUser: threeQuarters}})
		require.NoError(t, h.Evaluate(t.Context(), item(1)))
		assert.Equal(t, 1, store.locks)
		assert.Equal(t, 1, store.progressWrites)
		assert.True(t, threeQuarters.Equal(store.state.Enrollment.Progress), "the progress is stored")
		assert.Empty(t, store.written)
		assert.Equal(t, []app.ScanItemResult{{ScanID: 1, EnrollmentID: 1, State: app.ScanItemDone}}, items.finished)
	})

	t.Run("UnchangedAndNothingFires", func(t *testing.T) {
		sent := domain.PriorMessage{Rule: "progress", Template: "progress", Status: domain.StatusSent,
			CreatedAt: now.Add(-time.Hour)}
		for name, users := range map[string]map[int64]domain.Progress{
			"same figure":          {moodleUser: domain.NewProgress(4, 2)},
			"not listed by Moodle": {moodleUser + 1: domain.NewProgress(4, 3)},
		} {
			t.Run(name, func(t *testing.T) {
				h, store, items := setup(t, state(half, sent), &moodleProgress{users: users})
				require.NoError(t, h.Evaluate(t.Context(), item(1)))
				assert.Zero(t, store.locks, "nothing locked, nothing written")
				assert.Zero(t, store.progressWrites)
				assert.Len(t, items.finished, 1)
			})
		}
	})

	t.Run("MoodleFailsThenAnswers", func(t *testing.T) {
		moodle := &moodleProgress{err: fmt.Errorf("moodle: %w", app.ErrUnavailable)}
		h, store, items := setup(t, state(domain.Progress{}), moodle)
		err := h.Evaluate(t.Context(), item(1))
		require.ErrorIs(t, err, app.ErrUnavailable, "retried by the bus")
		assert.Zero(t, store.locks)
		assert.Empty(t, items.finished)

		// The failure is not cached: the retry asks Moodle again.
		moodle.users, moodle.err = map[int64]domain.Progress{moodleUser: half}, nil
		require.NoError(t, h.Evaluate(t.Context(), item(1)))
		assert.Equal(t, 2, moodle.calls)
		assert.Equal(t, 1, store.progressWrites)
		assert.Len(t, store.written, 1)
	})

	t.Run("VanishedBeforeTheLock", func(t *testing.T) {
		h, store, items := setup(t, state(domain.Progress{}), &moodleProgress{users: map[int64]domain.Progress{moodleUser: half}})
		store.vanishOnLock = true
		require.NoError(t, h.Evaluate(t.Context(), item(1)), "nothing left to evaluate")
		assert.Zero(t, store.progressWrites)
		assert.Equal(t, []app.ScanItemResult{{ScanID: 1, EnrollmentID: 1, State: app.ScanItemDone}}, items.finished)
	})
}

// With a progress to store, the snapshot shortcut is not taken: the
// enrollment is locked and written even when no rule fires.
func TestEvaluateWithProgressIgnoresTheSnapshot(t *testing.T) {
	now := time.Date(2026, 3, 10, 8, 0, 0, 0, time.UTC)
	st := app.EnrollmentState{
		Student: domain.Student{ID: 1, MoodleUserID: 42, FirstName: "Ana", Phone: "+34 600 111 222"},
		Course:  domain.Course{ID: 1, MoodleCourseID: 7, FullName: "Curso"},
		Enrollment: domain.Enrollment{ID: 1, StudentID: 1, CourseID: 1, Roles: []string{"student"}, Imported: true,
			Progress: domain.NewProgress(4, 0)},
	}
	store := &lockStore{state: st}
	a, err := app.New(app.Settings{Rules: domain.DefaultRules(168 * time.Hour), Location: time.UTC, PhoneRegion: "ES"},
		app.Deps{Store: store, Sender: noSender{}, Now: func() time.Time { return now },
			Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	none := domain.NewProgress(5, 0) // moved, and 0 % fires nothing
	rows, err := a.Evaluate.Record(t.Context(), app.EvaluateEnrollment{EnrollmentID: 1, Occasion: domain.OnScan,
		Trigger: domain.Trigger{Kind: domain.TriggerScan, Ref: "1"}, Snapshot: &st, Progress: &none})
	require.NoError(t, err)
	assert.Empty(t, rows)
	assert.Equal(t, 1, store.locked)
	assert.True(t, none.Equal(store.state.Enrollment.Progress))
}
