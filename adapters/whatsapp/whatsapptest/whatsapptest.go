// Package whatsapptest is a strict fake of the WhatsApp Cloud API for tests:
// an httptest server that validates every request against Meta's official
// OpenAPI description (read from ../shared/specs, never copied into the
// repository), answers with Meta's success and error shapes, can be told to
// answer any error code, to hang or to drop the connection, and counts what
// it received.
package whatsapptest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/acme/notifier/adapters/whatsapp"
	"github.com/acme/notifier/internal/testenv"
)

// SpecEnv names the environment variable that overrides where the official
// description is read from.
const SpecEnv = "NOTIFIER_WHATSAPP_SPEC"

// SpecFile is the description's path under the shared folder.
const SpecFile = "specs/whatsapp-business-messaging-api_v23.0.yaml"

// messagesPath is the operation the fake serves (operationId sendMessage).
const messagesPath = "/{Version}/{Phone-Number-ID}/messages"

// Version is the Graph API version in the fake's URL.
const Version = "v23.0"

// SpecPath is where the official description is: $NOTIFIER_WHATSAPP_SPEC, or
// the shared folder's copy. The test skips when it is absent, and fails
// instead under NOTIFIER_REQUIRE_SERVICES=1 (as CI runs).
func SpecPath(t testing.TB) string {
	t.Helper()
	if p := os.Getenv(SpecEnv); p != "" {
		if _, err := os.Stat(p); err != nil {
			testenv.Unavailable(t, "%s=%s: %v", SpecEnv, p, err)
		}
		return p
	}
	return testenv.SharedFile(t, SpecFile)
}

type loaded struct {
	doc *openapi3.T
	err error
}

var (
	specsMu sync.Mutex
	specs   = map[string]*loaded{}
)

// Spec loads and validates the official description once per process.
func Spec(t testing.TB) *openapi3.T {
	t.Helper()
	path := SpecPath(t)
	specsMu.Lock()
	defer specsMu.Unlock()
	l, ok := specs[path]
	if !ok {
		doc, err := loadSpec(path)
		l = &loaded{doc: doc, err: err}
		specs[path] = l
	}
	if l.err != nil {
		t.Fatalf("whatsapptest: %s: %v", path, l.err)
	}
	return l.doc
}

// loadSpec loads the description and validates it, examples aside (one of
// Meta's examples breaks its own pattern). Two more defects of Meta's file
// are let through, and nothing else: the non-standard
// components.parameterGroups, and the Graph API's node paths that differ
// only in their parameter's name ("/{Version}/{Business-ID}" and
// "/{Version}/{WABA-ID}"), which OpenAPI calls conflicting. Neither touches
// the operation the fake serves.
func loadSpec(path string) (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("load: %w", err)
	}
	err = doc.Validate(loader.Context, openapi3.DisableExamplesValidation(),
		openapi3.AllowExtraSiblingFields("parameterGroups"), openapi3.EnableMultiError())
	var all openapi3.MultiError
	if err != nil && !errors.As(err, &all) {
		return nil, fmt.Errorf("validate: %w", err)
	}
	for _, e := range all {
		var conflict *openapi3.ConflictingPathsError
		if !errors.As(e, &conflict) {
			return nil, fmt.Errorf("validate: %w", e)
		}
	}
	if item := doc.Paths.Value(messagesPath); item == nil || item.Post == nil {
		return nil, fmt.Errorf("the description has no POST %s", messagesPath)
	}
	return doc, nil
}

// Answer is how the fake answers one request.
type Answer struct {
	kind   answerKind
	code   int
	status int
	body   string
	header http.Header
}

type answerKind int

const (
	answerSuccess answerKind = iota
	answerError
	answerRaw
	answerHang
	answerDrop
)

// Success is Meta's 200 with a new wamid.
func Success() Answer { return Answer{kind: answerSuccess} }

// Error is Meta's error answer for code, with the HTTP status Meta uses for
// it (400 for a code the table does not know).
func Error(code int) Answer {
	status := http.StatusBadRequest
	if e, ok := whatsapp.LookupError(code); ok && e.HTTPStatus != 0 {
		status = e.HTTPStatus
	}
	return Answer{kind: answerError, code: code, status: status}
}

// Raw answers status and body as given.
func Raw(status int, body string) Answer { return Answer{kind: answerRaw, status: status, body: body} }

// Hang never answers: the client's timeout (or the test's end) ends it.
func Hang() Answer { return Answer{kind: answerHang} }

// Drop reads the whole request and closes the connection without a word:
// the request reached "Meta", the answer was lost.
func Drop() Answer { return Answer{kind: answerDrop} }

// Code is the Meta error code of an Error answer, as the row records it.
func (a Answer) Code() string { return strconv.Itoa(a.code) }

// String names the answer (test names).
func (a Answer) String() string {
	switch a.kind {
	case answerSuccess:
		return "success"
	case answerError:
		return "error " + strconv.Itoa(a.code)
	case answerRaw:
		return "HTTP " + strconv.Itoa(a.status)
	case answerHang:
		return "hang"
	}
	return "drop"
}

// WithStatus changes the HTTP status of an answer.
func (a Answer) WithStatus(status int) Answer {
	a.status = status
	return a
}

// WithHeader adds a header to an answer (Retry-After, say).
func (a Answer) WithHeader(key, value string) Answer {
	h := a.header.Clone()
	if h == nil {
		h = http.Header{}
	}
	h.Add(key, value)
	a.header = h
	return a
}

// Request is one request the fake received.
type Request struct {
	Path   string
	Header http.Header
	Body   []byte
	// Invalid is why the request broke the official description; nil when
	// it matched.
	Invalid error
	// WAMID is the message id the fake answered with; empty for an error.
	WAMID string
}

// Server is the fake Cloud API.
type Server struct {
	// URL is the Graph API base with its version, for WHATSAPP_API_URL.
	URL     string
	Token   string
	PhoneID string

	t            testing.TB
	doc          *openapi3.T
	route        *routers.Route
	srv          *httptest.Server
	closing      chan struct{}
	allowInvalid bool

	mu       sync.Mutex
	queue    []Answer
	fallback Answer
	requests []Request
}

// Option configures the fake.
type Option func(*Server)

// AllowInvalid records requests that break the description (answering
// Meta's error 100) without failing the test: for tests of the fake itself.
func AllowInvalid() Option { return func(s *Server) { s.allowInvalid = true } }

// New starts the fake; it stops when the test ends.
func New(t testing.TB, opts ...Option) *Server {
	t.Helper()
	doc := Spec(t)
	item := doc.Paths.Value(messagesPath)
	s := &Server{
		Token:    "EAAtest" + randomID(12),
		PhoneID:  "106540352242922",
		t:        t,
		doc:      doc,
		route:    &routers.Route{Spec: doc, Path: messagesPath, PathItem: item, Method: http.MethodPost, Operation: item.Post},
		closing:  make(chan struct{}),
		fallback: Success(),
	}
	for _, o := range opts {
		o(s)
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL + "/" + Version
	t.Cleanup(s.Close)
	return s
}

// Close stops the fake, releasing hanging requests first.
func (s *Server) Close() {
	select {
	case <-s.closing:
		return
	default:
	}
	close(s.closing)
	s.srv.CloseClientConnections()
	s.srv.Close()
}

// ClientConfig is a configuration of the real client for this fake.
func (s *Server) ClientConfig() whatsapp.ClientConfig {
	return whatsapp.ClientConfig{Token: s.Token, PhoneID: s.PhoneID, APIURL: s.URL, Version: "1.2.3"}
}

// Enqueue sets the answers of the next requests, in order; after them the
// fake answers with its default.
func (s *Server) Enqueue(answers ...Answer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queue = append(s.queue, answers...)
}

// SetDefault changes the answer given once the queue is empty.
func (s *Server) SetDefault(a Answer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fallback = a
}

// Count is the number of requests received, valid or not.
func (s *Server) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.requests)
}

// Requests lists what the fake received, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

var pathRE = regexp.MustCompile(`^/(v\d+\.\d+)/([^/]+)/messages$`)

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	rec := Request{Path: r.URL.Path, Header: r.Header.Clone(), Body: body}

	m := pathRE.FindStringSubmatch(r.URL.Path)
	switch {
	case r.Method != http.MethodPost || m == nil:
		rec.Invalid = fmt.Errorf("%s %s is not POST /{Version}/{Phone-Number-ID}/messages", r.Method, r.URL.Path)
	case m[2] != s.PhoneID:
		rec.Invalid = fmt.Errorf("phone number id %q, want %q", m[2], s.PhoneID)
	default:
		rec.Invalid = s.validate(r, map[string]string{"Version": m[1], "Phone-Number-ID": m[2]})
	}

	var authErr *openapi3filter.SecurityRequirementsError
	switch {
	case errors.As(rec.Invalid, &authErr):
		s.record(rec)
		s.writeError(w, Error(190), "Invalid OAuth access token - Cannot parse access token")
		return
	case rec.Invalid != nil:
		s.record(rec)
		if !s.allowInvalid {
			s.t.Errorf("whatsapptest: the request breaks the official description: %v\nbody: %s", rec.Invalid, body)
		}
		s.writeError(w, Error(100), "(#100) Invalid parameter")
		return
	}

	a := s.next()
	switch a.kind {
	case answerSuccess:
		rec.WAMID = "wamid." + randomID(24)
		s.record(rec)
		s.writeSuccess(w, r, body, rec.WAMID, a)
	case answerError:
		s.record(rec)
		s.writeError(w, a, "")
	case answerRaw:
		s.record(rec)
		copyHeader(w, a.header)
		w.WriteHeader(a.status)
		_, _ = io.WriteString(w, a.body)
	case answerHang:
		s.record(rec)
		select {
		case <-r.Context().Done():
		case <-s.closing:
		}
	case answerDrop:
		s.record(rec)
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	}
}

func (s *Server) next() Answer {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) == 0 {
		return s.fallback
	}
	a := s.queue[0]
	s.queue = s.queue[1:]
	return a
}

func (s *Server) record(r Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, r)
}

// validate checks the request against the operation: headers (Authorization,
// Content-Type, User-Agent), path parameters, the body's schema, and the
// bearer token.
func (s *Server) validate(r *http.Request, params map[string]string) error {
	return openapi3filter.ValidateRequest(r.Context(), &openapi3filter.RequestValidationInput{
		Request:    r,
		PathParams: params,
		Route:      s.route,
		Options: &openapi3filter.Options{
			MultiError: true,
			AuthenticationFunc: func(_ context.Context, in *openapi3filter.AuthenticationInput) error {
				if in.SecuritySchemeName != "bearerAuth" {
					return fmt.Errorf("unexpected security scheme %q", in.SecuritySchemeName)
				}
				if in.RequestValidationInput.Request.Header.Get("Authorization") != "Bearer "+s.Token {
					return errors.New("wrong or missing bearer token")
				}
				return nil
			},
		},
	})
}

// writeSuccess answers Meta's MessageResponsePayload, itself checked
// against the description.
func (s *Server) writeSuccess(w http.ResponseWriter, r *http.Request, reqBody []byte, wamid string, a Answer) {
	var req struct {
		To string `json:"to"`
	}
	_ = json.Unmarshal(reqBody, &req)
	body, _ := json.Marshal(map[string]any{
		"messaging_product": "whatsapp",
		"contacts":          []map[string]string{{"input": req.To, "wa_id": strings.TrimPrefix(req.To, "+")}},
		"messages":          []map[string]string{{"id": wamid, "message_status": "accepted"}},
	})
	status := http.StatusOK
	if a.status != 0 {
		status = a.status
	}
	if status == http.StatusOK {
		if err := openapi3filter.ValidateResponse(r.Context(), &openapi3filter.ResponseValidationInput{
			RequestValidationInput: &openapi3filter.RequestValidationInput{Request: r, Route: s.route},
			Status:                 status,
			Header:                 http.Header{"Content-Type": {"application/json"}},
			Body:                   io.NopCloser(bytes.NewReader(body)),
			Options:                &openapi3filter.Options{IncludeResponseStatus: true},
		}); err != nil {
			s.t.Errorf("whatsapptest: the fake's own answer breaks the description: %v", err)
		}
	}
	copyHeader(w, a.header)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeError answers Meta's error shape for a.code.
func (s *Server) writeError(w http.ResponseWriter, a Answer, message string) {
	e, _ := whatsapp.LookupError(a.code)
	if message == "" {
		message = fmt.Sprintf("(#%d) %s", a.code, e.Title)
	}
	details := e.Meaning
	if details == "" {
		details = "Error " + strconv.Itoa(a.code)
	}
	body, _ := json.Marshal(map[string]any{"error": map[string]any{
		"message":    message,
		"type":       "OAuthException",
		"code":       a.code,
		"error_data": map[string]string{"messaging_product": "whatsapp", "details": details},
		"fbtrace_id": "A" + randomID(16),
	}})
	copyHeader(w, a.header)
	w.Header().Set("Content-Type", "application/json")
	if a.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `OAuth "Facebook Platform" "invalid_token"`)
	}
	w.WriteHeader(a.status)
	_, _ = w.Write(body)
}

func copyHeader(w http.ResponseWriter, h http.Header) {
	for k, vs := range h {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
}

func randomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return strings.TrimRight(base64.RawURLEncoding.EncodeToString(b), "=")
}
