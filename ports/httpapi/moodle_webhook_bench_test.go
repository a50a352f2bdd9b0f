package httpapi_test

import (
	"fmt"
	"net/http"
	"testing"
)

// BenchmarkMoodleWebhook is one delivery through the router: signature
// check, decoding and validation of the event, then a store and a bus that
// do nothing (each delivery is a new event id, so every one is accepted).
func BenchmarkMoodleWebhook(b *testing.B) {
	s := newMoodleServer(b, moodleNow)
	type delivery struct {
		body   []byte
		header http.Header
	}
	ds := make([]delivery, 1000)
	for i := range ds {
		id := fmt.Sprintf("bench-%d", i)
		body := moodleBody(b, map[string]any{"id": id})
		ds[i] = delivery{body, moodleHeaders(b, moodleSecret, id, moodleNow, body)}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		d := ds[i%len(ds)]
		rec := s.post(d.body, d.header)
		if rec.Code != http.StatusAccepted && rec.Code != http.StatusOK {
			b.Fatalf("answer %d: %s", rec.Code, rec.Body)
		}
	}
}
