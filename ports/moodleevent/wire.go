package moodleevent

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strconv"
	"time"
)

// value is one JSON value kept as it came, so that a value of the wrong type
// is reported along with every other bad field instead of stopping the
// decoding at the first (as a typed field would). nil means absent or null.
type value []byte

// UnmarshalJSON keeps the raw value; it never fails on valid JSON.
func (v *value) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*v = nil
		return nil
	}
	*v = append(value(nil), b...) // b belongs to the decoder
	return nil
}

// The wire structs mirror schema 1 (CONTRACT section 3). Every field is a
// value, checked by the validator tags and rules of rules.go. Members are
// matched by their exact names (see decodeMembers); members the structs do
// not name are ignored, so that Moodle can send new fields before this
// service reads them (forward compatibility).

// wireEnvelope is what every event carries, known name or not.
type wireEnvelope struct {
	Schema     value `json:"schema" validate:"required,json_int,json_int_oneof=1"`
	ID         value `json:"id" validate:"required,json_string,event_id"`
	Event      value `json:"event" validate:"required,json_string,event_name"`
	OccurredAt value `json:"occurred_at" validate:"required,json_int,json_int_min=1,json_unix"`
}

// wireBody is the rest of an event of a known name; its blocks are checked
// to be objects here, and their fields each with its own struct below.
type wireBody struct {
	// EventName is the (known) event name, for required_unless.
	EventName string `json:"-"`
	Site      value  `json:"site" validate:"json_string"`
	User      value  `json:"user" validate:"required_unless=EventName course_updated,json_object"`
	Course    value  `json:"course" validate:"required_unless=EventName user_updated,json_object"`
	Enrolment value  `json:"enrolment" validate:"json_object"`
	Progress  value  `json:"progress" validate:"json_object"`
	// Moodle is Moodle's own event data, kept for audit as it came (Moodle
	// mixes strings and numbers in it): only its being an object is checked.
	Moodle value `json:"moodle" validate:"json_object"`
}

type wireUser struct {
	ID        value `json:"id" validate:"required,json_int,json_int_min=1"`
	Username  value `json:"username" validate:"json_string"`
	FirstName value `json:"firstname" validate:"json_string"`
	LastName  value `json:"lastname" validate:"json_string"`
	Email     value `json:"email" validate:"json_string"`
	Phone     value `json:"phone" validate:"json_string"`
	Lang      value `json:"lang" validate:"json_string"`
	Timezone  value `json:"timezone" validate:"json_string"`
	Roles     value `json:"roles" validate:"json_strings"`
}

type wireCourse struct {
	ID        value `json:"id" validate:"required,json_int,json_int_min=1"`
	ShortName value `json:"shortname" validate:"json_string"`
	FullName  value `json:"fullname" validate:"json_string"`
	StartDate value `json:"startdate" validate:"json_int,json_unix"`
	EndDate   value `json:"enddate" validate:"json_int,json_unix"`
}

// wireEnrolment: status is required because a missing one would read as
// active, and an active enrolment gets its welcome.
type wireEnrolment struct {
	ID        value `json:"id" validate:"json_int,json_int_min=1"`
	Status    value `json:"status" validate:"required,json_int,json_int_oneof=0 1"`
	TimeStart value `json:"timestart" validate:"json_int,json_unix"`
	TimeEnd   value `json:"timeend" validate:"json_int,json_unix"`
}

// wireProgress: the counts are bounded by the stores' integer columns; the
// rules between the three fields are checked by progressRules.
type wireProgress struct {
	Total     value `json:"scorm_total" validate:"required,json_int,json_int_min=0,json_int_max=2147483647"`
	Completed value `json:"scorm_completed" validate:"required,json_int,json_int_min=0,json_int_max=2147483647"`
	Percent   value `json:"percent" validate:"json_number,json_percent"`
}

// decodeMembers decodes the JSON object raw into the wire structs at dst,
// matching member names exactly. encoding/json alone matches them without
// regard to case, so "USER" would count as "user": an event that passed
// here could then read differently to a consumer that follows the contract
// by the letter. As with encoding/json, the last of duplicate members wins.
func decodeMembers(raw []byte, dst ...any) error {
	var members map[string]value
	if err := json.Unmarshal(raw, &members); err != nil {
		return err
	}
	for _, d := range dst {
		fill(reflect.ValueOf(d).Elem(), members)
	}
	return nil
}

// fill sets each value field of the struct v from the member its JSON name
// names.
func fill(v reflect.Value, members map[string]value) {
	t := v.Type()
	for i := range t.NumField() {
		name := jsonName(t.Field(i))
		m, ok := members[name]
		if name == "" || !ok || t.Field(i).Type != reflect.TypeFor[value]() {
			continue
		}
		v.Field(i).Set(reflect.ValueOf(m))
	}
}

// kind names the JSON type of v, for messages.
func (v value) kind() string {
	if len(v) == 0 {
		return "null"
	}
	switch v[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	}
	return "a number"
}

// isNumber reports a JSON number (the decoder has checked the syntax).
func (v value) isNumber() bool { return v.kind() == "a number" }

// integer is v as an int64 when it is a JSON integer literal: no fraction,
// no exponent, in range. 42.0 is refused too: ids and counts are integers.
func (v value) integer() (int64, bool) {
	if !v.isNumber() || bytes.ContainsAny(v, ".eE") {
		return 0, false
	}
	n, err := strconv.ParseInt(string(v), 10, 64)
	return n, err == nil
}

// number is v as a float64 when it is a JSON number in range.
func (v value) number() (float64, bool) {
	if !v.isNumber() {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(v), 64)
	return f, err == nil
}

// text is v as a Go string when it is a JSON string.
func (v value) text() (string, bool) {
	if len(v) == 0 || v[0] != '"' {
		return "", false
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", false
	}
	return s, true
}

// texts is v as a list of strings when it is a JSON array of strings.
func (v value) texts() ([]string, bool) {
	if len(v) == 0 || v[0] != '[' {
		return nil, false
	}
	var items []value
	if err := json.Unmarshal(v, &items); err != nil {
		return nil, false
	}
	out := make([]string, 0, len(items))
	for _, it := range items {
		s, ok := it.text()
		if !ok {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

// The converters below read values that passed validation: a value that is
// absent reads as the zero value.

func (v value) int64() int64 {
	n, _ := v.integer()
	return n
}

func (v value) string() string {
	s, _ := v.text()
	return s
}

// unix reads Unix seconds; 0 (Moodle's "none") and absent read as the zero
// time.
func (v value) unix() time.Time {
	n, ok := v.integer()
	if !ok || n == 0 {
		return time.Time{}
	}
	return time.Unix(n, 0).UTC()
}
