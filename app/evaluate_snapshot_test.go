package app_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/notifier/app"
	"github.com/acme/notifier/domain"
)

// lockStore answers EvaluateLocked with the state it holds, as a locked read
// would, and counts the locks taken. Like the stores, it keeps the progress
// an evaluation carries when it differs, and the rules decide on it.
type lockStore struct {
	app.Store
	locked  int
	state   app.EnrollmentState
	written []domain.MessageLog
}

func (s *lockStore) EvaluateLocked(_ context.Context, _ int64, progress *domain.Progress,
	decide func(app.EnrollmentState) ([]domain.MessageLog, error)) ([]domain.MessageLog, error) {
	s.locked++
	st := s.state
	if progress != nil && !progress.Equal(st.Enrollment.Progress) {
		st.Enrollment.Progress = *progress
	}
	rows, err := decide(st)
	if err != nil {
		return nil, err
	}
	s.state.Enrollment = st.Enrollment
	s.written = append(s.written, rows...)
	return rows, nil
}

type noSender struct{}

func (noSender) Send(context.Context, domain.MessageLog) app.SendResult { return app.SendResult{} }

// A scan's first look is taken without the lock: nothing is locked when no
// rule fires on it, and when one does, the rules decide again on what the
// locked read shows, and only that is written.
func TestEvaluateDecidesOnTheSnapshotThenUnderTheLock(t *testing.T) {
	now := time.Date(2026, 3, 10, 8, 0, 0, 0, time.UTC)
	state := func(completed int, history ...domain.PriorMessage) app.EnrollmentState {
		return app.EnrollmentState{
			Student: domain.Student{ID: 1, MoodleUserID: 42, FirstName: "Ana", Phone: "+34 600 111 222"},
			Course:  domain.Course{ID: 1, MoodleCourseID: 7, FullName: "Curso"},
			Enrollment: domain.Enrollment{ID: 1, StudentID: 1, CourseID: 1, Roles: []string{"student"}, Imported: true,
				Progress: domain.NewProgress(4, completed)},
			History: history,
		}
	}
	sentToday := domain.PriorMessage{Rule: "progress", Template: "progress", Status: domain.StatusSent, CreatedAt: now}
	store := &lockStore{}
	a, err := app.New(app.Settings{Rules: domain.DefaultRules(168 * time.Hour), Location: time.UTC, PhoneRegion: "ES"},
		app.Deps{Store: store, Sender: noSender{}, Now: func() time.Time { return now },
			Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	cmd := func(snapshot *app.EnrollmentState) app.EvaluateEnrollment {
		return app.EvaluateEnrollment{EnrollmentID: 1, Occasion: domain.OnScan, Snapshot: snapshot,
			Trigger: domain.Trigger{Kind: domain.TriggerScan, Ref: "1"}}
	}

	// Nothing fires on the snapshot: no lock.
	store.state = state(2) // the locked read would fire: it is not taken
	quiet := state(0)
	rows, err := a.Evaluate.Record(t.Context(), cmd(&quiet))
	require.NoError(t, err)
	assert.Empty(t, rows)
	assert.Zero(t, store.locked)

	// The snapshot fires, the locked read shows the message another
	// evaluation just wrote: the lock is taken and nothing is written.
	store.state = state(2, sentToday)
	fires := state(2)
	rows, err = a.Evaluate.Record(t.Context(), cmd(&fires))
	require.NoError(t, err)
	assert.Empty(t, rows)
	assert.Equal(t, 1, store.locked)

	// The snapshot fires and so does the locked read: written once.
	store.state = state(2)
	rows, err = a.Evaluate.Record(t.Context(), cmd(&fires))
	require.NoError(t, err)
	require.Len(t, rows, 1)
	assert.Equal(t, "progress", rows[0].Rule)
	assert.Equal(t, 2, store.locked)

	// Without a snapshot (events), the lock is always taken.
	store.state = state(0)
	_, err = a.Evaluate.Record(t.Context(), cmd(nil))
	require.NoError(t, err)
	assert.Equal(t, 3, store.locked)
	assert.Len(t, store.written, 1)
}
