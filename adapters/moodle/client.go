// Package moodle is the notifier's client of Moodle's REST web services: the
// core functions that create, find and enrol users and read courses and
// activity completion, and the plugin's bulk progress function
// (local_whatsappnotifier_get_course_progress).
//
// Every call is a form-encoded POST to {MOODLE_URL}/webservice/rest/server.php
// with wstoken, wsfunction and moodlewsrestformat=json. Moodle answers errors
// with HTTP 200 and an exception object; they come back as *Error, which
// errors.Is matches against ErrInvalidToken, ErrAccessDenied,
// ErrInvalidParameter, ErrMissingFunction, ErrNotFound and the others.
// Network failures, timeouts and 5xx answers match app.ErrUnavailable.
//
// Calls are limited in number at once (Config.MaxConcurrent) and each
// attempt has its own timeout. Reads are retried with exponential back-off
// when the failure is transient; writes (core_user_create_users,
// enrol_manual_enrol_users) never are.
package moodle

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// Endpoint is the REST server's path under MOODLE_URL.
const Endpoint = "/webservice/rest/server.php"

// DefaultStudentRoleID is the id of Moodle's standard student role.
const DefaultStudentRoleID = 5

// Config configures a Client. Only BaseURL and Token are required.
type Config struct {
	BaseURL string // MOODLE_URL: the site's root, e.g. https://moodle.example.com
	Token   string // MOODLE_TOKEN: a token of the local_whatsappnotifier service

	HTTPClient *http.Client // default: a client without its own timeout

	CallTimeout   time.Duration // one HTTP attempt; default 30s
	MaxConcurrent int           // HTTP requests in flight at once; default 8
	MaxAttempts   int           // attempts of a read; default 4 (writes: always 1)
	BackoffBase   time.Duration // first pause between read attempts; default 200ms, doubling
	BackoffMax    time.Duration // longest pause; default 5s

	// ProgressConcurrency bounds the per-student calls of the progress
	// fallback for one course; default MaxConcurrent. MaxConcurrent still
	// bounds the whole client.
	ProgressConcurrency int
	// BulkRecheck is how long CourseProgress goes straight to the fallback
	// after Moodle said the bulk function is not available; default 15m.
	BulkRecheck time.Duration
	// EnrolPageSize is the page size of the enrolled-user listing the
	// fallback makes; default 1000.
	EnrolPageSize int
	// MaxListParams caps the values sent in one call for list parameters
	// (user ids, field values); longer lists are split over several calls,
	// well under PHP's max_input_vars. Default 500.
	MaxListParams int
	// StudentRoleID is the role EnrolUsers gives when an Enrolment has none;
	// default 5 (Moodle's student).
	StudentRoleID int64
	// MaxResponseBytes caps an answer's size; default 64 MiB.
	MaxResponseBytes int64

	Logger *slog.Logger // default: discards
}

// Client calls one Moodle site. It is safe for concurrent use.
type Client struct {
	cfg      Config
	endpoint string
	http     *http.Client
	sem      chan struct{}
	log      *slog.Logger

	bulkMissingUntil atomic.Int64 // unix nanoseconds
	now              func() time.Time
	sleep            func(ctx context.Context, d time.Duration) error
}

// New returns a client for the site, or ErrNotConfigured when the URL or
// the token is empty.
func New(cfg Config) (*Client, error) {
	base := strings.TrimRight(strings.TrimSpace(cfg.BaseURL), "/")
	if base == "" || cfg.Token == "" {
		return nil, ErrNotConfigured
	}
	if !strings.HasPrefix(base, "http://") && !strings.HasPrefix(base, "https://") {
		return nil, fmt.Errorf("moodle: MOODLE_URL %q must start with http:// or https://", cfg.BaseURL)
	}
	base = strings.TrimSuffix(base, Endpoint)
	setDefault(&cfg.CallTimeout, 30*time.Second)
	setDefault(&cfg.MaxConcurrent, 8)
	setDefault(&cfg.MaxAttempts, 4)
	setDefault(&cfg.BackoffBase, 200*time.Millisecond)
	setDefault(&cfg.BackoffMax, 5*time.Second)
	setDefault(&cfg.ProgressConcurrency, cfg.MaxConcurrent)
	setDefault(&cfg.BulkRecheck, 15*time.Minute)
	setDefault(&cfg.EnrolPageSize, 1000)
	setDefault(&cfg.MaxListParams, 500)
	setDefault(&cfg.StudentRoleID, DefaultStudentRoleID)
	setDefault(&cfg.MaxResponseBytes, 64<<20)
	c := &Client{
		cfg:      cfg,
		endpoint: base + Endpoint,
		http:     cfg.HTTPClient,
		sem:      make(chan struct{}, cfg.MaxConcurrent),
		log:      cfg.Logger,
		now:      time.Now,
		sleep:    sleepCtx,
	}
	if c.http == nil {
		c.http = &http.Client{}
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

func setDefault[T int | int64 | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// read calls a read-only function, retrying transient failures.
func (c *Client) read(ctx context.Context, fn string, p *params, out any) error {
	return c.call(ctx, fn, p, out, true)
}

// write calls a function that changes Moodle, once.
func (c *Client) write(ctx context.Context, fn string, p *params, out any) error {
	return c.call(ctx, fn, p, out, false)
}

func (c *Client) call(ctx context.Context, fn string, p *params, out any, read bool) error {
	if p == nil {
		p = &params{}
	}
	body := p.encode(c.cfg.Token, fn)
	attempts := 1
	if read {
		attempts = c.cfg.MaxAttempts
	}
	for attempt := 1; ; attempt++ {
		err := c.attempt(ctx, fn, body, out, read)
		if err == nil || attempt >= attempts || ctx.Err() != nil || !isTransient(err) {
			return err
		}
		pause := c.backoff(attempt)
		c.log.DebugContext(ctx, "moodle call failed, retrying", "function", fn, "attempt", attempt,
			"pause", pause, "error", err)
		if serr := c.sleep(ctx, pause); serr != nil {
			return err
		}
	}
}

// isTransient reports whether a failed read may succeed if repeated.
func isTransient(err error) bool {
	var ue *unavailableError
	if errors.As(err, &ue) {
		return true
	}
	var me *Error
	return errors.As(err, &me) && transientCodes[me.ErrorCode]
}

// backoff is the pause after the attempt-th failure: BackoffBase doubling,
// capped at BackoffMax, with the upper half jittered.
func (c *Client) backoff(attempt int) time.Duration {
	d := c.cfg.BackoffBase << min(attempt-1, 30)
	if d <= 0 || d > c.cfg.BackoffMax {
		d = c.cfg.BackoffMax
	}
	half := d / 2
	return half + rand.N(half+1)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// attempt makes one HTTP request and decodes its answer into out.
func (c *Client) attempt(ctx context.Context, fn, body string, out any, read bool) error {
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("moodle %s: %w", fn, ctx.Err())
	}
	defer func() { <-c.sem }()

	actx, cancel := context.WithTimeout(ctx, c.cfg.CallTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, c.endpoint, strings.NewReader(body))
	if err != nil {
		return fmt.Errorf("moodle %s: %w", fn, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil { // the caller gave up: not Moodle's fault
			return fmt.Errorf("moodle %s: %w", fn, ctx.Err())
		}
		what := "request failed"
		if actx.Err() != nil {
			what = fmt.Sprintf("no answer within %s", c.cfg.CallTimeout)
		}
		return &unavailableError{fn: fn, what: what, err: err, unknown: !read && !neverSent(err)}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, c.cfg.MaxResponseBytes+1))
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("moodle %s: %w", fn, ctx.Err())
		}
		return &unavailableError{fn: fn, what: "reading the answer", err: err, unknown: !read}
	}
	switch {
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests ||
		resp.StatusCode == http.StatusRequestTimeout:
		return &unavailableError{fn: fn, what: "HTTP " + resp.Status, unknown: !read}
	case resp.StatusCode != http.StatusOK:
		return &badResponseError{fn: fn, what: fmt.Sprintf("HTTP %s: %s", resp.Status, snippet(data)), unknown: !read}
	case int64(len(data)) > c.cfg.MaxResponseBytes:
		return &badResponseError{fn: fn, what: fmt.Sprintf("answer over %d bytes", c.cfg.MaxResponseBytes), unknown: !read}
	}
	return decode(fn, data, out, read)
}

// neverSent reports whether a transport error proves the request did not
// reach Moodle (no connection was made).
func neverSent(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var dns *net.DNSError
	return errors.As(err, &dns)
}

// decode reads a 200 answer: an exception (JSON, or XML when the site
// ignored the format), the literal null, or the result.
func decode(fn string, data []byte, out any, read bool) error {
	b := bytes.TrimSpace(data)
	if len(b) == 0 {
		return &badResponseError{fn: fn, what: "empty body", unknown: !read}
	}
	switch b[0] {
	case '{':
		var probe struct {
			Exception *string `json:"exception"`
			ErrorCode string  `json:"errorcode"`
			Message   string  `json:"message"`
			DebugInfo string  `json:"debuginfo"`
		}
		if json.Unmarshal(b, &probe) == nil && probe.Exception != nil {
			return &Error{Function: fn, Exception: *probe.Exception, ErrorCode: probe.ErrorCode,
				Message: probe.Message, DebugInfo: probe.DebugInfo}
		}
	case '<':
		var x struct {
			XMLName   xml.Name `xml:"EXCEPTION"`
			Class     string   `xml:"class,attr"`
			ErrorCode string   `xml:"ERRORCODE"`
			Message   string   `xml:"MESSAGE"`
			DebugInfo string   `xml:"DEBUGINFO"`
		}
		if xml.Unmarshal(b, &x) == nil {
			return &Error{Function: fn, Exception: x.Class, ErrorCode: x.ErrorCode, Message: x.Message,
				DebugInfo: x.DebugInfo}
		}
		return &badResponseError{fn: fn, what: "not JSON: " + snippet(b), unknown: !read}
	}
	if string(b) == "null" {
		return nil
	}
	if out == nil {
		if !json.Valid(b) {
			return &badResponseError{fn: fn, what: "not JSON: " + snippet(b), unknown: !read}
		}
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		// No snippet: the body holds user data (phones) that logs must not.
		return &badResponseError{fn: fn, what: fmt.Sprintf("%v (%d bytes)", err, len(b)), unknown: !read}
	}
	return nil
}

func snippet(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return fmt.Sprintf("%q", s)
}
