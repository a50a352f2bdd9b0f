package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/notifier/app"
	"github.com/acme/notifier/internal/testenv"
	"github.com/acme/notifier/ports/httpapi"
)

// The tests' secrets: the library's own example, and a second one for
// rotation.
const (
	moodleSecret      = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	moodleNextSecret  = "whsec_qiEjWqjGa3tz7JT+YHKV7i8Nag3wpNwgnM/l+9/sKwA="
	moodleOtherSecret = "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	moodleEventID     = "0f8fad5b-d9cb-469f-a165-70867728950e"
)

// moodleNow is the handler's clock in the tests.
var moodleNow = time.Unix(1764756300, 0)

// moodleStore is an in-memory app.InboundStore, correct under concurrency
// (the real stores pass adapters/storetest); only InsertInbound is used.
type moodleStore struct {
	app.InboundStore
	mu     sync.Mutex
	events map[string]app.InboundEvent
	err    error
}

func (s *moodleStore) InsertInbound(_ context.Context, events ...app.InboundEvent) ([]bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil, s.err
	}
	if s.events == nil {
		s.events = map[string]app.InboundEvent{}
	}
	isNew := make([]bool, len(events))
	for i, e := range events {
		if _, ok := s.events[e.ID]; !ok {
			s.events[e.ID] = e
			isNew[i] = true
		}
	}
	return isNew, nil
}

func (s *moodleStore) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.events)
}

func (s *moodleStore) get(id string) (app.InboundEvent, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.events[id]
	return e, ok
}

// moodleBus records what is published, or fails with err.
type moodleBus struct {
	mu   sync.Mutex
	msgs []app.BusMessage
	err  error
}

func (b *moodleBus) Publish(_ context.Context, topic string, msgs ...app.BusMessage) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return b.err
	}
	if topic != app.TopicMoodleEvents {
		return fmt.Errorf("unexpected topic %q", topic)
	}
	b.msgs = append(b.msgs, msgs...)
	return nil
}

func (b *moodleBus) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.msgs)
}

// moodleServer is the router with only the Moodle webhook, over fakes.
type moodleServer struct {
	router http.Handler
	store  *moodleStore
	bus    *moodleBus
}

func newMoodleServer(t testing.TB, now time.Time, secrets ...string) *moodleServer {
	t.Helper()
	gin.SetMode(gin.TestMode)
	if len(secrets) == 0 {
		secrets = []string{moodleSecret}
	}
	s := &moodleServer{store: &moodleStore{events: map[string]app.InboundEvent{}}, bus: &moodleBus{}}
	log := slog.New(slog.DiscardHandler)
	clock := func() time.Time { return now }
	ingest, err := app.NewIngestHandler(s.store, s.bus, clock, log)
	require.NoError(t, err)
	wh, err := httpapi.NewMoodleWebhook(secrets, ingest, clock)
	require.NoError(t, err)
	s.router = httpapi.NewRouter(httpapi.Options{Logger: log, Routes: []func(gin.IRoutes){wh.Register}})
	return s
}

// moodleHeaders signs body as Moodle does.
func moodleHeaders(t testing.TB, secret, id string, at time.Time, body []byte) http.Header {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	require.NoError(t, err)
	sig, err := wh.Sign(id, at, body)
	require.NoError(t, err)
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("webhook-id", id)
	h.Set("webhook-timestamp", strconv.FormatInt(at.Unix(), 10))
	h.Set("webhook-signature", sig)
	return h
}

func (s *moodleServer) post(body []byte, h http.Header) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/webhooks/moodle", bytes.NewReader(body))
	for k, v := range h {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	s.router.ServeHTTP(rec, req)
	return rec
}

// deliver posts body signed with the first secret, now, under the body's id.
func (s *moodleServer) deliver(t testing.TB, body []byte) *httptest.ResponseRecorder {
	t.Helper()
	return s.post(body, moodleHeaders(t, moodleSecret, moodleEventID, moodleNow, body))
}

// moodleBody is the contract's example event, with edits to its top level
// or its blocks ("user.id").
func moodleBody(t testing.TB, edits map[string]any) []byte {
	t.Helper()
	ev := map[string]any{
		"schema": 1, "id": moodleEventID, "event": "user_enrolment_created", "occurred_at": 1764756000,
		"site": "https://moodle.example.com",
		"user": map[string]any{"id": 42, "username": "ana", "firstname": "Ana", "lastname": "Ruiz",
			"email": "ana@example.com", "phone": "+34 600 111 222", "lang": "es", "timezone": "Europe/Madrid",
			"roles": []string{"student"}},
		"course": map[string]any{"id": 7, "shortname": "PRL-01", "fullname": "Prevención de riesgos",
			"startdate": 1764547200, "enddate": 1767225600},
		"enrolment": map[string]any{"id": 991, "status": 0, "timestart": 1764756000, "timeend": 0},
		"progress":  map[string]any{"scorm_total": 4, "scorm_completed": 2, "percent": 50.0},
		"moodle":    map[string]any{"eventname": `\core\event\user_enrolment_created`, "objectid": "991"},
	}
	for path, v := range edits {
		obj := ev
		block, field, nested := strings.Cut(path, ".")
		if nested {
			obj = ev[block].(map[string]any)
		} else {
			field = block
		}
		if v == nil {
			delete(obj, field)
			continue
		}
		obj[field] = v
	}
	b, err := json.Marshal(ev)
	require.NoError(t, err)
	return b
}

type answer struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

func requireAnswer(t *testing.T, rec *httptest.ResponseRecorder, status int, want answer) {
	t.Helper()
	require.Equal(t, status, rec.Code, rec.Body.String())
	assert.Contains(t, rec.Header().Get("Content-Type"), "application/json")
	var got answer
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
	assert.Equal(t, want, got)
}

func requireProblem(t *testing.T, rec *httptest.ResponseRecorder, status int) httpapi.Problem {
	t.Helper()
	require.Equal(t, status, rec.Code, rec.Body.String())
	assert.Equal(t, "application/problem+json", rec.Header().Get("Content-Type"))
	var p httpapi.Problem
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p))
	assert.Equal(t, status, p.Status)
	assert.NotEmpty(t, p.Title)
	assert.NotEmpty(t, p.Detail)
	return p
}

func TestNewMoodleWebhookRefusesBadSetup(t *testing.T) {
	ingest, err := app.NewIngestHandler(&moodleStore{}, &moodleBus{}, time.Now, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	for name, build := range map[string]func() (*httpapi.MoodleWebhook, error){
		"no secret": func() (*httpapi.MoodleWebhook, error) { return httpapi.NewMoodleWebhook(nil, ingest, time.Now) },
		"bad secret": func() (*httpapi.MoodleWebhook, error) {
			return httpapi.NewMoodleWebhook([]string{"whsec_!!"}, ingest, time.Now)
		},
		"no ingest": func() (*httpapi.MoodleWebhook, error) {
			return httpapi.NewMoodleWebhook([]string{moodleSecret}, nil, time.Now)
		},
		"no clock": func() (*httpapi.MoodleWebhook, error) {
			return httpapi.NewMoodleWebhook([]string{moodleSecret}, ingest, nil)
		},
	} {
		h, err := build()
		assert.Error(t, err, name)
		assert.Nil(t, h, name)
	}
	_, err = httpapi.NewMoodleWebhook([]string{moodleSecret, "whsec_s3cr3t!"}, ingest, time.Now)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "secret 2")
	assert.NotContains(t, err.Error(), "s3cr3t", "the secret is not quoted")
}

func TestMoodleWebhookAcceptsAndQueues(t *testing.T) {
	s := newMoodleServer(t, moodleNow)
	body := moodleBody(t, nil)
	requireAnswer(t, s.deliver(t, body), http.StatusAccepted, answer{moodleEventID, "accepted"})

	stored, ok := s.store.get(moodleEventID)
	require.True(t, ok)
	assert.Equal(t, app.InboundEvent{ID: moodleEventID, Source: "moodle", Name: "user_enrolment_created",
		Payload: body, ReceivedAt: moodleNow, State: app.InboundReceived}, stored)
	require.Equal(t, 1, s.bus.count())
	assert.Equal(t, app.BusMessage{ID: moodleEventID, Payload: body,
		Metadata: map[string]string{"correlation_id": moodleEventID, "event": "user_enrolment_created"}}, s.bus.msgs[0])
}

func TestMoodleWebhookDuplicate(t *testing.T) {
	s := newMoodleServer(t, moodleNow)
	body := moodleBody(t, nil)
	requireAnswer(t, s.deliver(t, body), http.StatusAccepted, answer{moodleEventID, "accepted"})
	// A re-delivery is signed anew, maybe with another body: the id decides.
	again := moodleBody(t, map[string]any{"occurred_at": 1764756001})
	requireAnswer(t, s.deliver(t, again), http.StatusOK, answer{moodleEventID, "duplicate"})
	assert.Equal(t, 1, s.bus.count(), "a duplicate is not queued again")
	stored, _ := s.store.get(moodleEventID)
	assert.Equal(t, body, stored.Payload, "the first delivery is kept")
}

func TestMoodleWebhookUnknownEventIsIgnored(t *testing.T) {
	s := newMoodleServer(t, moodleNow)
	// Only the envelope of an unknown event is checked.
	body := moodleBody(t, map[string]any{"event": "test_event", "user": "not checked", "course": nil})
	requireAnswer(t, s.deliver(t, body), http.StatusAccepted, answer{moodleEventID, "ignored"})
	stored, ok := s.store.get(moodleEventID)
	require.True(t, ok)
	assert.Equal(t, app.InboundIgnored, stored.State)
	assert.Equal(t, "test_event", stored.Name)
	assert.Zero(t, s.bus.count())

	requireAnswer(t, s.deliver(t, body), http.StatusOK, answer{moodleEventID, "duplicate"})
}

// Every class of bad input of CONTRACT section 3 gets its status, as
// problem+json, and leaves nothing stored or queued.
func TestMoodleWebhookBadInput(t *testing.T) {
	good := moodleBody(t, nil)
	signed := func(body []byte) http.Header { return moodleHeaders(t, moodleSecret, moodleEventID, moodleNow, body) }
	with := func(h http.Header, key, value string) http.Header {
		h = h.Clone()
		if value == "" {
			h.Del(key)
		} else {
			h.Set(key, value)
		}
		return h
	}
	wrongSecret := moodleHeaders(t, moodleOtherSecret, moodleEventID, moodleNow, good)
	otherID := moodleHeaders(t, moodleSecret, "another-id", moodleNow, good)
	validSig := signed(good).Get("webhook-signature")
	oversized := append(bytes.Clone(good), bytes.Repeat([]byte(" "), 1<<20)...)
	notObject := []byte(`["` + moodleEventID + `"]`)

	cases := []struct {
		name   string
		body   []byte
		header http.Header
		status int
		fields []string // for 422: the fields named
	}{
		{"no signature headers at all", good, http.Header{}, 401, nil},
		{"webhook-id missing", good, with(signed(good), "webhook-id", ""), 401, nil},
		{"webhook-timestamp missing", good, with(signed(good), "webhook-timestamp", ""), 401, nil},
		{"webhook-signature missing", good, with(signed(good), "webhook-signature", ""), 401, nil},
		{"signature not base64", good, with(signed(good), "webhook-signature", "v1,!!!"), 401, nil},
		{"signature without version", good, with(signed(good), "webhook-signature", strings.TrimPrefix(validSig, "v1,")), 401, nil},
		{"signature of another version", good, with(signed(good), "webhook-signature", "v2,"+strings.TrimPrefix(validSig, "v1,")), 401, nil},
		{"signature garbage", good, with(signed(good), "webhook-signature", "garbage"), 401, nil},
		{"signed with an unknown secret", good, wrongSecret, 401, nil},
		{"body changed after signing", moodleBody(t, map[string]any{"user.id": 43}), signed(good), 401, nil},
		{"id changed after signing", good, with(signed(good), "webhook-id", "another-id"), 401, nil},
		{"timestamp changed after signing", good, with(signed(good), "webhook-timestamp", strconv.FormatInt(moodleNow.Unix()-1, 10)), 401, nil},
		{"timestamp not a number", good, with(signed(good), "webhook-timestamp", "yesterday"), 401, nil},
		{"timestamp with a fraction", good, with(signed(good), "webhook-timestamp", "1764756300.0"), 401, nil},
		{"timestamp with a sign", good, with(signed(good), "webhook-timestamp", "+1764756300"), 401, nil},
		{"timestamp with a leading zero", good, with(signed(good), "webhook-timestamp", "01764756300"), 401, nil},
		{"timestamp too old", good, moodleHeaders(t, moodleSecret, moodleEventID, moodleNow.Add(-301*time.Second), good), 401, nil},
		{"timestamp too new", good, moodleHeaders(t, moodleSecret, moodleEventID, moodleNow.Add(301*time.Second), good), 401, nil},
		{"body id differs from webhook-id", good, otherID, 401, nil},
		{"body id missing", moodleBody(t, map[string]any{"id": nil}), signed(moodleBody(t, map[string]any{"id": nil})), 401, nil},
		{"body id not a string", moodleBody(t, map[string]any{"id": 42}), with(moodleHeaders(t, moodleSecret, "42", moodleNow, moodleBody(t, map[string]any{"id": 42})), "webhook-id", "42"), 401, nil},
		{"body not an object", notObject, signed(notObject), 401, nil},
		{"bad signature wins over bad JSON", []byte("nope"), wrongSecret, 401, nil},
		{"id mismatch wins over the schema", moodleBody(t, map[string]any{"user.id": "42"}), moodleHeaders(t, moodleSecret, "x", moodleNow, moodleBody(t, map[string]any{"user.id": "42"})), 401, nil},
		{"not JSON", []byte("nope"), signed([]byte("nope")), 400, nil},
		{"empty body", []byte{}, signed([]byte{}), 400, nil},
		{"cut JSON", good[:len(good)-1], signed(good[:len(good)-1]), 400, nil},
		{"two JSON values", append(bytes.Clone(good), []byte(" {}")...), signed(append(bytes.Clone(good), []byte(" {}")...)), 400, nil},
		{"invalid UTF-8 outside strings", append(bytes.Clone(good), 0xff), signed(append(bytes.Clone(good), 0xff)), 400, nil},
		{"schema: one field", moodleBody(t, map[string]any{"user.id": "42"}), signed(moodleBody(t, map[string]any{"user.id": "42"})), 422, []string{"user.id"}},
		{"schema: every bad field", moodleBody(t, map[string]any{"schema": 2, "course.enddate": -1, "enrolment.status": 2, "progress.percent": 101, "moodle": "x"}),
			signed(moodleBody(t, map[string]any{"schema": 2, "course.enddate": -1, "enrolment.status": 2, "progress.percent": 101, "moodle": "x"})), 422,
			[]string{"schema", "moodle", "course.enddate", "enrolment.status", "progress.percent"}},
		{"schema: user missing", moodleBody(t, map[string]any{"user": nil}), signed(moodleBody(t, map[string]any{"user": nil})), 422, []string{"user"}},
		{"schema: unknown event, bad envelope", moodleBody(t, map[string]any{"event": "test_event", "occurred_at": 0}),
			signed(moodleBody(t, map[string]any{"event": "test_event", "occurred_at": 0})), 422, []string{"occurred_at"}},
		{"over 1 MiB", oversized, signed(oversized), 413, nil},
		{"over 1 MiB, unsigned", oversized, http.Header{}, 413, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newMoodleServer(t, moodleNow)
			p := requireProblem(t, s.post(tc.body, tc.header), tc.status)
			if tc.status == http.StatusUnprocessableEntity {
				var fields []string
				for _, f := range p.Errors {
					fields = append(fields, f.Field)
					assert.NotEmpty(t, f.Message, f.Field)
				}
				assert.ElementsMatch(t, tc.fields, fields)
			} else {
				assert.Empty(t, p.Errors)
			}
			assert.Zero(t, s.store.count(), "nothing stored")
			assert.Zero(t, s.bus.count(), "nothing queued")
		})
	}
}

func TestMoodleWebhookProblemNamesTheField(t *testing.T) {
	s := newMoodleServer(t, moodleNow)
	body := moodleBody(t, map[string]any{"user.id": 42.5})
	p := requireProblem(t, s.deliver(t, body), http.StatusUnprocessableEntity)
	assert.Equal(t, []httpapi.FieldError{{Field: "user.id", Message: "must be an integer, not 42.5"}}, p.Errors)
}

// Rotation: a delivery signed with any configured secret is accepted, and
// a header may carry several signatures.
func TestMoodleWebhookSecretRotation(t *testing.T) {
	body := moodleBody(t, nil)
	s := newMoodleServer(t, moodleNow, moodleSecret, moodleNextSecret)
	requireAnswer(t, s.post(body, moodleHeaders(t, moodleNextSecret, moodleEventID, moodleNow, body)),
		http.StatusAccepted, answer{moodleEventID, "accepted"})

	s = newMoodleServer(t, moodleNow, moodleSecret, moodleNextSecret)
	requireProblem(t, s.post(body, moodleHeaders(t, moodleOtherSecret, moodleEventID, moodleNow, body)), http.StatusUnauthorized)

	// A sender in the middle of a rotation signs with both; one match is enough.
	s = newMoodleServer(t, moodleNow, moodleNextSecret)
	h := moodleHeaders(t, moodleOtherSecret, moodleEventID, moodleNow, body)
	both := h.Get("webhook-signature") + " " + moodleHeaders(t, moodleNextSecret, moodleEventID, moodleNow, body).Get("webhook-signature")
	h.Set("webhook-signature", both)
	requireAnswer(t, s.post(body, h), http.StatusAccepted, answer{moodleEventID, "accepted"})
}

func TestMoodleWebhookTimestampWindow(t *testing.T) {
	body := moodleBody(t, nil)
	for _, tc := range []struct {
		offset time.Duration
		status int
	}{
		{-300 * time.Second, http.StatusAccepted},
		{300 * time.Second, http.StatusAccepted},
		{-301 * time.Second, http.StatusUnauthorized},
		{301 * time.Second, http.StatusUnauthorized},
		{0, http.StatusAccepted},
	} {
		t.Run(tc.offset.String(), func(t *testing.T) {
			s := newMoodleServer(t, moodleNow)
			rec := s.post(body, moodleHeaders(t, moodleSecret, moodleEventID, moodleNow.Add(tc.offset), body))
			assert.Equal(t, tc.status, rec.Code, rec.Body.String())
		})
	}
}

// paddedBody is a valid event of exactly n bytes: JSON allows trailing
// spaces.
func paddedBody(t *testing.T, n int) []byte {
	t.Helper()
	b := moodleBody(t, nil)
	require.Less(t, len(b), n)
	return append(b, bytes.Repeat([]byte(" "), n-len(b))...)
}

func TestMoodleWebhookBodyLimit(t *testing.T) {
	exact := paddedBody(t, 1<<20)
	s := newMoodleServer(t, moodleNow)
	requireAnswer(t, s.deliver(t, exact), http.StatusAccepted, answer{moodleEventID, "accepted"})
	stored, _ := s.store.get(moodleEventID)
	assert.Len(t, stored.Payload, 1<<20)

	over := paddedBody(t, 1<<20+1)
	s = newMoodleServer(t, moodleNow)
	requireProblem(t, s.deliver(t, over), http.StatusRequestEntityTooLarge)
	assert.Zero(t, s.store.count())

	// A body of unannounced length is cut at the limit while it is read.
	for name, body := range map[string][]byte{"exact": exact, "over": over} {
		s = newMoodleServer(t, moodleNow)
		req := httptest.NewRequest(http.MethodPost, "/webhooks/moodle", struct{ *bytes.Reader }{bytes.NewReader(body)})
		req.ContentLength = -1
		for k, v := range moodleHeaders(t, moodleSecret, moodleEventID, moodleNow, body) {
			req.Header[k] = v
		}
		rec := httptest.NewRecorder()
		s.router.ServeHTTP(rec, req)
		want := map[string]int{"exact": http.StatusAccepted, "over": http.StatusRequestEntityTooLarge}[name]
		assert.Equal(t, want, rec.Code, name)
	}
}

func TestMoodleWebhookStoreUnavailable(t *testing.T) {
	s := newMoodleServer(t, moodleNow)
	s.store.err = fmt.Errorf("postgres: insert: %w", app.ErrUnavailable)
	rec := s.deliver(t, moodleBody(t, nil))
	p := requireProblem(t, rec, http.StatusServiceUnavailable)
	assert.NotContains(t, p.Detail, "postgres", "the store's error stays inside")
	assert.NotEmpty(t, rec.Header().Get("Retry-After"))
	assert.Zero(t, s.bus.count())
}

// The event is stored before the answer: a bus that fails does not cost
// the 202, recovery publishes it later.
func TestMoodleWebhookBusDownStillAccepts(t *testing.T) {
	s := newMoodleServer(t, moodleNow)
	s.bus.err = errors.New("redis: connection refused")
	requireAnswer(t, s.deliver(t, moodleBody(t, nil)), http.StatusAccepted, answer{moodleEventID, "accepted"})
	stored, ok := s.store.get(moodleEventID)
	require.True(t, ok)
	assert.Equal(t, app.InboundReceived, stored.State)
}

// Ten deliveries of one event at once: one is accepted, nine are
// duplicates, and it is queued once.
func TestMoodleWebhookConcurrentDeliveries(t *testing.T) {
	s := newMoodleServer(t, moodleNow)
	body := moodleBody(t, nil)
	h := moodleHeaders(t, moodleSecret, moodleEventID, moodleNow, body)
	const n = 10
	codes := make([]int, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			codes[i] = s.post(body, h).Code
		})
	}
	close(start)
	wg.Wait()
	count := map[int]int{}
	for _, c := range codes {
		count[c]++
	}
	assert.Equal(t, map[int]int{http.StatusAccepted: 1, http.StatusOK: n - 1}, count)
	assert.Equal(t, 1, s.store.count())
	assert.Equal(t, 1, s.bus.count())
}

// webhookVector is one case of testdata/webhook-vectors.json, the vectors
// the Moodle plugin's tests sign with too.
type webhookVector struct {
	Name      string `json:"name"`
	Secret    string `json:"secret"`
	MsgID     string `json:"msg_id"`
	Timestamp int64  `json:"timestamp"`
	Body      string `json:"body"`
	Signature string `json:"signature"`
}

func TestMoodleWebhookSharedVectors(t *testing.T) {
	path := filepath.Join(testenv.RepoRoot(), "testdata", "webhook-vectors.json")
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		testenv.Unavailable(t, "%s is absent", path)
	}
	require.NoError(t, err)
	var vectors []webhookVector
	require.NoError(t, json.Unmarshal(b, &vectors))
	require.NotEmpty(t, vectors)
	for _, v := range vectors {
		t.Run(v.Name, func(t *testing.T) {
			at := time.Unix(v.Timestamp, 0)
			// The vector's signature is the library's.
			wh, err := standardwebhooks.NewWebhook(v.Secret)
			require.NoError(t, err)
			sig, err := wh.Sign(v.MsgID, at, []byte(v.Body))
			require.NoError(t, err)
			require.Equal(t, v.Signature, sig)

			s := newMoodleServer(t, at, moodleOtherSecret, v.Secret)
			h := http.Header{}
			h.Set("Content-Type", "application/json")
			h.Set("webhook-id", v.MsgID)
			h.Set("webhook-timestamp", strconv.FormatInt(v.Timestamp, 10))
			h.Set("webhook-signature", v.Signature)
			rec := s.post([]byte(v.Body), h)
			require.Equal(t, http.StatusAccepted, rec.Code, rec.Body.String())
			var got answer
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &got))
			assert.Equal(t, v.MsgID, got.ID)
			stored, ok := s.store.get(v.MsgID)
			require.True(t, ok)
			assert.Equal(t, v.Body, string(stored.Payload), "stored byte for byte")
			if app.KnownEvent(stored.Name) {
				assert.Equal(t, "accepted", got.Status)
				assert.Equal(t, 1, s.bus.count())
			} else {
				assert.Equal(t, "ignored", got.Status)
			}
		})
	}
}
