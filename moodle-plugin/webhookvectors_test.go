// Package moodleplugin_test checks the Moodle plugin's webhook test vectors
// (../testdata/webhook-vectors.json) from the notifier's side: every signature
// verifies with the Standard Webhooks Go library, and every body is a schema-1
// payload of CONTRACT section 3. The plugin's PHP harness
// (tests/standalone/run.php) checks the same vectors against the plugin's
// payload builder and signer, so the two sides agree byte for byte.
package moodleplugin_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

const vectorsPath = "../testdata/webhook-vectors.json"

type vector struct {
	Name      string          `json:"name"`
	Secret    string          `json:"secret"`
	MsgID     string          `json:"msg_id"`
	Timestamp int64           `json:"timestamp"`
	Body      string          `json:"body"`
	Signature string          `json:"signature"`
	Input     json.RawMessage `json:"input"`
}

var (
	msgIDPattern   = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)
	integerPattern = regexp.MustCompile(`^-?[0-9]+$`)
	contractEvents = map[string]bool{
		"user_enrolment_created":           true,
		"user_enrolment_updated":           true,
		"user_enrolment_deleted":           true,
		"scorm_status_submitted":           true,
		"course_module_completion_updated": true,
		"course_completed":                 true,
		"course_updated":                   true,
		"user_updated":                     true,
	}
)

func loadVectors(t *testing.T) []vector {
	t.Helper()
	raw, err := os.ReadFile(vectorsPath)
	if err != nil {
		t.Fatalf("read %s: %v", vectorsPath, err)
	}
	var vectors []vector
	if err := json.Unmarshal(raw, &vectors); err != nil {
		t.Fatalf("decode %s: %v", vectorsPath, err)
	}
	if len(vectors) == 0 {
		t.Fatalf("%s holds no vectors", vectorsPath)
	}
	return vectors
}

func headersOf(v vector) http.Header {
	h := http.Header{}
	h.Set(standardwebhooks.HeaderWebhookID, v.MsgID)
	h.Set(standardwebhooks.HeaderWebhookTimestamp, strconv.FormatInt(v.Timestamp, 10))
	h.Set(standardwebhooks.HeaderWebhookSignature, v.Signature)
	return h
}

func TestVectorSignaturesVerify(t *testing.T) {
	for _, v := range loadVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			if !strings.HasPrefix(v.Secret, "whsec_") {
				t.Fatalf("secret %q lacks the whsec_ prefix", v.Secret)
			}
			key, err := base64.StdEncoding.Strict().DecodeString(strings.TrimPrefix(v.Secret, "whsec_"))
			if err != nil || len(key) < 24 || len(key) > 64 {
				t.Fatalf("secret must be the base64 of 24 to 64 bytes: %d bytes, err %v", len(key), err)
			}
			wh, err := standardwebhooks.NewWebhook(v.Secret)
			if err != nil {
				t.Fatalf("NewWebhook: %v", err)
			}
			if err := wh.VerifyIgnoringTimestamp([]byte(v.Body), headersOf(v)); err != nil {
				t.Fatalf("signature does not verify: %v", err)
			}
			signed, err := wh.Sign(v.MsgID, time.Unix(v.Timestamp, 0), []byte(v.Body))
			if err != nil {
				t.Fatalf("Sign: %v", err)
			}
			if signed != v.Signature {
				t.Fatalf("library signs %s, vector says %s", signed, v.Signature)
			}

			// A receiver must refuse the same headers with anything changed.
			if err := wh.VerifyIgnoringTimestamp([]byte(v.Body+" "), headersOf(v)); err == nil {
				t.Error("a changed body verifies")
			}
			other := v
			other.Timestamp++
			if err := wh.VerifyIgnoringTimestamp([]byte(v.Body), headersOf(other)); err == nil {
				t.Error("a changed timestamp verifies")
			}
			other = v
			other.MsgID = v.MsgID + "x"
			if err := wh.VerifyIgnoringTimestamp([]byte(v.Body), headersOf(other)); err == nil {
				t.Error("a changed webhook-id verifies")
			}
			stranger, err := standardwebhooks.NewWebhook("whsec_" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{7}, 32)))
			if err != nil {
				t.Fatalf("NewWebhook: %v", err)
			}
			if err := stranger.VerifyIgnoringTimestamp([]byte(v.Body), headersOf(v)); err == nil {
				t.Error("another secret verifies")
			}
		})
	}
}

func TestVectorBodiesFollowSchema1(t *testing.T) {
	seen := map[string]bool{}
	nullPercent := false
	for _, v := range loadVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			var body map[string]any
			dec := json.NewDecoder(strings.NewReader(v.Body))
			dec.UseNumber()
			if err := dec.Decode(&body); err != nil {
				t.Fatalf("body is not a JSON object: %v", err)
			}
			errs := checkPayload(v, body)
			for _, e := range errs {
				t.Error(e)
			}
			event, _ := body["event"].(string)
			seen[event] = true
			if p, ok := body["progress"].(map[string]any); ok && p["percent"] == nil {
				nullPercent = true
			}
		})
	}
	for event := range contractEvents {
		if !seen[event] {
			t.Errorf("no vector for %s", event)
		}
	}
	if !nullPercent {
		t.Error("no vector with a null percent")
	}
}

// checkPayload applies CONTRACT section 3 to one decoded body.
func checkPayload(v vector, body map[string]any) []string {
	var errs []string
	fail := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }

	if n, ok := integer(body["schema"]); !ok || n != 1 {
		fail("schema = %v, want 1", body["schema"])
	}
	id, _ := body["id"].(string)
	if id != v.MsgID {
		fail("id %q differs from msg_id %q", id, v.MsgID)
	}
	if !msgIDPattern.MatchString(id) {
		fail("id %q is not 1-64 characters of [A-Za-z0-9._:-]", id)
	}
	event, _ := body["event"].(string)
	if event == "" {
		fail("event is missing")
	}
	if n, ok := integer(body["occurred_at"]); !ok || n <= 0 {
		fail("occurred_at = %v, want positive Unix seconds", body["occurred_at"])
	}
	if site, _ := body["site"].(string); site == "" {
		fail("site is missing")
	}
	if _, ok := body["moodle"].(map[string]any); !ok {
		fail("moodle is not an object")
	}
	if !contractEvents[event] {
		// Unknown names get the envelope check only, and are answered "ignored".
		return errs
	}

	user, hasUser := body["user"].(map[string]any)
	switch {
	case event == "course_updated" && body["user"] != nil:
		fail("course_updated carries a user")
	case event != "course_updated" && !hasUser:
		fail("%s needs a user", event)
	case hasUser:
		positiveID(user, "user.id", fail)
		for _, f := range []string{"username", "firstname", "lastname", "email", "phone", "lang", "timezone"} {
			if _, ok := user[f].(string); !ok {
				fail("user.%s is not a string", f)
			}
		}
		roles, ok := user["roles"].([]any)
		if !ok {
			fail("user.roles is not an array")
		}
		for _, r := range roles {
			if _, ok := r.(string); !ok {
				fail("user.roles holds %v", r)
			}
		}
	}

	course, hasCourse := body["course"].(map[string]any)
	switch {
	case event == "user_updated" && body["course"] != nil:
		fail("user_updated carries a course")
	case event != "user_updated" && !hasCourse:
		fail("%s needs a course", event)
	case hasCourse:
		positiveID(course, "course.id", fail)
		for _, f := range []string{"startdate", "enddate"} {
			if n, ok := integer(course[f]); !ok || n < 0 {
				fail("course.%s = %v", f, course[f])
			}
		}
	}

	if enrolment, ok := body["enrolment"].(map[string]any); ok {
		positiveID(enrolment, "enrolment.id", fail)
		if n, ok := integer(enrolment["status"]); !ok || (n != 0 && n != 1) {
			fail("enrolment.status = %v, want 0 or 1", enrolment["status"])
		}
		for _, f := range []string{"timestart", "timeend"} {
			if n, ok := integer(enrolment[f]); !ok || n < 0 {
				fail("enrolment.%s = %v", f, enrolment[f])
			}
		}
	} else if body["enrolment"] != nil {
		fail("enrolment is not an object")
	}

	if progress, ok := body["progress"].(map[string]any); ok {
		total, okT := integer(progress["scorm_total"])
		done, okD := integer(progress["scorm_completed"])
		if !okT || !okD || total < 0 || done < 0 || done > total {
			fail("progress counts %v of %v", progress["scorm_completed"], progress["scorm_total"])
		}
		switch p := progress["percent"].(type) {
		case nil:
			if total != 0 {
				fail("percent is null with %d tracked activities", total)
			}
		case json.Number:
			got, err := p.Float64()
			want := float64(done) * 100 / float64(total)
			if total == 0 || err != nil || got != want {
				fail("percent = %s, want %v", p, want)
			}
		default:
			fail("percent = %v, want a number or null", p)
		}
	} else if body["progress"] != nil {
		fail("progress is not an object")
	}
	return errs
}

func positiveID(obj map[string]any, field string, fail func(string, ...any)) {
	if n, ok := integer(obj["id"]); !ok || n <= 0 {
		fail("%s = %v, want a positive integer", field, obj["id"])
	}
}

// integer reports a JSON number written as an integer (no fraction, no exponent).
func integer(v any) (int64, bool) {
	n, ok := v.(json.Number)
	if !ok || !integerPattern.MatchString(n.String()) {
		return 0, false
	}
	i, err := n.Int64()
	return i, err == nil
}
