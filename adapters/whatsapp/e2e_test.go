package whatsapp_test

// End to end through the real application and a real SQLite store: the
// client against the strict fake Cloud API, and the webhooks' use cases.

import (
	"bytes"
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/notifier/adapters/sqlite"
	"github.com/acme/notifier/adapters/whatsapp"
	"github.com/acme/notifier/adapters/whatsapp/whatsapptest"
	"github.com/acme/notifier/app"
	"github.com/acme/notifier/domain"
)

// world is the application with its store, the fake Cloud API, a bus that
// records, and a student enrolled in a course.
type world struct {
	t       *testing.T
	store   *sqlite.Store
	fake    *whatsapptest.Server
	app     *app.Application
	wa      *app.WhatsAppWebhooks
	bus     *recordingBus
	clock   *offsetClock
	student domain.Student
	enroll  domain.Enrollment
}

// offsetClock is real time moved forward by hand, so that back-offs pass
// without sleeping (the store stamps contact changes with real time).
type offsetClock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *offsetClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *offsetClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

type recordingBus struct {
	mu   sync.Mutex
	msgs []app.BusMessage
	err  error
}

func (b *recordingBus) Publish(_ context.Context, topic string, msgs ...app.BusMessage) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return b.err
	}
	if topic != app.TopicWhatsAppWebhooks {
		panic("unexpected topic " + topic)
	}
	b.msgs = append(b.msgs, msgs...)
	return nil
}

func (b *recordingBus) published() []app.BusMessage {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]app.BusMessage(nil), b.msgs...)
}

func newWorld(t *testing.T, phone string, tweak ...func(*whatsapp.ClientConfig)) *world {
	t.Helper()
	ctx := t.Context()
	store, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "notifier.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	fake := whatsapptest.New(t)
	client := newClient(t, fake, tweak...)
	clock := &offsetClock{}
	settings := app.Settings{Rules: domain.DefaultRules(168 * time.Hour), Location: time.UTC, PhoneRegion: "ES"}
	application, err := app.New(settings, app.Deps{Store: store, Sender: client, Now: clock.Now})
	require.NoError(t, err)
	bus := &recordingBus{}
	wa, err := app.NewWhatsAppWebhooks(settings, app.WhatsAppWebhookDeps{Store: store, WhatsApp: store, Inbound: store,
		Bus: bus, Now: clock.Now})
	require.NoError(t, err)

	st, err := store.UpsertStudent(ctx, domain.Student{MoodleUserID: 42, Username: "ana", FirstName: "Ana",
		LastName: "Ruiz", Phone: phone, Lang: "es"})
	require.NoError(t, err)
	course, err := store.UpsertCourse(ctx, domain.Course{MoodleCourseID: 7, ShortName: "PRL-01",
		FullName: "Prevención de riesgos"})
	require.NoError(t, err)
	e, err := store.UpsertEnrollment(ctx, domain.Enrollment{StudentID: st.ID, CourseID: course.ID,
		Status: domain.EnrolmentActive, Roles: []string{"student"}})
	require.NoError(t, err)
	return &world{t: t, store: store, fake: fake, app: application, wa: wa, bus: bus, clock: clock, student: st, enroll: e}
}

// welcome evaluates the enrollment as a new enrolment: the welcome rule
// fires and the row is sent after commit.
func (w *world) welcome() []domain.MessageLog {
	w.t.Helper()
	res, err := w.app.Evaluate.Handle(w.t.Context(), app.EvaluateEnrollment{EnrollmentID: w.enroll.ID,
		Occasion: domain.OnEnrolment, Trigger: domain.Trigger{Kind: domain.TriggerMoodleEvent, Ref: "evt-1"}})
	require.NoError(w.t, err)
	return res.Created
}

func (w *world) rows() []domain.MessageLog {
	w.t.Helper()
	rows, err := w.store.ListMessages(w.t.Context(), app.MessageFilter{Limit: 500})
	require.NoError(w.t, err)
	return rows
}

func (w *world) row(id int64) domain.MessageLog {
	w.t.Helper()
	m, err := w.store.GetMessage(w.t.Context(), id)
	require.NoError(w.t, err)
	return m
}

// deliver posts a webhook body as the port does (store and queue), then
// processes what was queued, as the bus handler does.
func (w *world) deliver(body []byte) app.WebhookReceipt {
	w.t.Helper()
	before := len(w.bus.published())
	receipt, err := w.wa.Receive.Handle(w.t.Context(), body)
	require.NoError(w.t, err)
	for _, m := range w.bus.published()[before:] {
		require.NoError(w.t, w.wa.Process.Handle(w.t.Context(), m.Payload))
	}
	return receipt
}

func (w *world) studentNow() domain.Student {
	w.t.Helper()
	st, err := w.store.GetStudent(w.t.Context(), w.student.ID)
	require.NoError(w.t, err)
	return st
}

func TestSentRowKeepsRequestAndResponse(t *testing.T) {
	w := newWorld(t, "+34 600 111 222")
	created := w.welcome()
	require.Len(t, created, 1)
	m := w.row(created[0].ID)

	assert.Equal(t, domain.StatusSent, m.Status)
	assert.False(t, m.DryRun)
	require.Equal(t, 1, w.fake.Count())
	req := w.fake.Requests()[0]
	require.NoError(t, req.Invalid)
	assert.Equal(t, req.WAMID, m.ProviderMessageID)
	assert.JSONEq(t, string(req.Body), string(m.Request))
	assert.Contains(t, string(m.Response), `"wa_id":"34600111222"`)
	assert.Contains(t, string(m.Request), `"biz_opaque_callback_data":"msglog:`)
	assert.Equal(t, "+34600111222", m.To)
}

// A throttled send leaves the same row PENDING; once its back-off has
// passed it is sent again, on that row: no new row.
func TestThrottledSendIsResentOnTheSameRow(t *testing.T) {
	for _, code := range []int{130429, 131056, 4, 80007} {
		t.Run(whatsapptest.Error(code).String(), func(t *testing.T) {
			w := newWorld(t, "+34 600 111 222")
			w.fake.Enqueue(whatsapptest.Error(code))

			created := w.welcome()
			require.Len(t, created, 1)
			m := w.row(created[0].ID)
			assert.Equal(t, domain.StatusPending, m.Status)
			assert.Equal(t, 1, m.Attempts)
			assert.True(t, m.ClaimedAt.IsZero(), "released")
			assert.True(t, m.NextAttemptAt.After(w.clock.Now()), "not due before its back-off")
			assert.NotEmpty(t, m.ErrorCode)

			n, err := w.app.Send.SendDue(t.Context(), 10)
			require.NoError(t, err)
			assert.Zero(t, n, "not due yet")

			w.clock.Advance(2 * time.Hour)
			n, err = w.app.Send.SendDue(t.Context(), 10)
			require.NoError(t, err)
			assert.Equal(t, 1, n)

			m = w.row(created[0].ID)
			assert.Equal(t, domain.StatusSent, m.Status)
			assert.Equal(t, 2, m.Attempts)
			reqs := w.fake.Requests()
			require.Len(t, reqs, 2)
			assert.Equal(t, reqs[1].WAMID, m.ProviderMessageID)
			assert.JSONEq(t, string(reqs[0].Body), string(reqs[1].Body), "the same message, the same callback data")
			assert.Len(t, w.rows(), 1, "no new row")

			// And nothing more goes.
			w.clock.Advance(2 * time.Hour)
			n, err = w.app.Send.SendDue(t.Context(), 10)
			require.NoError(t, err)
			assert.Zero(t, n)
			assert.Equal(t, 2, w.fake.Count())
		})
	}
}

// A permanent refusal fails the row with Meta's code, for good.
func TestPermanentErrorIsNeverResent(t *testing.T) {
	for _, code := range []int{131026, 131047, 131051, 132001, 100, 190, 368, 131042} {
		t.Run(whatsapptest.Error(code).String(), func(t *testing.T) {
			w := newWorld(t, "+34 600 111 222")
			w.fake.Enqueue(whatsapptest.Error(code))
			created := w.welcome()
			require.Len(t, created, 1)
			m := w.row(created[0].ID)
			assert.Equal(t, domain.StatusFailed, m.Status)
			assert.Equal(t, whatsapptest.Error(code).Code(), m.ErrorCode)
			assert.NotEmpty(t, m.ErrorMessage)
			assert.False(t, m.FailedAt.IsZero())
			assert.NotEmpty(t, m.Response)

			w.clock.Advance(48 * time.Hour)
			n, err := w.app.Send.SendDue(t.Context(), 10)
			require.NoError(t, err)
			assert.Zero(t, n)
			assert.Equal(t, 1, w.fake.Count(), "never sent again")
		})
	}
}

// An unknown outcome fails the row with outcome_unknown; neither the sweep
// nor a new evaluation sends it again.
func TestUnknownOutcomeIsNeverResent(t *testing.T) {
	for name, answer := range map[string]whatsapptest.Answer{
		"timeout":         whatsapptest.Hang(),
		"connection lost": whatsapptest.Drop(),
		"5xx":             whatsapptest.Raw(502, "<html>Bad Gateway</html>"),
		"131000":          whatsapptest.Error(131000),
	} {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t, "+34 600 111 222", func(c *whatsapp.ClientConfig) { c.Timeout = time.Second })
			w.fake.Enqueue(answer)
			created := w.welcome()
			require.Len(t, created, 1)
			m := w.row(created[0].ID)
			assert.Equal(t, domain.StatusFailed, m.Status)
			assert.Equal(t, domain.ErrCodeOutcomeUnknown, m.ErrorCode)

			w.clock.Advance(48 * time.Hour)
			n, err := w.app.Send.SendDue(t.Context(), 10)
			require.NoError(t, err)
			assert.Zero(t, n)
			assert.Empty(t, w.welcome(), "a new evaluation does not repeat it")
			assert.Equal(t, 1, w.fake.Count())
		})
	}
}

func TestConnectionRefusedKeepsTheRowPending(t *testing.T) {
	w := newWorld(t, "+34 600 111 222")
	w.fake.Close() // nothing listens any more
	created := w.welcome()
	require.Len(t, created, 1)
	m := w.row(created[0].ID)
	assert.Equal(t, domain.StatusPending, m.Status, "%s", m.ErrorMessage)
	assert.Equal(t, whatsapp.ErrCodeNotSent, m.ErrorCode)
	assert.True(t, m.NextAttemptAt.After(w.clock.Now()))
}

// sentRow sends the welcome and returns its row.
func (w *world) sentRow() domain.MessageLog {
	w.t.Helper()
	created := w.welcome()
	require.Len(w.t, created, 1)
	m := w.row(created[0].ID)
	require.Equal(w.t, domain.StatusSent, m.Status)
	return m
}

// Every order of sent, delivered and read, each delivered twice, ends in
// the same row: READ, with the three times of Meta's statuses.
func TestStatusesInEveryOrderEndTheSame(t *testing.T) {
	base := time.Now().Add(time.Minute).Truncate(time.Second).UTC()
	times := map[string]time.Time{"sent": base, "delivered": base.Add(time.Second), "read": base.Add(2 * time.Second)}
	validated := map[string]bool{}
	for _, order := range permutations([]string{"sent", "delivered", "read"}) {
		t.Run(order[0]+"-"+order[1]+"-"+order[2], func(t *testing.T) {
			w := newWorld(t, "+34 600 111 222")
			m := w.sentRow()
			for _, s := range append(order, order...) {
				body := whatsapptest.StatusWebhook(whatsapptest.Status{WAMID: m.ProviderMessageID, Status: s,
					Timestamp: times[s], RecipientID: "34600111222", CallbackData: whatsapp.CallbackData(m.ID)})
				if !validated[s] {
					require.NoError(t, whatsapptest.ValidateWebhook(t, body), "Meta's shape")
					validated[s] = true
				}
				w.deliver(body)
			}
			got := w.row(m.ID)
			assert.Equal(t, domain.StatusRead, got.Status)
			assert.Equal(t, times["delivered"], got.DeliveredAt)
			assert.Equal(t, times["read"], got.ReadAt)
			assert.Equal(t, m.SentAt, got.SentAt, "the send already stamped SENT")
			assert.Empty(t, got.ErrorCode)
		})
	}
}

// A late failed does not undo a delivery; a failed on a SENT row records
// Meta's error.
func TestFailedStatus(t *testing.T) {
	w := newWorld(t, "+34 600 111 222")
	m := w.sentRow()
	failed := whatsapptest.Status{WAMID: m.ProviderMessageID, Status: "failed", RecipientID: "34600111222",
		ErrorCode: 131049, ErrorTitle: "This message was not delivered to maintain healthy ecosystem engagement.",
		ErrorDetails: "In order to maintain a healthy ecosystem engagement, the message failed to be delivered."}
	require.NoError(t, whatsapptest.ValidateWebhook(t, whatsapptest.StatusWebhook(failed)))
	w.deliver(whatsapptest.StatusWebhook(failed))
	got := w.row(m.ID)
	assert.Equal(t, domain.StatusFailed, got.Status)
	assert.Equal(t, "131049", got.ErrorCode)
	assert.Contains(t, got.ErrorMessage, "healthy ecosystem engagement")
	assert.False(t, got.FailedAt.IsZero())

	// Delivered after failed: FAILED is final.
	w.deliver(whatsapptest.StatusWebhook(whatsapptest.Status{WAMID: m.ProviderMessageID, Status: "delivered",
		RecipientID: "34600111222"}))
	assert.Equal(t, domain.StatusFailed, w.row(m.ID).Status)

	// On a delivered row a failed changes nothing.
	w2 := newWorld(t, "+34 600 111 222")
	m2 := w2.sentRow()
	w2.deliver(whatsapptest.StatusWebhook(whatsapptest.Status{WAMID: m2.ProviderMessageID, Status: "delivered",
		RecipientID: "34600111222"}))
	failed.WAMID = m2.ProviderMessageID
	w2.deliver(whatsapptest.StatusWebhook(failed))
	got = w2.row(m2.ID)
	assert.Equal(t, domain.StatusDelivered, got.Status)
	assert.Empty(t, got.ErrorCode)
}

// A status that arrives before the send recorded its wamid finds the row by
// biz_opaque_callback_data, and stores the wamid.
func TestStatusBeforeTheWamidIsStored(t *testing.T) {
	w := newWorld(t, "+34 600 111 222")
	w.fake.SetDefault(whatsapptest.Hang()) // the send never returns in time
	ctx := t.Context()
	rows, err := w.app.Evaluate.Record(ctx, app.EvaluateEnrollment{EnrollmentID: w.enroll.ID,
		Occasion: domain.OnEnrolment, Trigger: domain.Trigger{Kind: domain.TriggerMoodleEvent, Ref: "e"}})
	require.NoError(t, err)
	require.Len(t, rows, 1)
	// A sender holds the row, its request on the way.
	_, err = w.store.UpdateMessage(ctx, rows[0].ID, func(m *domain.MessageLog) error { return m.Claim(time.Now()) })
	require.NoError(t, err)

	w.deliver(whatsapptest.StatusWebhook(whatsapptest.Status{WAMID: "wamid.EARLY", Status: "delivered",
		RecipientID: "34600111222", CallbackData: whatsapp.CallbackData(rows[0].ID)}))

	got := w.row(rows[0].ID)
	assert.Equal(t, domain.StatusDelivered, got.Status)
	assert.Equal(t, "wamid.EARLY", got.ProviderMessageID)
	assert.True(t, got.ClaimedAt.IsZero(), "WhatsApp has it: no sender holds it any more")

	// The next status finds it by wamid, even without callback data.
	w.deliver(whatsapptest.StatusWebhook(whatsapptest.Status{WAMID: "wamid.EARLY", Status: "read",
		RecipientID: "34600111222"}))
	assert.Equal(t, domain.StatusRead, w.row(rows[0].ID).Status)

	// Callback data naming a row that holds another wamid is not trusted.
	w.deliver(whatsapptest.StatusWebhook(whatsapptest.Status{WAMID: "wamid.OTHER", Status: "failed",
		RecipientID: "34600111222", CallbackData: whatsapp.CallbackData(rows[0].ID), ErrorCode: 131026}))
	assert.Equal(t, domain.StatusRead, w.row(rows[0].ID).Status)
}

func TestStatusesOfUnknownMessagesAreIgnored(t *testing.T) {
	w := newWorld(t, "+34 600 111 222")
	m := w.sentRow()
	for _, st := range []whatsapptest.Status{
		{WAMID: "wamid.NOT_OURS", Status: "delivered", RecipientID: "34600111222"},
		{WAMID: "wamid.NOT_OURS2", Status: "read", RecipientID: "34600111222", CallbackData: "something else"},
		{WAMID: "wamid.NOT_OURS3", Status: "read", RecipientID: "34600111222", CallbackData: "msglog:999999"},
		{WAMID: m.ProviderMessageID, Status: "deleted", RecipientID: "34600111222"},
	} {
		w.deliver(whatsapptest.StatusWebhook(st))
	}
	assert.Equal(t, domain.StatusSent, w.row(m.ID).Status)
}

// Meta delivers the same body again: it is stored and queued once.
func TestDuplicateDeliveryIsStoredOnce(t *testing.T) {
	w := newWorld(t, "+34 600 111 222")
	m := w.sentRow()
	body := whatsapptest.StatusWebhook(whatsapptest.Status{WAMID: m.ProviderMessageID, Status: "delivered",
		RecipientID: "34600111222"})
	first := w.deliver(body)
	second := w.deliver(body)
	assert.False(t, first.Duplicate)
	assert.True(t, second.Duplicate)
	assert.Equal(t, first.ID, second.ID)
	assert.Len(t, w.bus.published(), 1)
	ev, err := w.store.GetInbound(t.Context(), first.ID)
	require.NoError(t, err)
	assert.Equal(t, "whatsapp", ev.Source)
	assert.Equal(t, "whatsapp_webhook", ev.Name)
	assert.Equal(t, body, ev.Payload)
	assert.Equal(t, app.InboundProcessed, ev.State, "processing marks it")
	assert.Equal(t, domain.StatusDelivered, w.row(m.ID).Status)
}

// STOP opts the student out: the next rule writes a FAILED opted_out row and
// nothing reaches WhatsApp; START opts back in and the rule sends again.
func TestOptOutAndBackIn(t *testing.T) {
	w := newWorld(t, "600 111 222") // written without the country code
	w.deliver(whatsapptest.MessageWebhook(whatsapptest.Inbound{From: "34600111222", Text: "  stop "}))
	require.True(t, w.studentNow().OptedOut)

	created := w.welcome()
	require.Len(t, created, 1)
	assert.Equal(t, domain.StatusFailed, created[0].Status)
	assert.Equal(t, domain.ErrCodeOptedOut, created[0].ErrorCode)
	assert.Zero(t, w.fake.Count(), "nothing is sent to an opted-out student")
	assert.Empty(t, w.welcome(), "the refusal is not recorded again while nothing changes")

	w.deliver(whatsapptest.MessageWebhook(whatsapptest.Inbound{From: "34600111222", Text: "Alta"}))
	require.False(t, w.studentNow().OptedOut)
	created = w.welcome()
	require.Len(t, created, 1)
	assert.Equal(t, domain.StatusSent, created[0].Status)
	assert.Equal(t, 1, w.fake.Count())
}

func TestOptOutWords(t *testing.T) {
	for text, optedOut := range map[string]bool{
		"STOP": true, "stop": true, " Baja\n": true, "unsubscribe": true, "UNSUBSCRIBE ": true,
		"START": false, "alta": false,
	} {
		t.Run(text, func(t *testing.T) {
			w := newWorld(t, "+34 600 111 222")
			if !optedOut {
				_, err := w.store.UpdateStudent(t.Context(), w.student.ID, func(s *domain.Student) error {
					s.OptedOut = true
					return nil
				})
				require.NoError(t, err)
			}
			w.deliver(whatsapptest.MessageWebhook(whatsapptest.Inbound{From: "34600111222", Text: text}))
			assert.Equal(t, optedOut, w.studentNow().OptedOut)
		})
	}
	// Anything else changes nothing.
	for _, text := range []string{"stop please", "hola", "", "STOPP", "S T O P"} {
		w := newWorld(t, "+34 600 111 222")
		w.deliver(whatsapptest.MessageWebhook(whatsapptest.Inbound{From: "34600111222", Text: text}))
		assert.False(t, w.studentNow().OptedOut, "%q", text)
	}
}

// In one delivery, STOP and START count in the order they were sent.
func TestCommandsInOneDeliveryFollowTheirTimestamps(t *testing.T) {
	w := newWorld(t, "+34 600 111 222")
	now := time.Now()
	w.deliver(whatsapptest.MessageWebhook(
		whatsapptest.Inbound{From: "34600111222", Text: "START", Timestamp: now.Add(time.Second)},
		whatsapptest.Inbound{From: "34600111222", Text: "STOP", Timestamp: now},
	))
	assert.False(t, w.studentNow().OptedOut)
}

func TestOptOutFromAnUnknownNumberIsIgnored(t *testing.T) {
	w := newWorld(t, "+34 600 111 222")
	w.deliver(whatsapptest.MessageWebhook(whatsapptest.Inbound{From: "34600999999", Text: "STOP"}))
	w.deliver(whatsapptest.MessageWebhook(whatsapptest.Inbound{From: "4915112345678", Text: "STOP"}))
	assert.False(t, w.studentNow().OptedOut)
}

// Students sharing a number are all opted out by it.
func TestOptOutReachesEveryStudentWithTheNumber(t *testing.T) {
	w := newWorld(t, "+34 600 111 222")
	other, err := w.store.UpsertStudent(t.Context(), domain.Student{MoodleUserID: 43, Username: "luis",
		Phone: "0034 600-111-222"})
	require.NoError(t, err)
	w.deliver(whatsapptest.MessageWebhook(whatsapptest.Inbound{From: "34600111222", Text: "STOP"}))
	assert.True(t, w.studentNow().OptedOut)
	got, err := w.store.GetStudent(t.Context(), other.ID)
	require.NoError(t, err)
	assert.True(t, got.OptedOut)
}

// A message that carries only a business-scoped user id is matched through
// the number Meta sent with that id before (here, in a status webhook);
// an id never seen with a number is logged and ignored.
func TestBusinessScopedUserIDs(t *testing.T) {
	w := newWorld(t, "+34 600 111 222")
	w.deliver(whatsapptest.MessageWebhook(whatsapptest.Inbound{UserID: "ES.1502576394655843", Text: "STOP"}))
	assert.False(t, w.studentNow().OptedOut, "an unknown BSUID is ignored, without failing")

	m := w.sentRow()
	w.deliver(whatsapptest.StatusWebhook(whatsapptest.Status{WAMID: m.ProviderMessageID, Status: "delivered",
		RecipientID: "34600111222", RecipientUserID: "ES.1502576394655843"}))
	w.deliver(whatsapptest.MessageWebhook(whatsapptest.Inbound{UserID: "ES.1502576394655843", Text: "STOP"}))
	assert.True(t, w.studentNow().OptedOut)

	// A message with both links them too.
	w2 := newWorld(t, "+34 600 111 222")
	w2.deliver(whatsapptest.MessageWebhook(whatsapptest.Inbound{From: "34600111222", UserID: "ES.77", Text: "hola"}))
	w2.deliver(whatsapptest.MessageWebhook(whatsapptest.Inbound{From: "34600111222", UserID: "ES.77", Text: "STOP"}))
	w2.deliver(whatsapptest.MessageWebhook(whatsapptest.Inbound{UserID: "ES.77", Text: "START"}))
	assert.False(t, w2.studentNow().OptedOut)
	phone, err := w2.store.PhoneByWhatsAppUser(t.Context(), "ES.77")
	require.NoError(t, err)
	assert.Equal(t, "+34600111222", phone)
}

func permutations(xs []string) [][]string {
	if len(xs) <= 1 {
		return [][]string{append([]string(nil), xs...)}
	}
	var out [][]string
	for i := range xs {
		rest := append(append([]string(nil), xs[:i]...), xs[i+1:]...)
		for _, p := range permutations(rest) {
			out = append(out, append([]string{xs[i]}, p...))
		}
	}
	return out
}

// The built webhooks follow Meta's description, which catches a broken one.
func TestWebhookBuildersFollowTheDescription(t *testing.T) {
	good := whatsapptest.StatusWebhook(whatsapptest.Status{WAMID: "wamid.A", Status: "failed", RecipientID: "34600111222",
		ErrorCode: 131026, ErrorTitle: "Message undeliverable"})
	require.NoError(t, whatsapptest.ValidateWebhook(t, good))
	bad := bytes.Replace(good, []byte(`"recipient_id"`), []byte(`"recipient"`), 1)
	assert.Error(t, whatsapptest.ValidateWebhook(t, bad), "recipient_id is required")
	bad = bytes.Replace(good, []byte(`"failed"`), []byte(`"lost"`), 1)
	assert.Error(t, whatsapptest.ValidateWebhook(t, bad), "an unknown status")
}
