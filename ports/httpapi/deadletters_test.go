package httpapi_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/notifier/app"
	"github.com/acme/notifier/ports/httpapi"
)

// dlStore is an in-memory app.DeadLetterStore.
type dlStore struct {
	mu      sync.Mutex
	rows    map[int64]app.DeadLetter
	next    int64
	listErr error
}

func (s *dlStore) AddDeadLetter(_ context.Context, d app.DeadLetter) (app.DeadLetter, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next++
	d.ID = s.next
	s.rows[d.ID] = d
	return d, nil
}

func (s *dlStore) ListDeadLetters(_ context.Context, afterID int64, limit int) ([]app.DeadLetter, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.listErr != nil {
		return nil, s.listErr
	}
	var ids []int64
	for id := range s.rows {
		if id > afterID {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	var out []app.DeadLetter
	for _, id := range ids[:min(limit, len(ids))] {
		out = append(out, s.rows[id])
	}
	return out, nil
}

func (s *dlStore) GetDeadLetter(_ context.Context, id int64) (app.DeadLetter, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.rows[id]
	if !ok {
		return app.DeadLetter{}, app.ErrNotFound
	}
	return d, nil
}

func (s *dlStore) DeleteDeadLetter(_ context.Context, id int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.rows[id]; !ok {
		return app.ErrNotFound
	}
	delete(s.rows, id)
	return nil
}

func (s *dlStore) CountDeadLetters(context.Context) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.rows), nil
}

// dlBus records publishes; a payload "unpublishable" fails.
type dlBus struct {
	mu     sync.Mutex
	topics []string
	msgs   []app.BusMessage
}

func (b *dlBus) Publish(_ context.Context, topic string, msgs ...app.BusMessage) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, m := range msgs {
		if string(m.Payload) == "unpublishable" {
			return fmt.Errorf("redis down: %w", app.ErrUnavailable)
		}
		b.topics = append(b.topics, topic)
		b.msgs = append(b.msgs, m)
	}
	return nil
}

const dlToken = "dl-token"

type dlServer struct {
	store  *dlStore
	bus    *dlBus
	router *gin.Engine
}

func newDLServer(t *testing.T) *dlServer {
	t.Helper()
	gin.SetMode(gin.TestMode)
	s := &dlServer{store: &dlStore{rows: map[int64]app.DeadLetter{}}, bus: &dlBus{}}
	dls, err := app.NewDeadLetters(app.DeadLettersDeps{Store: s.store, Bus: s.bus, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	s.router = httpapi.NewRouter(httpapi.Options{
		Logger:      slog.New(slog.DiscardHandler),
		AdminTokens: []string{dlToken},
		AdminRoutes: []func(gin.IRoutes){httpapi.DeadLetterRoutes{DeadLetters: dls}.Register},
	})
	return s
}

func (s *dlServer) add(t *testing.T, payload string, md map[string]string) app.DeadLetter {
	t.Helper()
	d, err := s.store.AddDeadLetter(t.Context(), app.DeadLetter{
		MessageID: fmt.Sprintf("m-%d", s.store.next+1), Topic: app.TopicMoodleEvents, Handler: "moodle-event",
		Payload: []byte(payload), Metadata: md, Reason: "boom", Attempts: 5,
		FirstFailedAt: time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC),
		LastFailedAt:  time.Date(2026, 12, 3, 10, 0, 3, 0, time.FixedZone("CET", 3600)),
	})
	require.NoError(t, err)
	return d
}

func (s *dlServer) do(t *testing.T, method, path, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+dlToken)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	s.router.ServeHTTP(rec, req)
	return rec
}

type dlPage struct {
	Items      []map[string]any `json:"items"`
	NextCursor *string          `json:"next_cursor"`
}

func dlProblem(t *testing.T, rec *httptest.ResponseRecorder, status int) httpapi.Problem {
	t.Helper()
	require.Equal(t, status, rec.Code, rec.Body.String())
	assert.Equal(t, "application/problem+json", rec.Header().Get("Content-Type"))
	var p httpapi.Problem
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p))
	assert.Equal(t, status, p.Status)
	return p
}

func TestDeadLetterListShowsEveryField(t *testing.T) {
	s := newDLServer(t)
	s.add(t, `{"id": "ev-1", "n": 1}`, map[string]string{"correlation_id": "ev-1", "event": "course_updated"})
	s.add(t, "\x00\xffnot json", nil)

	rec := s.do(t, http.MethodGet, "/api/v1/dead-letters", "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var page dlPage
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &page))
	assert.Nil(t, page.NextCursor, "one page holds them all")
	require.Len(t, page.Items, 2)
	assert.Equal(t, map[string]any{
		"id": 1.0, "topic": "moodle-events", "handler": "moodle-event", "reason": "boom", "attempts": 5.0,
		"first_failed_at": "2026-12-03T10:00:00Z", "last_failed_at": "2026-12-03T09:00:03Z",
		"message_id": "m-1", "correlation_id": "ev-1",
		"metadata":         map[string]any{"correlation_id": "ev-1", "event": "course_updated"},
		"payload":          map[string]any{"id": "ev-1", "n": 1.0},
		"payload_encoding": "json",
	}, page.Items[0])
	assert.Nil(t, page.Items[1]["correlation_id"])
	assert.Equal(t, map[string]any{}, page.Items[1]["metadata"])
	assert.Equal(t, "base64", page.Items[1]["payload_encoding"])
	assert.Equal(t, base64.StdEncoding.EncodeToString([]byte("\x00\xffnot json")), page.Items[1]["payload"])
}

func TestDeadLetterListPages(t *testing.T) {
	s := newDLServer(t)
	for range 5 {
		s.add(t, "{}", nil)
	}
	var ids []float64
	path := "/api/v1/dead-letters?limit=2"
	for range 10 {
		rec := s.do(t, http.MethodGet, path, "")
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		var page dlPage
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &page))
		for _, it := range page.Items {
			ids = append(ids, it["id"].(float64))
		}
		if page.NextCursor == nil {
			break
		}
		path = "/api/v1/dead-letters?limit=2&cursor=" + *page.NextCursor
	}
	assert.Equal(t, []float64{1, 2, 3, 4, 5}, ids)
}

func TestDeadLetterListRefusesBadParameters(t *testing.T) {
	s := newDLServer(t)
	for _, q := range []string{"limit=0", "limit=501", "limit=ten"} {
		p := dlProblem(t, s.do(t, http.MethodGet, "/api/v1/dead-letters?"+q, ""), http.StatusBadRequest)
		require.Len(t, p.Errors, 1, q)
		assert.Equal(t, "limit", p.Errors[0].Field)
	}
	p := dlProblem(t, s.do(t, http.MethodGet, "/api/v1/dead-letters?cursor=not-a-cursor!", ""), http.StatusBadRequest)
	assert.Equal(t, "cursor", p.Errors[0].Field)

	s.store.listErr = fmt.Errorf("db: %w", app.ErrUnavailable)
	dlProblem(t, s.do(t, http.MethodGet, "/api/v1/dead-letters", ""), http.StatusServiceUnavailable)
}

func TestDeadLetterRoutesNeedTheToken(t *testing.T) {
	s := newDLServer(t)
	req := httptest.NewRequest(http.MethodGet, "/api/v1/dead-letters", nil)
	rec := httptest.NewRecorder()
	s.router.ServeHTTP(rec, req)
	dlProblem(t, rec, http.StatusUnauthorized)
}

func TestDeadLetterReplayOne(t *testing.T) {
	s := newDLServer(t)
	d := s.add(t, `{"id":"ev-1"}`, map[string]string{"correlation_id": "ev-1"})
	bad := s.add(t, "unpublishable", nil)

	rec := s.do(t, http.MethodPost, fmt.Sprintf("/api/v1/dead-letters/%d/replay", d.ID), "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.JSONEq(t, fmt.Sprintf(`{"moved":1,"failed":0,"moved_ids":[%d],"failed_ids":[],"failures":[]}`, d.ID), rec.Body.String())
	require.Len(t, s.bus.msgs, 1)
	assert.Equal(t, app.TopicMoodleEvents, s.bus.topics[0])
	assert.Equal(t, "ev-1", s.bus.msgs[0].Metadata["correlation_id"])

	p := dlProblem(t, s.do(t, http.MethodPost, fmt.Sprintf("/api/v1/dead-letters/%d/replay", d.ID), ""), http.StatusNotFound)
	assert.Contains(t, p.Detail, fmt.Sprintf("no dead letter %d", d.ID))
	dlProblem(t, s.do(t, http.MethodPost, "/api/v1/dead-letters/abc/replay", ""), http.StatusNotFound)

	p = dlProblem(t, s.do(t, http.MethodPost, fmt.Sprintf("/api/v1/dead-letters/%d/replay", bad.ID), ""), http.StatusServiceUnavailable)
	assert.Contains(t, p.Detail, "redis down")
	_, err := s.store.GetDeadLetter(t.Context(), bad.ID)
	assert.NoError(t, err, "it stays")
}

func TestDeadLetterReplayMany(t *testing.T) {
	s := newDLServer(t)
	a := s.add(t, "{}", nil)
	b := s.add(t, "unpublishable", nil)
	c := s.add(t, "{}", nil)

	rec := s.do(t, http.MethodPost, "/api/v1/dead-letters/replay", fmt.Sprintf(`{"ids":[%d,%d,999]}`, a.ID, b.ID))
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var v httpapi.ReplayView
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &v))
	assert.Equal(t, 1, v.Moved)
	assert.Equal(t, 2, v.Failed)
	assert.Equal(t, []int64{a.ID}, v.MovedIDs)
	assert.Equal(t, []int64{b.ID, 999}, v.FailedIDs)
	assert.Contains(t, v.Failures[0].Reason, "publish")
	assert.Equal(t, "not found", v.Failures[1].Reason)

	rec = s.do(t, http.MethodPost, "/api/v1/dead-letters/replay", `{"all": true}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &v))
	assert.Equal(t, []int64{c.ID}, v.MovedIDs)
	assert.Equal(t, []int64{b.ID}, v.FailedIDs)
	n, _ := s.store.CountDeadLetters(t.Context())
	assert.Equal(t, 1, n)
}

func TestDeadLetterReplayRefusesBadBodies(t *testing.T) {
	s := newDLServer(t)
	for _, tc := range []struct {
		body   string
		status int
		field  string
	}{
		{`{}`, http.StatusUnprocessableEntity, "ids"},
		{`{"all": false}`, http.StatusUnprocessableEntity, "ids"},
		{`{"ids": []}`, http.StatusUnprocessableEntity, "ids"},
		{`{"ids": [1], "all": true}`, http.StatusUnprocessableEntity, "all"},
		{`{"ids": [1, 0]}`, http.StatusUnprocessableEntity, "ids[1]"},
		{`{"ids": ["1"]}`, http.StatusUnprocessableEntity, "ids"},
		{`{"ids": [1], "force": true}`, http.StatusUnprocessableEntity, "force"},
		{`{"ids": [1,`, http.StatusBadRequest, ""},
		{``, http.StatusBadRequest, ""},
	} {
		p := dlProblem(t, s.do(t, http.MethodPost, "/api/v1/dead-letters/replay", tc.body), tc.status)
		if tc.field != "" {
			require.NotEmpty(t, p.Errors, tc.body)
			assert.Equal(t, tc.field, p.Errors[0].Field, tc.body)
		}
	}
	many := strings.Repeat("1,", 500) + "1"
	p := dlProblem(t, s.do(t, http.MethodPost, "/api/v1/dead-letters/replay", `{"ids":[`+many+`]}`), http.StatusUnprocessableEntity)
	assert.Equal(t, "ids", p.Errors[0].Field)
	assert.Empty(t, s.bus.msgs)
}

func TestDeadLetterDelete(t *testing.T) {
	s := newDLServer(t)
	d := s.add(t, "{}", nil)
	rec := s.do(t, http.MethodDelete, fmt.Sprintf("/api/v1/dead-letters/%d", d.ID), "")
	assert.Equal(t, http.StatusNoContent, rec.Code)
	assert.Empty(t, rec.Body.String())
	p := dlProblem(t, s.do(t, http.MethodDelete, fmt.Sprintf("/api/v1/dead-letters/%d", d.ID), ""), http.StatusNotFound)
	assert.Contains(t, p.Detail, "no dead letter")
	assert.Empty(t, s.bus.msgs, "a delete publishes nothing")
}
