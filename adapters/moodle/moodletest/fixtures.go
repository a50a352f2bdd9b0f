package moodletest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/acme/notifier/internal/testenv"
)

// Recording is one call recorded from the real Moodle (an index.jsonl line).
type Recording struct {
	File        string   // path under fixtures/moodle
	Token       string   // admin, student, student2, ..., bad, none
	Function    string   // wsfunction ("-" when absent)
	Format      string   // moodlewsrestformat ("-" when absent: XML)
	Params      []string // "key=value", decoded
	ContentType string
	Body        []byte
}

// IsError reports whether the recorded answer is an exception.
func (r Recording) IsError() bool {
	return bytes.HasPrefix(r.Body, []byte(`{"exception"`)) || bytes.HasPrefix(r.Body, []byte("<?xml"))
}

// Fixtures are the recordings of ../shared/fixtures/moodle, in the order
// they were made (the main index, then lab102's).
type Fixtures struct {
	Dir        string
	Recordings []Recording
}

// LoadFixtures reads the recordings through testenv.SharedFile: the test is
// skipped when they are absent, or fails under NOTIFIER_REQUIRE_SERVICES=1.
func LoadFixtures(t testing.TB) *Fixtures {
	t.Helper()
	dir := testenv.SharedFile(t, "fixtures/moodle")
	fx := &Fixtures{Dir: dir}
	for _, idx := range []string{"index.jsonl", "lab102/index.jsonl"} {
		if err := fx.loadIndex(idx); err != nil {
			t.Fatalf("moodletest: %v", err)
		}
	}
	return fx
}

func (fx *Fixtures) loadIndex(rel string) error {
	f, err := os.Open(filepath.Join(fx.Dir, filepath.FromSlash(rel)))
	if err != nil {
		return err
	}
	defer f.Close()
	base := path.Dir(rel)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var line struct {
			File        string   `json:"file"`
			Token       string   `json:"token"`
			WSFunction  string   `json:"wsfunction"`
			Format      string   `json:"moodlewsrestformat"`
			ContentType string   `json:"content_type"`
			Params      []string `json:"params"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		file := path.Join(base, line.File)
		body, err := fx.Read(file)
		if err != nil {
			return err
		}
		fx.Recordings = append(fx.Recordings, Recording{File: file, Token: line.Token, Function: line.WSFunction,
			Format: line.Format, Params: line.Params, ContentType: line.ContentType, Body: body})
	}
	return sc.Err()
}

// Read returns a fixture file's bytes.
func (fx *Fixtures) Read(rel string) ([]byte, error) {
	return os.ReadFile(filepath.Join(fx.Dir, filepath.FromSlash(rel)))
}

// Recording returns the recording of a file.
func (fx *Fixtures) Recording(file string) (Recording, bool) {
	for _, r := range fx.Recordings {
		if r.File == file {
			return r, true
		}
	}
	return Recording{}, false
}

// callKey identifies a call by token, function, format and parameters,
// whatever their order.
func callKey(token, function, format string, params []string) string {
	p := slices.Clone(params)
	slices.Sort(p)
	return token + "\x00" + function + "\x00" + format + "\x00" + strings.Join(p, "\n")
}

// replayable indexes the successful recordings by call; a later recording
// of the same call replaces an earlier one.
func (fx *Fixtures) replayable() map[string]Recording {
	out := map[string]Recording{}
	for _, r := range fx.Recordings {
		if !r.IsError() {
			out[callKey(r.Token, r.Function, r.Format, r.Params)] = r
		}
	}
	return out
}

// errorTemplate reads a recorded error: its class, code and message.
func (fx *Fixtures) errorTemplate(rel string) (*wsError, error) {
	b, err := fx.Read(rel)
	if err != nil {
		return nil, err
	}
	var e struct {
		Exception string `json:"exception"`
		ErrorCode string `json:"errorcode"`
		Message   string `json:"message"`
	}
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("%s: %w", rel, err)
	}
	return &wsError{class: e.Exception, code: e.ErrorCode, message: e.Message}, nil
}
