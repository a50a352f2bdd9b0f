package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/notifier/app"
	"github.com/acme/notifier/domain"
)

var evaluateTests = []contractTest{
	{"EvaluateLocked/LoadsStateAndReturnsStoredRows", testEvaluateState},
	{"EvaluateLocked/DropsOnceConflicts", testEvaluateOnceConflicts},
	{"EvaluateLocked/FailedRowsDoNotBlockOnceRules", testEvaluateFailedRows},
	{"EvaluateLocked/DecideErrorRollsBack", testEvaluateDecideError},
	{"EvaluateLocked/FailedInsertRollsBackEverything", testEvaluateInsertError},
	{"EvaluateLocked/StoresProgressBeforeDeciding", testEvaluateStoresProgress},
	{"EvaluateLocked/StoresProgressWhenNothingIsInserted", testEvaluateStoresProgressAlone},
	{"EvaluateLocked/EqualProgressWritesNothing", testEvaluateEqualProgress},
	{"EvaluateLocked/FailureStoresNoProgress", testEvaluateProgressRollsBack},
	{"ReadEnrollmentStates/SeesWhatEvaluateLockedSees", testReadEnrollmentState},
}

func testEvaluateState(t *testing.T, s app.Store) {
	ctx := t.Context()
	f := seed(t, s, 1)
	otherCourse := mustEnroll(t, s, f.Student, mustCourse(t, s, 102), domain.Progress{})
	otherStudent := mustEnroll(t, s, mustStudent(t, s, 2), f.Course, domain.Progress{})

	welcome := f.message("welcome", base)
	welcome.Status = domain.StatusSent
	refused := f.message("progress", base.Add(time.Hour))
	refused.Fail(domain.ErrCodeInvalidPhone, "no phone", base.Add(time.Hour))
	insert(t, s, welcome, refused, otherCourse.message("welcome", base), otherStudent.message("welcome", base))

	var seen app.EnrollmentState
	fresh := f.message("review", base.Add(2*time.Hour))
	created, err := s.EvaluateLocked(ctx, f.Enrollment.ID, nil, func(st app.EnrollmentState) ([]domain.MessageLog, error) {
		seen = st
		return []domain.MessageLog{fresh}, nil
	})
	require.NoError(t, err)

	student, err := s.GetStudent(ctx, f.Student.ID)
	require.NoError(t, err)
	course, err := s.GetCourse(ctx, f.Course.ID)
	require.NoError(t, err)
	enrollment, err := s.GetEnrollment(ctx, f.Enrollment.ID)
	require.NoError(t, err)
	assert.Equal(t, student, seen.Student)
	assert.Equal(t, course, seen.Course)
	assert.Equal(t, enrollment, seen.Enrollment)
	assert.Equal(t, []domain.PriorMessage{
		storedMessage(welcome, 0).Prior(), storedMessage(refused, 0).Prior(),
	}, seen.History, "the history holds this student's rows in this course, oldest first")

	require.Len(t, created, 1)
	assert.Positive(t, created[0].ID)
	assert.Equal(t, storedMessage(fresh, created[0].ID), created[0])
	got, err := s.GetMessage(ctx, created[0].ID)
	require.NoError(t, err)
	assert.Equal(t, created[0], got)
}

func testEvaluateOnceConflicts(t *testing.T, s app.Store) {
	ctx := t.Context()
	f := seed(t, s, 1)

	created, err := s.EvaluateLocked(ctx, f.Enrollment.ID, nil, decideRows(f.message("welcome", base), f.message("welcome", base)))
	require.NoError(t, err)
	require.Len(t, created, 1, "the second row of a once rule is dropped, not an error")

	created, err = s.EvaluateLocked(ctx, f.Enrollment.ID, nil, decideRows(f.message("welcome", base), f.message("review", base)))
	require.NoError(t, err)
	require.Len(t, created, 1, "an earlier row blocks the once rule, not the others")
	assert.Equal(t, "review", created[0].Rule)

	// The index is per student and course.
	otherCourse := mustEnroll(t, s, f.Student, mustCourse(t, s, 102), domain.Progress{})
	insertOne(t, s, otherCourse.message("welcome", base))
	otherStudent := mustEnroll(t, s, mustStudent(t, s, 2), f.Course, domain.Progress{})
	insertOne(t, s, otherStudent.message("welcome", base))

	// Rows without a once key are never dropped: window rules rely on the
	// enrollment lock and the history instead.
	created, err = s.EvaluateLocked(ctx, f.Enrollment.ID, nil, decideRows(f.message("progress", base), f.message("progress", base)))
	require.NoError(t, err)
	assert.Len(t, created, 2)

	rows := allMessages(t, s, app.MessageFilter{StudentID: f.Student.ID, CourseID: f.Course.ID})
	assert.Len(t, rows, 4)
}

func testEvaluateFailedRows(t *testing.T, s app.Store) {
	ctx := t.Context()
	f := seed(t, s, 1)
	failed := f.message("welcome", base)
	failed.Fail(domain.ErrCodeOptedOut, "opted out", base)

	insertOne(t, s, failed)
	pending := insertOne(t, s, f.message("welcome", base))
	insertOne(t, s, failed) // FAILED rows never conflict
	assert.Empty(t, insert(t, s, f.message("welcome", base)), "the PENDING row counts")

	_, err := s.UpdateMessage(ctx, pending.ID, func(m *domain.MessageLog) error {
		require.True(t, m.Fail("131026", "undeliverable", base))
		return nil
	})
	require.NoError(t, err)
	insertOne(t, s, f.message("welcome", base)) // nothing counts any more

	// Reviving a FAILED row while another counts breaks the index.
	_, err = s.UpdateMessage(ctx, pending.ID, func(m *domain.MessageLog) error {
		m.Status = domain.StatusSent
		return nil
	})
	assert.Error(t, err)
	assert.Len(t, allMessages(t, s, app.MessageFilter{}), 4)
}

func testEvaluateDecideError(t *testing.T, s app.Store) {
	f := seed(t, s, 1)
	_, err := s.EvaluateLocked(t.Context(), f.Enrollment.ID, nil, func(app.EnrollmentState) ([]domain.MessageLog, error) {
		return []domain.MessageLog{f.message("welcome", base)}, errBoom
	})
	require.ErrorIs(t, err, errBoom)
	assert.Empty(t, allMessages(t, s, app.MessageFilter{}))
	// The lock is released.
	insertOne(t, s, f.message("welcome", base))
}

func testEvaluateInsertError(t *testing.T, s app.Store) {
	f := seed(t, s, 1)
	bad := f.message("review", base)
	bad.Status = "LOST" // refused by the schema
	_, err := s.EvaluateLocked(t.Context(), f.Enrollment.ID, nil, decideRows(f.message("welcome", base), bad))
	require.Error(t, err)
	assert.Empty(t, allMessages(t, s, app.MessageFilter{}), "the rows before the failure are rolled back too")
	insertOne(t, s, f.message("welcome", base))
}

func testReadEnrollmentState(t *testing.T, s app.Store) {
	ctx := t.Context()
	f := seed(t, s, 1)
	otherCourse := mustEnroll(t, s, f.Student, mustCourse(t, s, 102), domain.Progress{})
	insert(t, s, otherCourse.message("welcome", base))

	// Without history.
	read := mustReadState(t, s, f.Enrollment.ID)
	assert.Empty(t, read.History)

	welcome := f.message("welcome", base)
	welcome.Status = domain.StatusSent
	refused := f.message("progress", base.Add(time.Hour))
	refused.Fail(domain.ErrCodeInvalidPhone, "no phone", base.Add(time.Hour))
	insert(t, s, welcome, refused)

	read = mustReadState(t, s, f.Enrollment.ID)
	var locked app.EnrollmentState
	_, err := s.EvaluateLocked(ctx, f.Enrollment.ID, nil, func(st app.EnrollmentState) ([]domain.MessageLog, error) {
		locked = st
		return nil, nil
	})
	require.NoError(t, err)
	assert.Equal(t, locked, read)
	assert.Len(t, read.History, 2)

	// Several at once: each as read alone, in one map; a missing id is
	// absent, a repeated one harmless.
	other := mustReadState(t, s, otherCourse.Enrollment.ID)
	states, err := s.ReadEnrollmentStates(ctx, otherCourse.Enrollment.ID, f.Enrollment.ID+1000, f.Enrollment.ID,
		otherCourse.Enrollment.ID)
	require.NoError(t, err)
	assert.Equal(t, map[int64]app.EnrollmentState{f.Enrollment.ID: read, otherCourse.Enrollment.ID: other}, states)
	assert.Len(t, other.History, 1, "each enrollment gets its own history")
	none, err := s.ReadEnrollmentStates(ctx)
	require.NoError(t, err)
	assert.Empty(t, none)
	// Reading locks nothing: a locked evaluation goes ahead at once.
	insertOne(t, s, f.message("review", base))
}

// The progress an evaluation carries is stored in its transaction, and
// decide sees the enrollment as stored: a rule on progress decides on the
// new figure.
func testEvaluateStoresProgress(t *testing.T, s app.Store) {
	ctx := t.Context()
	f := seed(t, s, 1)
	time.Sleep(2 * time.Millisecond)
	half := domain.NewProgress(4, 2)
	var seen app.EnrollmentState
	created, err := s.EvaluateLocked(ctx, f.Enrollment.ID, &half, func(st app.EnrollmentState) ([]domain.MessageLog, error) {
		seen = st
		if st.Enrollment.Progress.WholePercent() != 50 {
			return nil, nil
		}
		return []domain.MessageLog{f.message("progress", base)}, nil
	})
	require.NoError(t, err)
	require.Len(t, created, 1, "the rule saw the new progress")

	want := f.Enrollment
	want.Progress, want.UpdatedAt = half, seen.Enrollment.UpdatedAt
	assert.Equal(t, want, seen.Enrollment)
	assert.True(t, seen.Enrollment.UpdatedAt.After(f.Enrollment.UpdatedAt), "UpdatedAt moves")
	got, err := s.GetEnrollment(ctx, f.Enrollment.ID)
	require.NoError(t, err)
	assert.Equal(t, seen.Enrollment, got, "decide saw the enrollment as stored")
	assert.Equal(t, got, mustReadState(t, s, f.Enrollment.ID).Enrollment)
	stored, err := s.GetMessage(ctx, created[0].ID)
	require.NoError(t, err)
	assert.Equal(t, created[0], stored)
}

// The progress is stored even when decide inserts nothing, and an unknown
// progress (a course without tracked activities) is stored too.
func testEvaluateStoresProgressAlone(t *testing.T, s app.Store) {
	ctx := t.Context()
	f := mustEnroll(t, s, mustStudent(t, s, 1), mustCourse(t, s, 101), domain.NewProgress(4, 1))
	for _, p := range []domain.Progress{domain.NewProgress(7, 7), {}} {
		before, err := s.GetEnrollment(ctx, f.Enrollment.ID)
		require.NoError(t, err)
		time.Sleep(2 * time.Millisecond)
		var seen domain.Enrollment
		created, err := s.EvaluateLocked(ctx, f.Enrollment.ID, &p, func(st app.EnrollmentState) ([]domain.MessageLog, error) {
			seen = st.Enrollment
			return nil, nil
		})
		require.NoError(t, err)
		assert.Empty(t, created)
		got, err := s.GetEnrollment(ctx, f.Enrollment.ID)
		require.NoError(t, err)
		assert.Equal(t, seen, got)
		want := before
		want.Progress, want.UpdatedAt = p, got.UpdatedAt
		assert.Equal(t, want, got)
		assert.True(t, got.UpdatedAt.After(before.UpdatedAt), "UpdatedAt moves")
	}
	assert.Empty(t, allMessages(t, s, app.MessageFilter{}))
}

// A progress equal to the stored one (another copy of the same figures),
// or none, writes nothing about the enrollment.
func testEvaluateEqualProgress(t *testing.T, s app.Store) {
	ctx := t.Context()
	f := mustEnroll(t, s, mustStudent(t, s, 1), mustCourse(t, s, 101), domain.NewProgress(4, 2))
	unknown := seed(t, s, 2)
	same := domain.NewProgress(4, 2)
	for _, tc := range []struct {
		e domain.Enrollment
		p *domain.Progress
	}{
		{f.Enrollment, &same},
		{f.Enrollment, nil},
		{unknown.Enrollment, &domain.Progress{}},
	} {
		time.Sleep(2 * time.Millisecond)
		var seen domain.Enrollment
		_, err := s.EvaluateLocked(ctx, tc.e.ID, tc.p, func(st app.EnrollmentState) ([]domain.MessageLog, error) {
			seen = st.Enrollment
			return nil, nil
		})
		require.NoError(t, err)
		assert.Equal(t, tc.e, seen)
		got, err := s.GetEnrollment(ctx, tc.e.ID)
		require.NoError(t, err)
		assert.Equal(t, tc.e, got, "UpdatedAt stays")
	}
}

// When decide or an insert fails, the progress is not stored either.
func testEvaluateProgressRollsBack(t *testing.T, s app.Store) {
	ctx := t.Context()
	f := seed(t, s, 1)
	half := domain.NewProgress(4, 2)
	var seen domain.Progress
	_, err := s.EvaluateLocked(ctx, f.Enrollment.ID, &half, func(st app.EnrollmentState) ([]domain.MessageLog, error) {
		seen = st.Enrollment.Progress
		return nil, errBoom
	})
	require.ErrorIs(t, err, errBoom)
	assert.Equal(t, half, seen)
	got, err := s.GetEnrollment(ctx, f.Enrollment.ID)
	require.NoError(t, err)
	assert.Equal(t, f.Enrollment, got, "a failed decide stores nothing")

	bad := f.message("review", base)
	bad.Status = "LOST" // refused by the schema
	_, err = s.EvaluateLocked(ctx, f.Enrollment.ID, &half, decideRows(f.message("progress", base), bad))
	require.Error(t, err)
	got, err = s.GetEnrollment(ctx, f.Enrollment.ID)
	require.NoError(t, err)
	assert.Equal(t, f.Enrollment, got, "a failed insert stores nothing")
	assert.Empty(t, allMessages(t, s, app.MessageFilter{}))

	// The lock is released.
	created, err := s.EvaluateLocked(ctx, f.Enrollment.ID, &half, decideRows())
	require.NoError(t, err)
	assert.Empty(t, created)
	got, err = s.GetEnrollment(ctx, f.Enrollment.ID)
	require.NoError(t, err)
	assert.Equal(t, half, got.Progress)
}

// mustReadState reads one enrollment's state, which must exist.
func mustReadState(t *testing.T, s app.Store, id int64) app.EnrollmentState {
	t.Helper()
	states, err := s.ReadEnrollmentStates(t.Context(), id)
	require.NoError(t, err)
	st, ok := states[id]
	require.True(t, ok, "enrollment %d", id)
	require.Len(t, states, 1)
	return st
}
