package httpapi_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"testing"

	"github.com/acme/notifier/app"
	"github.com/acme/notifier/ports/moodleevent"
)

// FuzzMoodleWebhook posts fuzzed bodies, correctly signed under the body's
// own id (or a fixed id when the body has none), and checks that the
// handler never panics and answers only with the contract's statuses, each
// for its reason: 413 over 1 MiB, 400 for what is not JSON, 401 exactly when
// the body's id is not the webhook-id, 422 for what breaks the schema, and
// otherwise 202 (stored byte for byte) or 200 for an id seen before.
func FuzzMoodleWebhook(f *testing.F) {
	f.Add(moodleBody(f, nil))
	f.Add(moodleBody(f, map[string]any{"event": "course_updated", "user": nil}))
	f.Add(moodleBody(f, map[string]any{"event": "test_event", "user": 1}))
	f.Add(moodleBody(f, map[string]any{"user.id": 42.5, "progress.percent": nil}))
	f.Add([]byte(`{"id":"x"}`))
	f.Add([]byte(`{"id":7}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`nope`))
	f.Add([]byte{})

	s := newMoodleServer(f, moodleNow)
	decoder := moodleevent.NewDecoder()
	f.Fuzz(func(t *testing.T, body []byte) {
		id := bodyID(body)
		headerID := id
		if id == "" {
			headerID = "fuzz-id" // a webhook-id must not be empty
		}
		storedBefore := s.store.count()
		_, seen := s.store.get(headerID)

		rec := s.post(body, moodleHeaders(t, moodleSecret, headerID, moodleNow, body))

		want := expectedStatus(body, id == headerID, seen, decoder)
		if rec.Code != want {
			t.Fatalf("status %d, want %d; body %q; answer %s", rec.Code, want, body, rec.Body.String())
		}
		checkFuzzAnswer(t, s, rec.Code, rec.Header().Get("Content-Type"), headerID, body, storedBefore)
	})
}

// expectedStatus is the contract's answer to a correctly signed, fresh
// delivery of body.
func expectedStatus(body []byte, idMatches, seen bool, d *moodleevent.Decoder) int {
	switch {
	case len(body) > 1<<20:
		return http.StatusRequestEntityTooLarge
	case !json.Valid(body):
		return http.StatusBadRequest
	case !idMatches:
		return http.StatusUnauthorized
	}
	if _, err := d.Decode(body); err != nil {
		var ve *moodleevent.ValidationError
		if errors.As(err, &ve) {
			return http.StatusUnprocessableEntity
		}
		return http.StatusBadRequest
	}
	if seen {
		return http.StatusOK
	}
	return http.StatusAccepted
}

func checkFuzzAnswer(t *testing.T, s *moodleServer, status int, contentType, id string, body []byte, storedBefore int) {
	t.Helper()
	switch status {
	case http.StatusAccepted:
		e, ok := s.store.get(id)
		if !ok || string(e.Payload) != string(body) {
			t.Fatalf("accepted but not stored byte for byte: %q", body)
		}
		if e.State != app.InboundReceived && e.State != app.InboundIgnored {
			t.Fatalf("stored in state %s", e.State)
		}
	case http.StatusOK:
		if s.store.count() != storedBefore {
			t.Fatal("a duplicate stored a new event")
		}
	default:
		if contentType != "application/problem+json" {
			t.Fatalf("status %d answered as %q", status, contentType)
		}
		if s.store.count() != storedBefore {
			t.Fatalf("status %d stored an event", status)
		}
	}
}

// bodyID is the id member of a JSON object when it is a string (the last,
// when repeated, as encoding/json reads it), or "".
func bodyID(b []byte) string {
	var members map[string]json.RawMessage
	var id string
	if json.Unmarshal(b, &members) != nil || json.Unmarshal(members["id"], &id) != nil {
		return ""
	}
	return id
}
