package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/notifier/app"
	"github.com/acme/notifier/domain"
)

// goroutines is how many evaluations of one enrollment race in each test.
const goroutines = 64

var concurrencyTests = []contractTest{
	{"Concurrent/EvaluationsTakeTurns", testEvaluationsTakeTurns},
	{"Concurrent/UpdatesLoseNothing", testConcurrentUpdates},
	{"Concurrent/OneWelcome", testConcurrentWelcome},
	{"Concurrent/OneProgressInTheWindow", testConcurrentProgress},
	{"Concurrent/MixedOccasions", testConcurrentMixed},
	{"Concurrent/SlowSender", testSlowSender},
	{"Concurrent/RetryLaterResendsTheSameRow", testRetryLaterSender},
	{"Concurrent/FailedSendsAreNeverRepeated", testFailingSender},
	{"Concurrent/OneSenderClaimsARow", testConcurrentClaims},
}

// sender is a test app.Sender. It checks that every row it is handed was
// committed first, and counts what it sends and how many sends overlap.
type sender struct {
	t      *testing.T
	store  app.Store
	answer func(call int, m domain.MessageLog) app.SendResult

	mu          sync.Mutex
	sent        []int64
	inFlight    int
	maxInFlight int
}

func newSender(t *testing.T, s app.Store, answer func(call int, m domain.MessageLog) app.SendResult) *sender {
	if answer == nil {
		answer = func(_ int, m domain.MessageLog) app.SendResult { return sentResult(m) }
	}
	return &sender{t: t, store: s, answer: answer}
}

func (s *sender) Send(ctx context.Context, m domain.MessageLog) app.SendResult {
	s.checkCommitted(ctx, m)
	s.mu.Lock()
	s.sent = append(s.sent, m.ID)
	call := len(s.sent)
	s.inFlight++
	s.maxInFlight = max(s.maxInFlight, s.inFlight)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inFlight--
		s.mu.Unlock()
	}()
	res := s.answer(call, m)
	res.Request = json.RawMessage(fmt.Sprintf(`{"to":%q,"template":%q}`, m.To, m.Template))
	return res
}

// checkCommitted: another connection must already see the row, PENDING and
// claimed by this attempt. A send before the commit would find nothing.
func (s *sender) checkCommitted(ctx context.Context, m domain.MessageLog) {
	got, err := s.store.GetMessage(ctx, m.ID)
	if err != nil {
		s.t.Errorf("message %d handed to the sender before its commit: %v", m.ID, err)
		return
	}
	if got.Status != domain.StatusPending || got.ClaimedAt.IsZero() || got.Attempts != m.Attempts {
		s.t.Errorf("message %d handed to the sender as %s, claimed at %v, attempt %d: want PENDING, claimed, attempt %d",
			m.ID, got.Status, got.ClaimedAt, got.Attempts, m.Attempts)
	}
}

func (s *sender) calls() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.sent)
}

func (s *sender) overlap() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxInFlight
}

// sentResult is WhatsApp's acceptance of m, with an id of its own.
func sentResult(m domain.MessageLog) app.SendResult {
	return app.SendResult{Outcome: app.OutcomeSent, ProviderMessageID: fmt.Sprintf("wamid.test.%d.%d", m.ID, m.Attempts)}
}

// clock is a settable app clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// newApp is the real application over the store under test, with the
// default rules, in UTC, for Spanish numbers.
func newApp(t *testing.T, s app.Store, snd app.Sender, now func() time.Time) *app.Application {
	t.Helper()
	a, err := app.New(
		app.Settings{Rules: domain.DefaultRules(168 * time.Hour), Location: time.UTC, PhoneRegion: "ES"},
		app.Deps{Store: s, Sender: snd, Now: now, Logger: slog.New(slog.DiscardHandler)},
	)
	require.NoError(t, err)
	return a
}

// newEnrolment is a student with a valid phone, just enrolled and active in
// a course, with the given progress.
func newEnrolment(t *testing.T, s app.Store, p domain.Progress) fixture {
	t.Helper()
	st, err := s.UpsertStudent(t.Context(), domain.Student{
		MoodleUserID: 42, Username: "ana", FirstName: "Ana", LastName: "Ruiz", Phone: "+34600111222", Lang: "es",
	})
	require.NoError(t, err)
	return mustEnroll(t, s, st, mustCourse(t, s, 7), p)
}

// concurrently runs fn n times at once and returns what each returned.
func concurrently[T any](n int, fn func(i int) T) []T {
	start := make(chan struct{})
	out := make([]T, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			out[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	return out
}

// evaluateAll evaluates the enrollment n times at once and requires every
// evaluation to succeed.
func evaluateAll(t *testing.T, a *app.Application, f fixture, n int, occasion func(i int) domain.Occasion) {
	t.Helper()
	errs := concurrently(n, func(i int) error {
		_, err := a.Evaluate.Handle(t.Context(), app.EvaluateEnrollment{
			EnrollmentID: f.Enrollment.ID, Occasion: occasion(i),
			Trigger: domain.Trigger{Kind: domain.TriggerMoodleEvent, Ref: fmt.Sprintf("event-%d", i)},
		})
		return err
	})
	for i, err := range errs {
		require.NoError(t, err, "evaluation %d", i)
	}
}

func always(o domain.Occasion) func(int) domain.Occasion {
	return func(int) domain.Occasion { return o }
}

func rulesOf(rows []domain.MessageLog) []string {
	var out []string
	for _, m := range rows {
		out = append(out, m.Rule)
	}
	slices.Sort(out)
	return out
}

func testConcurrentWelcome(t *testing.T, s app.Store) {
	f := newEnrolment(t, s, domain.Progress{})
	snd := newSender(t, s, nil)
	evaluateAll(t, newApp(t, s, snd, nil), f, goroutines, always(domain.OnEnrolment))

	rows := allMessages(t, s, app.MessageFilter{})
	require.Len(t, rows, 1, "exactly one welcome")
	assert.Equal(t, "welcome", rows[0].Rule)
	assert.Equal(t, domain.StatusSent, rows[0].Status)
	assert.Equal(t, "+34600111222", rows[0].To)
	assert.Equal(t, []int64{rows[0].ID}, snd.calls(), "sent once")
}

func testConcurrentProgress(t *testing.T, s app.Store) {
	f := newEnrolment(t, s, domain.NewProgress(4, 2))
	snd := newSender(t, s, nil)
	evaluateAll(t, newApp(t, s, snd, nil), f, goroutines, always(domain.OnProgress))

	rows := allMessages(t, s, app.MessageFilter{})
	require.Len(t, rows, 1, "exactly one progress message in the window")
	assert.Equal(t, "progress", rows[0].Rule)
	assert.Equal(t, []string{"Ana", "Prevención de riesgos", "50"}, rows[0].Params)
	assert.Equal(t, domain.StatusSent, rows[0].Status)
	assert.Equal(t, []int64{rows[0].ID}, snd.calls())
}

func testConcurrentMixed(t *testing.T, s app.Store) {
	f := newEnrolment(t, s, domain.NewProgress(4, 2))
	snd := newSender(t, s, nil)
	occasions := []domain.Occasion{domain.OnEnrolment, domain.OnProgress, domain.OnScan}
	evaluateAll(t, newApp(t, s, snd, nil), f, goroutines, func(i int) domain.Occasion { return occasions[i%3] })

	rows := allMessages(t, s, app.MessageFilter{})
	assert.Equal(t, []string{"progress", "welcome"}, rulesOf(rows))
	assert.ElementsMatch(t, ids(rows), snd.calls())
}

// While the first evaluation's send hangs, the others find its row and
// write nothing: the row counts from its commit, not from its send.
func testSlowSender(t *testing.T, s app.Store) {
	f := newEnrolment(t, s, domain.Progress{})
	entered, release := make(chan struct{}), make(chan struct{})
	unblock := sync.OnceFunc(func() { close(release) })
	t.Cleanup(unblock) // never leave the sender hanging, even when the test fails
	snd := newSender(t, s, func(call int, m domain.MessageLog) app.SendResult {
		if call == 1 {
			close(entered)
			<-release
		}
		return sentResult(m)
	})
	a := newApp(t, s, snd, nil)
	first := make(chan error, 1)
	go func() {
		_, err := a.Evaluate.Handle(t.Context(), app.EvaluateEnrollment{
			EnrollmentID: f.Enrollment.ID, Occasion: domain.OnEnrolment,
			Trigger: domain.Trigger{Kind: domain.TriggerMoodleEvent, Ref: "first"},
		})
		first <- err
	}()
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the first evaluation never reached the sender")
	}

	evaluateAll(t, a, f, goroutines-1, always(domain.OnEnrolment))
	rows := allMessages(t, s, app.MessageFilter{})
	require.Len(t, rows, 1, "no second row while the first send is in flight")
	assert.Equal(t, domain.StatusPending, rows[0].Status)
	assert.False(t, rows[0].ClaimedAt.IsZero(), "claimed by the slow sender")

	unblock()
	require.NoError(t, <-first)
	rows = allMessages(t, s, app.MessageFilter{})
	require.Len(t, rows, 1)
	assert.Equal(t, domain.StatusSent, rows[0].Status)
	assert.Equal(t, []int64{rows[0].ID}, snd.calls())
}

// WhatsApp proved nothing was sent: the same row stays PENDING, counts for
// deduplication, and is sent again once due.
func testRetryLaterSender(t *testing.T, s app.Store) {
	ctx := t.Context()
	f := newEnrolment(t, s, domain.Progress{})
	clk := &clock{now: base}
	snd := newSender(t, s, func(call int, m domain.MessageLog) app.SendResult {
		if call == 1 {
			return app.SendResult{Outcome: app.OutcomeRetryLater, RetryAfter: time.Minute,
				ErrorCode: "130429", ErrorMessage: "Rate limit hit"}
		}
		return sentResult(m)
	})
	a := newApp(t, s, snd, clk.Now)
	evaluateAll(t, a, f, goroutines, always(domain.OnEnrolment))

	rows := allMessages(t, s, app.MessageFilter{})
	require.Len(t, rows, 1)
	row := rows[0]
	assert.Equal(t, domain.StatusPending, row.Status)
	assert.True(t, row.ClaimedAt.IsZero(), "released")
	assert.Equal(t, stored(base.Add(time.Minute)), row.NextAttemptAt)
	assert.Equal(t, 1, row.Attempts)
	due, err := s.DueMessages(ctx, clk.Now(), 10)
	require.NoError(t, err)
	assert.Empty(t, due, "not due before its retry time")

	evaluateAll(t, a, f, goroutines, always(domain.OnEnrolment))
	assert.Len(t, allMessages(t, s, app.MessageFilter{}), 1, "a PENDING row counts")

	clk.Advance(2 * time.Minute)
	n, err := a.Send.SendDue(ctx, 10)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	rows = allMessages(t, s, app.MessageFilter{})
	require.Len(t, rows, 1)
	assert.Equal(t, row.ID, rows[0].ID)
	assert.Equal(t, domain.StatusSent, rows[0].Status)
	assert.Equal(t, 2, rows[0].Attempts)
	assert.Equal(t, []int64{row.ID, row.ID}, snd.calls(), "the same row, sent again")
}

// A refusal or an unknown outcome makes the row FAILED and it is never sent
// again. FAILED rows do not count for deduplication (CONTRACT section 5), so
// a later evaluation may write a new row; but never while another row of the
// rule is unsettled, and no row is ever sent twice.
func testFailingSender(t *testing.T, s app.Store) {
	for _, outcome := range []app.SendResult{
		{Outcome: app.OutcomeFailed, ErrorCode: "131026", ErrorMessage: "Message undeliverable"},
		{Outcome: app.OutcomeUnknown, ErrorMessage: "timeout"},
	} {
		ctx := t.Context()
		f := seed(t, s, int64(outcome.Outcome)) // a student of its own
		snd := newSender(t, s, func(int, domain.MessageLog) app.SendResult { return outcome })
		a := newApp(t, s, snd, nil)
		evaluateAll(t, a, f, goroutines, always(domain.OnEnrolment))

		rows := allMessages(t, s, app.MessageFilter{StudentID: f.Student.ID})
		require.NotEmpty(t, rows)
		for _, m := range rows {
			assert.Equal(t, domain.StatusFailed, m.Status, "row %d", m.ID)
			assert.Equal(t, 1, m.Attempts, "row %d", m.ID)
			assert.True(t, m.ClaimedAt.IsZero(), "row %d", m.ID)
		}
		assert.ElementsMatch(t, ids(rows), snd.calls(), "each row sent exactly once")
		assert.Equal(t, 1, snd.overlap(), "a new row only once the one before had failed")

		_, err := a.Send.Handle(ctx, rows[0].ID)
		assert.ErrorIs(t, err, domain.ErrNotClaimable, "a FAILED row is never sent again")
		due, err := s.DueMessages(ctx, time.Now(), 10)
		require.NoError(t, err)
		assert.Empty(t, due)
		assert.Len(t, snd.calls(), len(rows))
	}
}

// Every evaluation writes a row and records how many it found before it:
// with evaluations of one enrollment taking turns, each count appears once.
func testEvaluationsTakeTurns(t *testing.T, s app.Store) {
	f := seed(t, s, 1)
	errs := concurrently(goroutines, func(int) error {
		_, err := s.EvaluateLocked(t.Context(), f.Enrollment.ID, nil, func(st app.EnrollmentState) ([]domain.MessageLog, error) {
			m := f.message("progress", base)
			m.Params = []string{fmt.Sprint(len(st.History))}
			return []domain.MessageLog{m}, nil
		})
		return err
	})
	for i, err := range errs {
		require.NoError(t, err, "evaluation %d", i)
	}
	var seen []string
	for _, m := range allMessages(t, s, app.MessageFilter{}) {
		seen = append(seen, m.Params...)
	}
	var want []string
	for i := range goroutines {
		want = append(want, fmt.Sprint(i))
	}
	assert.ElementsMatch(t, want, seen)
}

// Updates of one row run one after the other: none is lost.
func testConcurrentUpdates(t *testing.T, s app.Store) {
	f := seed(t, s, 1)
	row := insertOne(t, s, f.message("welcome", base))
	errs := concurrently(goroutines, func(int) error {
		_, err := s.UpdateMessage(t.Context(), row.ID, func(m *domain.MessageLog) error {
			m.Attempts++
			return nil
		})
		return err
	})
	for i, err := range errs {
		require.NoError(t, err, "update %d", i)
	}
	got, err := s.GetMessage(t.Context(), row.ID)
	require.NoError(t, err)
	assert.Equal(t, goroutines, got.Attempts)
}

// Senders racing for one PENDING row: one claims it, the others are told it
// is not claimable.
func testConcurrentClaims(t *testing.T, s app.Store) {
	f := newEnrolment(t, s, domain.Progress{})
	snd := newSender(t, s, nil)
	a := newApp(t, s, snd, nil)
	created, err := a.Evaluate.Record(t.Context(), app.EvaluateEnrollment{
		EnrollmentID: f.Enrollment.ID, Occasion: domain.OnEnrolment,
		Trigger: domain.Trigger{Kind: domain.TriggerManual, Ref: "admin"},
	})
	require.NoError(t, err)
	require.Len(t, created, 1)

	errs := concurrently(goroutines, func(int) error {
		_, err := a.Send.Handle(t.Context(), created[0].ID)
		return err
	})
	won := 0
	for _, err := range errs {
		if err == nil {
			won++
			continue
		}
		assert.ErrorIs(t, err, domain.ErrNotClaimable)
	}
	assert.Equal(t, 1, won)
	assert.Equal(t, []int64{created[0].ID}, snd.calls())
}
