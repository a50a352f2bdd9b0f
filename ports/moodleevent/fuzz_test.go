package moodleevent_test

import (
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/acme/notifier/app"
	"github.com/acme/notifier/domain"
	"github.com/acme/notifier/ports/moodleevent"
)

var fuzzID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)

// FuzzDecode: whatever the body, Decode does not panic, answers ErrSyntax
// exactly for what is not JSON, a ValidationError that names fields for JSON
// that breaks the schema, and otherwise an event that keeps every rule.
func FuzzDecode(f *testing.F) {
	f.Add(body(f))
	f.Add(body(f, edit{"event", "course_updated"}, edit{"user", absent}))
	f.Add(body(f, edit{"event", "user_updated"}, edit{"course", absent}))
	f.Add(body(f, edit{"event", "test_event"}, edit{"user", 5}))
	f.Add(body(f, edit{"progress", map[string]any{"scorm_total": 0, "scorm_completed": 0, "percent": nil}}))
	f.Add(body(f, edit{"user.id", raw("42.5")}, edit{"course.id", "7"}))
	f.Add([]byte(`{"schema":1,"id":"a","event":"user_enrolment_created","occurred_at":1,"user":{"id":1},"course":{"id":1},"progress":{"scorm_total":3,"scorm_completed":2,"percent":66.67}}`))
	f.Add([]byte(`{"ID":"x","Schema":1,"EVENT":"course_updated","occurred_AT":1,"course":{"ID":2}}`))
	f.Add([]byte(`{"id":"a","id":"b"}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"schema":1e0,"id":"\u0061","event":"x","occurred_at":-0}`))
	f.Add([]byte("{\"schema\":1,\"id\":\"a\",\"event\":\"\xff\",\"occurred_at\":1}"))
	f.Add([]byte(`{`))
	f.Add([]byte(``))
	d := moodleevent.NewDecoder()
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := d.Decode(b)
		if !json.Valid(b) {
			if !errors.Is(err, moodleevent.ErrSyntax) {
				t.Fatalf("not JSON, want ErrSyntax, got %v", err)
			}
			return
		}
		if err != nil {
			checkValidationError(t, err)
			var ve *moodleevent.ValidationError
			if errors.As(err, &ve) && ve.ID != bodyID(b) {
				t.Fatalf("ValidationError.ID = %q; the body's id is %q", ve.ID, bodyID(b))
			}
			return
		}
		checkEvent(t, ev)
		if ev.ID != bodyID(b) {
			t.Fatalf("Decode read id %q; the body's id is %q", ev.ID, bodyID(b))
		}
	})
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

func checkValidationError(t *testing.T, err error) {
	t.Helper()
	var ve *moodleevent.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("JSON, want nil or a ValidationError, got %T %v", err, err)
	}
	if len(ve.Errors) == 0 {
		t.Fatal("a ValidationError names no field")
	}
	for _, fe := range ve.Errors {
		if fe.Message == "" || strings.HasPrefix(fe.Message, "is invalid (") {
			t.Fatalf("field %q has no proper message: %q", fe.Field, fe.Message)
		}
	}
}

func checkEvent(t *testing.T, ev app.MoodleEvent) {
	t.Helper()
	if !fuzzID.MatchString(ev.ID) || ev.Name == "" || ev.OccurredAt.Unix() <= 0 || ev.OccurredAt.Year() > 9999 {
		t.Fatalf("bad envelope accepted: %+v", ev)
	}
	if !app.KnownEvent(ev.Name) {
		if ev.User != nil || ev.Course != nil || ev.Enrolment != nil || ev.Progress != nil {
			t.Fatalf("unknown event %q carries blocks: %+v", ev.Name, ev)
		}
		return
	}
	if ev.User == nil && ev.Name != app.EventCourseUpdated {
		t.Fatalf("%s without user", ev.Name)
	}
	if ev.Course == nil && ev.Name != app.EventUserUpdated {
		t.Fatalf("%s without course", ev.Name)
	}
	if ev.User != nil && ev.User.ID <= 0 || ev.Course != nil && ev.Course.ID <= 0 {
		t.Fatalf("non-positive id accepted: %+v %+v", ev.User, ev.Course)
	}
	if e := ev.Enrolment; e != nil && e.Status != domain.EnrolmentActive && e.Status != domain.EnrolmentSuspended {
		t.Fatalf("enrolment status %d accepted", e.Status)
	}
	if p := ev.Progress; p != nil {
		if p.Total < 0 || p.Completed < 0 || p.Completed > p.Total || (p.Percent == nil) != (p.Total == 0) {
			t.Fatalf("bad progress accepted: %+v", p)
		}
		if p.Percent != nil && (*p.Percent < 0 || *p.Percent > 100) {
			t.Fatalf("percent %v accepted", *p.Percent)
		}
	}
}
