package moodleevent_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/notifier/app"
	"github.com/acme/notifier/domain"
	"github.com/acme/notifier/internal/testenv"
	"github.com/acme/notifier/ports/moodleevent"
)

// absent deletes a member in an edit.
type absentT struct{}

var absent absentT

// edit sets (or, with absent, deletes) the member at a dotted path.
type edit struct {
	path  string
	value any
}

// raw is a JSON literal written as is (json.Marshal would write 42.0 as 42).
func raw(s string) json.RawMessage { return json.RawMessage(s) }

// contractEvent is the example of CONTRACT section 3.
func contractEvent() map[string]any {
	return map[string]any{
		"schema": 1, "id": "0f8fad5b-d9cb-469f-a165-70867728950e", "event": "user_enrolment_created",
		"occurred_at": 1764756000, "site": "https://moodle.example.com",
		"user": map[string]any{"id": 42, "username": "ana", "firstname": "Ana", "lastname": "Ruiz",
			"email": "ana@example.com", "phone": "+34 600 111 222", "lang": "es", "timezone": "Europe/Madrid",
			"roles": []any{"student"}},
		"course": map[string]any{"id": 7, "shortname": "PRL-01", "fullname": "Prevención de riesgos",
			"startdate": 1764547200, "enddate": 1767225600},
		"enrolment": map[string]any{"id": 991, "status": 0, "timestart": 1764756000, "timeend": 0},
		"progress":  map[string]any{"scorm_total": 4, "scorm_completed": 2, "percent": raw("50.0")},
		"moodle": map[string]any{"eventname": `\core\event\user_enrolment_created`, "objectid": 991,
			"relateduserid": 42, "courseid": 7, "contextinstanceid": 7, "other": map[string]any{"enrol": "manual"},
			"timecreated": 1764756000},
	}
}

// body is the contract's example with the edits applied.
func body(t testing.TB, edits ...edit) []byte {
	t.Helper()
	ev := contractEvent()
	for _, e := range edits {
		parts := strings.Split(e.path, ".")
		obj := ev
		for _, p := range parts[:len(parts)-1] {
			next, ok := obj[p].(map[string]any)
			require.True(t, ok, "edit %s: %s is not an object", e.path, p)
			obj = next
		}
		last := parts[len(parts)-1]
		if e.value == absent {
			delete(obj, last)
			continue
		}
		obj[last] = e.value
	}
	b, err := json.Marshal(ev)
	require.NoError(t, err)
	return b
}

func ts(sec int64) time.Time { return time.Unix(sec, 0).UTC() }

func TestDecodeTheContractExample(t *testing.T) {
	ev, err := moodleevent.NewDecoder().Decode(body(t))
	require.NoError(t, err)
	fifty := 50.0
	assert.Equal(t, app.MoodleEvent{
		ID: "0f8fad5b-d9cb-469f-a165-70867728950e", Name: app.EventEnrolmentCreated, OccurredAt: ts(1764756000),
		User: &app.MoodleUser{ID: 42, Username: "ana", FirstName: "Ana", LastName: "Ruiz", Email: "ana@example.com",
			Phone: "+34 600 111 222", Lang: "es", Timezone: "Europe/Madrid", Roles: []string{"student"}},
		Course: &app.MoodleCourse{ID: 7, ShortName: "PRL-01", FullName: "Prevención de riesgos",
			StartDate: ts(1764547200), EndDate: ts(1767225600)},
		Enrolment: &app.MoodleEnrolment{ID: 991, Status: domain.EnrolmentActive, TimeStart: ts(1764756000)},
		Progress:  &domain.Progress{Total: 4, Completed: 2, Percent: &fifty},
	}, ev)
}

func TestDecodeConversions(t *testing.T) {
	cases := []struct {
		name  string
		edits []edit
		check func(t *testing.T, ev app.MoodleEvent)
	}{
		{"enddate 0 is no end date", []edit{{"course.enddate", 0}},
			func(t *testing.T, ev app.MoodleEvent) { assert.True(t, ev.Course.EndDate.IsZero()) }},
		{"enddate absent is no end date", []edit{{"course.enddate", absent}},
			func(t *testing.T, ev app.MoodleEvent) { assert.True(t, ev.Course.EndDate.IsZero()) }},
		{"timestart 0 is none", []edit{{"enrolment.timestart", 0}},
			func(t *testing.T, ev app.MoodleEvent) { assert.True(t, ev.Enrolment.TimeStart.IsZero()) }},
		{"timezone 99 is Moodle's default", []edit{{"user.timezone", "99"}},
			func(t *testing.T, ev app.MoodleEvent) { assert.Empty(t, ev.User.Timezone) }},
		{"suspended", []edit{{"enrolment.status", 1}},
			func(t *testing.T, ev app.MoodleEvent) {
				assert.Equal(t, domain.EnrolmentSuspended, ev.Enrolment.Status)
			}},
		{"no roles", []edit{{"user.roles", []any{}}},
			func(t *testing.T, ev app.MoodleEvent) { assert.Nil(t, ev.User.Roles) }},
		{"several roles", []edit{{"user.roles", []any{"student", "editingteacher"}}},
			func(t *testing.T, ev app.MoodleEvent) {
				assert.Equal(t, []string{"student", "editingteacher"}, ev.User.Roles)
			}},
		{"no SCORM: unknown percent", []edit{{"progress", map[string]any{"scorm_total": 0, "scorm_completed": 0, "percent": nil}}},
			func(t *testing.T, ev app.MoodleEvent) {
				assert.Equal(t, &domain.Progress{}, ev.Progress)
				assert.False(t, ev.Progress.Known())
			}},
		{"percent as Moodle gave it", []edit{{"progress", map[string]any{"scorm_total": 3, "scorm_completed": 2, "percent": raw("66.66666666666667")}}},
			func(t *testing.T, ev app.MoodleEvent) { assert.InDelta(t, 66.66666666666667, *ev.Progress.Percent, 0) }},
		{"percent rounded by the plugin", []edit{{"progress", map[string]any{"scorm_total": 3, "scorm_completed": 2, "percent": 67}}},
			func(t *testing.T, ev app.MoodleEvent) { assert.InDelta(t, 67.0, *ev.Progress.Percent, 0) }},
		{"no progress block", []edit{{"progress", absent}},
			func(t *testing.T, ev app.MoodleEvent) { assert.Nil(t, ev.Progress) }},
		{"no enrolment block", []edit{{"enrolment", absent}},
			func(t *testing.T, ev app.MoodleEvent) { assert.Nil(t, ev.Enrolment) }},
		{"null blocks are absent", []edit{{"enrolment", nil}, {"progress", nil}, {"moodle", nil}, {"site", nil}},
			func(t *testing.T, ev app.MoodleEvent) { assert.Nil(t, ev.Enrolment) }},
		{"course_updated without user", []edit{{"event", "course_updated"}, {"user", absent}},
			func(t *testing.T, ev app.MoodleEvent) { assert.Nil(t, ev.User) }},
		{"user_updated without course", []edit{{"event", "user_updated"}, {"course", absent}},
			func(t *testing.T, ev app.MoodleEvent) { assert.Nil(t, ev.Course) }},
		{"moodle mixes strings and numbers", []edit{{"moodle", map[string]any{"objectid": "991", "courseid": 7, "other": nil}}},
			func(t *testing.T, ev app.MoodleEvent) { assert.Equal(t, int64(991), ev.Enrolment.ID) }},
		{"unknown members are ignored", []edit{{"future", map[string]any{"x": 1}}, {"user.middlename", 5}, {"progress.quiz_total", "x"}},
			func(t *testing.T, ev app.MoodleEvent) { assert.Equal(t, "Ana", ev.User.FirstName) }},
		{"optional strings may be empty or absent", []edit{{"user.phone", ""}, {"user.email", absent}},
			func(t *testing.T, ev app.MoodleEvent) { assert.Empty(t, ev.User.Phone+ev.User.Email) }},
		{"largest ids and times", []edit{{"user.id", raw("9223372036854775807")}, {"course.enddate", raw("253402300799")}},
			func(t *testing.T, ev app.MoodleEvent) {
				assert.Equal(t, int64(9223372036854775807), ev.User.ID)
				assert.Equal(t, 9999, ev.Course.EndDate.Year())
			}},
		{"id of every allowed character", []edit{{"id", "AZaz09._:-"}},
			func(t *testing.T, ev app.MoodleEvent) { assert.Equal(t, "AZaz09._:-", ev.ID) }},
		{"id of 64 characters", []edit{{"id", strings.Repeat("a", 64)}},
			func(t *testing.T, ev app.MoodleEvent) { assert.Len(t, ev.ID, 64) }},
	}
	d := moodleevent.NewDecoder()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := d.Decode(body(t, tc.edits...))
			require.NoError(t, err)
			tc.check(t, ev)
		})
	}
}

// Each field rule of the schema, broken alone: the answer names that field
// and only it, with a message that says what is wrong.
func TestDecodeFieldRules(t *testing.T) {
	cases := []struct {
		name    string
		edits   []edit
		field   string
		message string // a part of the message
	}{
		// The envelope.
		{"schema missing", []edit{{"schema", absent}}, "schema", "is required"},
		{"schema 2", []edit{{"schema", 2}}, "schema", "must be 1"},
		{"schema as a string", []edit{{"schema", "1"}}, "schema", "must be an integer, not a string"},
		{"id missing", []edit{{"id", absent}}, "id", "is required"},
		{"id empty", []edit{{"id", ""}}, "id", "1 to 64 characters"},
		{"id of 65 characters", []edit{{"id", strings.Repeat("a", 65)}}, "id", "1 to 64 characters"},
		{"id with a space", []edit{{"id", "a b"}}, "id", "1 to 64 characters"},
		{"id with a slash", []edit{{"id", "a/b"}}, "id", "1 to 64 characters"},
		{"id not ASCII", []edit{{"id", "añb"}}, "id", "1 to 64 characters"},
		{"id as a number", []edit{{"id", 42}}, "id", "must be a string, not a number"},
		{"event missing", []edit{{"event", absent}}, "event", "is required"},
		{"event empty", []edit{{"event", ""}}, "event", "must not be empty"},
		{"event as a number", []edit{{"event", 3}}, "event", "must be a string, not a number"},
		{"event with a control character", []edit{{"event", "test\nevent"}}, "event", "control characters"},
		{"event with NUL", []edit{{"event", "test\u0000event"}}, "event", "NUL"},
		{"occurred_at missing", []edit{{"occurred_at", absent}}, "occurred_at", "is required"},
		{"occurred_at null", []edit{{"occurred_at", nil}}, "occurred_at", "is required"},
		{"occurred_at 0", []edit{{"occurred_at", 0}}, "occurred_at", "positive"},
		{"occurred_at negative", []edit{{"occurred_at", -1}}, "occurred_at", "positive"},
		{"occurred_at with a fraction", []edit{{"occurred_at", raw("1764756000.5")}}, "occurred_at", "must be an integer, not 1764756000.5"},
		{"occurred_at as a string", []edit{{"occurred_at", "1764756000"}}, "occurred_at", "not a string"},
		{"occurred_at after 9999", []edit{{"occurred_at", raw("253402300800")}}, "occurred_at", "Unix seconds"},
		{"site as a number", []edit{{"site", 1}}, "site", "must be a string"},

		// The user.
		{"user missing", []edit{{"user", absent}}, "user", "is required for user_enrolment_created events"},
		{"user null", []edit{{"user", nil}}, "user", "is required"},
		{"user missing in user_updated", []edit{{"event", "user_updated"}, {"user", absent}}, "user", "is required for user_updated events"},
		{"user an array", []edit{{"user", []any{}}}, "user", "must be an object, not an array"},
		{"user.id missing", []edit{{"user.id", absent}}, "user.id", "is required"},
		{"user.id 0", []edit{{"user.id", 0}}, "user.id", "must be a positive integer"},
		{"user.id negative", []edit{{"user.id", -42}}, "user.id", "must be a positive integer"},
		{"user.id as a string", []edit{{"user.id", "42"}}, "user.id", "must be an integer, not a string"},
		{"user.id 42.5", []edit{{"user.id", raw("42.5")}}, "user.id", "must be an integer, not 42.5"},
		{"user.id 42.0", []edit{{"user.id", raw("42.0")}}, "user.id", "must be an integer, not 42.0"},
		{"user.id with an exponent", []edit{{"user.id", raw("4.2e1")}}, "user.id", "must be an integer"},
		{"user.id beyond 64 bits", []edit{{"user.id", raw("9223372036854775808")}}, "user.id", "out of range"},
		{"user.id a boolean", []edit{{"user.id", true}}, "user.id", "not a boolean"},
		{"user.username a number", []edit{{"user.username", 5}}, "user.username", "must be a string"},
		{"user.firstname an object", []edit{{"user.firstname", map[string]any{}}}, "user.firstname", "not an object"},
		{"user.lastname with NUL", []edit{{"user.lastname", "Ru\u0000iz"}}, "user.lastname", "NUL"},
		{"user.email an array", []edit{{"user.email", []any{"a@b"}}}, "user.email", "must be a string"},
		{"user.phone a number", []edit{{"user.phone", 34600111222}}, "user.phone", "must be a string"},
		{"user.lang a boolean", []edit{{"user.lang", false}}, "user.lang", "must be a string"},
		{"user.timezone 99 as a number", []edit{{"user.timezone", 99}}, "user.timezone", "must be a string"},
		{"user.roles a string", []edit{{"user.roles", "student"}}, "user.roles", "array of strings"},
		{"user.roles with a number", []edit{{"user.roles", []any{"student", 5}}}, "user.roles", "array of strings"},
		{"user.roles with null", []edit{{"user.roles", []any{nil}}}, "user.roles", "array of strings"},

		// The course.
		{"course missing", []edit{{"course", absent}}, "course", "is required for user_enrolment_created events"},
		{"course missing in course_updated", []edit{{"event", "course_updated"}, {"course", absent}}, "course", "is required for course_updated events"},
		{"course a string", []edit{{"course", "PRL-01"}}, "course", "must be an object, not a string"},
		{"course.id missing", []edit{{"course.id", absent}}, "course.id", "is required"},
		{"course.id 0", []edit{{"course.id", 0}}, "course.id", "positive"},
		{"course.id as a string", []edit{{"course.id", "7"}}, "course.id", "not a string"},
		{"course.shortname a number", []edit{{"course.shortname", 1}}, "course.shortname", "must be a string"},
		{"course.fullname null is fine, a number is not", []edit{{"course.fullname", 1}}, "course.fullname", "must be a string"},
		{"course.startdate negative", []edit{{"course.startdate", -1}}, "course.startdate", "Unix seconds"},
		{"course.startdate with a fraction", []edit{{"course.startdate", raw("1.5")}}, "course.startdate", "not 1.5"},
		{"course.enddate negative", []edit{{"course.enddate", -1}}, "course.enddate", "Unix seconds"},
		{"course.enddate as a string", []edit{{"course.enddate", "0"}}, "course.enddate", "not a string"},
		{"course.enddate after 9999", []edit{{"course.enddate", raw("99999999999999")}}, "course.enddate", "Unix seconds"},

		// The enrolment.
		{"enrolment an array", []edit{{"enrolment", []any{1}}}, "enrolment", "must be an object, not an array"},
		{"enrolment.id 0", []edit{{"enrolment.id", 0}}, "enrolment.id", "positive"},
		{"enrolment.id as a string", []edit{{"enrolment.id", "991"}}, "enrolment.id", "not a string"},
		{"enrolment.status missing", []edit{{"enrolment.status", absent}}, "enrolment.status", "is required"},
		{"enrolment.status 2", []edit{{"enrolment.status", 2}}, "enrolment.status", "must be 0 or 1"},
		{"enrolment.status -1", []edit{{"enrolment.status", -1}}, "enrolment.status", "must be 0 or 1"},
		{"enrolment.status as a string", []edit{{"enrolment.status", "0"}}, "enrolment.status", "not a string"},
		{"enrolment.status a boolean", []edit{{"enrolment.status", false}}, "enrolment.status", "not a boolean"},
		{"enrolment.timestart negative", []edit{{"enrolment.timestart", -5}}, "enrolment.timestart", "Unix seconds"},
		{"enrolment.timeend with a fraction", []edit{{"enrolment.timeend", raw("0.5")}}, "enrolment.timeend", "must be an integer"},

		// The progress.
		{"progress a number", []edit{{"progress", 50}}, "progress", "must be an object, not a number"},
		{"progress.scorm_total missing", []edit{{"progress.scorm_total", absent}}, "progress.scorm_total", "is required"},
		{"progress.scorm_total negative", []edit{{"progress.scorm_total", -1}}, "progress.scorm_total", "must not be negative"},
		{"progress.scorm_total as a string", []edit{{"progress.scorm_total", "4"}}, "progress.scorm_total", "not a string"},
		{"progress.scorm_total beyond 32 bits", []edit{{"progress.scorm_total", raw("2147483648")}}, "progress.scorm_total", "at most 2147483647"},
		{"progress.scorm_completed missing", []edit{{"progress.scorm_completed", absent}}, "progress.scorm_completed", "is required"},
		{"progress.scorm_completed negative", []edit{{"progress.scorm_completed", -1}}, "progress.scorm_completed", "must not be negative"},
		{"progress.scorm_completed over the total", []edit{{"progress.scorm_completed", 5}}, "progress.scorm_completed", "must not exceed scorm_total (4)"},
		{"progress.percent over 100", []edit{{"progress.percent", raw("100.5")}}, "progress.percent", "between 0 and 100"},
		{"progress.percent negative", []edit{{"progress.percent", raw("-0.1")}}, "progress.percent", "between 0 and 100"},
		{"progress.percent as a string", []edit{{"progress.percent", "50"}}, "progress.percent", "must be a number, not a string"},
		{"progress.percent beyond float64", []edit{{"progress.percent", raw("1e400")}}, "progress.percent", "out of range"},
		{"progress.percent null with SCORM", []edit{{"progress.percent", nil}}, "progress.percent", "must be a number when scorm_total is above 0"},
		{"progress.percent missing with SCORM", []edit{{"progress.percent", absent}}, "progress.percent", "must be a number when scorm_total is above 0"},
		{"progress.percent without SCORM", []edit{{"progress", map[string]any{"scorm_total": 0, "scorm_completed": 0, "percent": 0}}},
			"progress.percent", "must be null when scorm_total is 0"},
		{"progress.percent far from the counts", []edit{{"progress.percent", 80}}, "progress.percent", "(50.00), within 1"},

		// Moodle's own data.
		{"moodle a string", []edit{{"moodle", `\core\event`}}, "moodle", "must be an object, not a string"},
		{"moodle an array", []edit{{"moodle", []any{}}}, "moodle", "must be an object, not an array"},
	}
	d := moodleevent.NewDecoder()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := d.Decode(body(t, tc.edits...))
			fields := requireInvalid(t, err)
			require.Len(t, fields, 1, "%v", fields)
			assert.Equal(t, tc.field, fields[0].Field)
			assert.Contains(t, fields[0].Message, tc.message)
		})
	}
}

func requireInvalid(t *testing.T, err error) []moodleevent.FieldError {
	t.Helper()
	var ve *moodleevent.ValidationError
	require.ErrorAs(t, err, &ve)
	assert.NotErrorIs(t, err, moodleevent.ErrSyntax)
	return ve.Errors
}

func TestDecodeNamesEveryBadField(t *testing.T) {
	_, err := moodleevent.NewDecoder().Decode(body(t,
		edit{"schema", 2}, edit{"occurred_at", -1},
		edit{"user.id", "42"}, edit{"user.roles", "student"},
		edit{"course.id", raw("7.5")}, edit{"course.enddate", -1},
		edit{"enrolment.status", 3},
		edit{"progress", map[string]any{"scorm_total": 2, "scorm_completed": 3, "percent": 150}},
		edit{"moodle", "x"},
	))
	fields := requireInvalid(t, err)
	var names []string
	for _, f := range fields {
		names = append(names, f.Field)
	}
	assert.ElementsMatch(t, []string{"schema", "occurred_at", "moodle", "user.id", "user.roles", "course.id",
		"course.enddate", "enrolment.status", "progress.scorm_completed", "progress.percent"}, names)
	assert.Contains(t, err.Error(), "user.id: must be an integer, not a string")
}

// Member names match exactly: encoding/json alone would take "USER" for
// "user", and a consumer reading the stored body by the letter of the
// contract would see another event than the one validated here.
func TestDecodeMatchesMemberNamesExactly(t *testing.T) {
	d := moodleevent.NewDecoder()
	_, err := d.Decode([]byte(`{"Schema":1,"ID":"x","Event":"course_updated","Occurred_At":1,"Course":{"id":7}}`))
	var names []string
	for _, f := range requireInvalid(t, err) {
		names = append(names, f.Field)
	}
	assert.Equal(t, []string{"schema", "id", "event", "occurred_at"}, names)

	_, err = d.Decode(body(t, edit{"USER", map[string]any{"id": 1}}, edit{"user", absent}))
	assert.Equal(t, []moodleevent.FieldError{{Field: "user", Message: "is required for user_enrolment_created events"}},
		requireInvalid(t, err))

	ev, err := d.Decode(body(t, edit{"user.ID", 99}, edit{"user.Phone", 5}))
	require.NoError(t, err, "other spellings are unknown members, ignored")
	assert.Equal(t, int64(42), ev.User.ID)
}

// For an event name the notifier does not know, only the envelope counts.
func TestDecodeUnknownEvent(t *testing.T) {
	d := moodleevent.NewDecoder()
	ev, err := d.Decode(body(t, edit{"event", "test_event"}, edit{"user", "not checked"}, edit{"course", absent},
		edit{"progress", map[string]any{"percent": 500}}))
	require.NoError(t, err)
	assert.Equal(t, app.MoodleEvent{ID: "0f8fad5b-d9cb-469f-a165-70867728950e", Name: "test_event",
		OccurredAt: ts(1764756000)}, ev)

	_, err = d.Decode(body(t, edit{"event", "test_event"}, edit{"schema", 2}, edit{"id", "a b"}, edit{"user", "x"}))
	fields := requireInvalid(t, err)
	assert.Equal(t, []moodleevent.FieldError{
		{Field: "schema", Message: "must be 1"},
		{Field: "id", Message: "must be 1 to 64 characters of A-Z, a-z, 0-9, '.', '_', ':' and '-'"},
	}, fields)

	// An event that is not a string is no known event: only the envelope.
	_, err = d.Decode(body(t, edit{"event", 5}, edit{"user", "x"}))
	fields = requireInvalid(t, err)
	assert.Equal(t, []moodleevent.FieldError{{Field: "event", Message: "must be a string, not a number"}}, fields)
}

func TestDecodeNotJSON(t *testing.T) {
	d := moodleevent.NewDecoder()
	for _, b := range []string{"", " ", "{", `{"schema":1,}`, `{"a":1} {"b":2}`, "nope", `{"id":"x"`, "\xff"} {
		_, err := d.Decode([]byte(b))
		require.ErrorIs(t, err, moodleevent.ErrSyntax, "%q", b)
		var ve *moodleevent.ValidationError
		assert.NotErrorAs(t, err, &ve, "%q", b)
	}
}

func TestDecodeBodyMustBeAnObject(t *testing.T) {
	d := moodleevent.NewDecoder()
	for _, b := range []string{"null", "[]", `[{"schema":1}]`, `"x"`, "1", "true", " \n null "} {
		_, err := d.Decode([]byte(b))
		assert.Equal(t, []moodleevent.FieldError{{Field: "", Message: "the body must be a JSON object"}},
			requireInvalid(t, err), "%q", b)
	}
}

// An invalid body still gives its id, read as a valid event's would be, so
// that the webhook can check it against webhook-id first.
func TestDecodeGivesTheIDOfAnInvalidBody(t *testing.T) {
	cases := map[string]string{
		`{"id":"abc","schema":"x"}`: "abc",
		`{"id":""}`:                 "",
		`{"id":"a\u0062c"}`:         "abc",
		`{"id":42}`:                 "",
		`{"id":null}`:               "",
		`{}`:                        "",
		`[{"id":"abc"}]`:            "",
		`null`:                      "",
		`{"ID":"abc"}`:              "",
		`{"Id":"abc","id":"def"}`:   "def",
		`{"id":"first","id":"second","schema":2}`: "second",
	}
	d := moodleevent.NewDecoder()
	for b, want := range cases {
		_, err := d.Decode([]byte(b))
		var ve *moodleevent.ValidationError
		require.ErrorAs(t, err, &ve, b)
		assert.Equal(t, want, ve.ID, b)
	}
	// The same id a valid event gets, even when the JSON says it twice.
	dup := []byte(`{"schema":1,"id":"first","event":"test_event","occurred_at":1,"id":"second"}`)
	ev, err := d.Decode(dup)
	require.NoError(t, err)
	assert.Equal(t, "second", ev.ID)
}

// One Decoder serves every request at once.
func TestDecoderIsSafeForConcurrentUse(t *testing.T) {
	d := moodleevent.NewDecoder()
	good, bad := body(t), body(t, edit{"user.id", "x"})
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			for range 50 {
				if i%2 == 0 {
					_, err := d.Decode(good)
					assert.NoError(t, err)
				} else {
					_, err := d.Decode(bad)
					assert.Error(t, err)
				}
			}
		})
	}
	wg.Wait()
}

// webhookVector is one case of testdata/webhook-vectors.json, shared with the
// Moodle plugin's tests.
type webhookVector struct {
	Name string `json:"name"`
	Body string `json:"body"`
}

func TestDecodeSharedVectors(t *testing.T) {
	path := filepath.Join(testenv.RepoRoot(), "testdata", "webhook-vectors.json")
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		testenv.Unavailable(t, "%s is absent", path)
	}
	require.NoError(t, err)
	var vectors []webhookVector
	require.NoError(t, json.Unmarshal(b, &vectors))
	require.NotEmpty(t, vectors)
	d := moodleevent.NewDecoder()
	for _, v := range vectors {
		t.Run(v.Name, func(t *testing.T) {
			ev, err := d.Decode([]byte(v.Body))
			require.NoError(t, err)
			assert.NotEmpty(t, ev.ID)
			if app.KnownEvent(ev.Name) {
				assert.True(t, ev.User != nil || ev.Course != nil, fmt.Sprintf("%+v", ev))
			}
		})
	}
}
