package whatsapp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptrace"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/acme/notifier/app"
	"github.com/acme/notifier/domain"
)

// DefaultTimeout bounds one request to the Cloud API, answer included.
const DefaultTimeout = 30 * time.Second

// maxAnswer bounds what is read of an answer; Meta's are a few hundred bytes.
const maxAnswer = 1 << 20

// Error codes of attempts that never got an answer from Meta.
const (
	// ErrCodeNotSent: the request never left (no connection to Meta, or the
	// rate limiter gave up); the row is sent again later.
	ErrCodeNotSent = "not_sent"
)

// ClientConfig is what the Cloud API client needs; cmd/notifier fills it
// from the WHATSAPP_* variables.
type ClientConfig struct {
	Token   string // WHATSAPP_TOKEN
	PhoneID string // WHATSAPP_PHONE_ID
	APIURL  string // WHATSAPP_API_URL, the Graph API base with its version
	// Version is the notifier's version; the User-Agent is notifier/<x.y.z>
	// (the official description wants name/1.2.3; anything else is sent as
	// 0.0.0).
	Version string
	// Timeout bounds one request; zero means DefaultTimeout.
	Timeout time.Duration

	// RatePerSecond is WHATSAPP_RATE_PER_SECOND; zero means 80.
	RatePerSecond float64
	// PairSpacing is the least time between two messages to one recipient;
	// zero means 6 s.
	PairSpacing time.Duration
	// RedisURL (REDIS_URL) shares the rate limit between replicas through
	// Redis, with keys under RedisPrefix (NOTIFIER_STREAM_PREFIX); empty
	// limits this process only.
	RedisURL    string
	RedisPrefix string
	// Limiter replaces the limiter built from the fields above (tests).
	Limiter Limiter

	// HTTPClient replaces the default client (tests); Timeout still applies.
	HTTPClient *http.Client
	Logger     *slog.Logger
	// Metrics, when set, observes each request and each rate-limiter wait.
	Metrics *Metrics
}

// Client sends template messages through the WhatsApp Cloud API. It
// implements app.Sender.
type Client struct {
	url       string
	token     string
	userAgent string
	timeout   time.Duration
	http      *http.Client
	limiter   Limiter
	redis     *redis.Client // owned, closed by Close; nil without Redis
	log       *slog.Logger
	metrics   *Metrics // nil: none
}

var _ app.Sender = (*Client)(nil)

// NewClient checks the configuration and builds the client with its rate
// limiter.
func NewClient(c ClientConfig) (*Client, error) {
	switch {
	case c.Token == "":
		return nil, errors.New("whatsapp: WHATSAPP_TOKEN is required for the Cloud API client")
	case c.PhoneID == "":
		return nil, errors.New("whatsapp: WHATSAPP_PHONE_ID is required with WHATSAPP_TOKEN")
	case strings.ContainsAny(c.PhoneID, "/?#"):
		return nil, errors.New("whatsapp: WHATSAPP_PHONE_ID must be the phone number id, not a path")
	case !strings.HasPrefix(c.APIURL, "https://") && !strings.HasPrefix(c.APIURL, "http://"):
		return nil, errors.New("whatsapp: WHATSAPP_API_URL must be an http(s) URL")
	}
	cl := &Client{
		url:       strings.TrimRight(c.APIURL, "/") + "/" + c.PhoneID + "/messages",
		token:     c.Token,
		userAgent: UserAgent(c.Version),
		timeout:   c.Timeout,
		http:      c.HTTPClient,
		limiter:   c.Limiter,
		log:       c.Logger,
		metrics:   c.Metrics,
	}
	if cl.timeout <= 0 {
		cl.timeout = DefaultTimeout
	}
	if cl.http == nil {
		cl.http = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	if cl.log == nil {
		cl.log = slog.Default()
	}
	if cl.limiter == nil {
		lc := LimiterConfig{RatePerSecond: c.RatePerSecond, PairSpacing: c.PairSpacing}
		if lc.RatePerSecond == 0 {
			lc.RatePerSecond = 80
		}
		var err error
		if c.RedisURL != "" {
			opt, perr := redis.ParseURL(c.RedisURL)
			if perr != nil {
				return nil, errors.New("whatsapp: REDIS_URL cannot be parsed") // it may hold a password
			}
			cl.redis = redis.NewClient(opt)
			cl.limiter, err = NewRedisLimiter(cl.redis, c.RedisPrefix, lc)
		} else {
			cl.limiter, err = NewMemoryLimiter(lc)
		}
		if err != nil {
			_ = cl.Close()
			return nil, err
		}
	}
	return cl, nil
}

// Close releases the limiter's Redis client, if the client opened one.
func (c *Client) Close() error {
	if c.redis != nil {
		return c.redis.Close()
	}
	return nil
}

var semver = regexp.MustCompile(`^v?(\d+\.\d+\.\d+)`)

// UserAgent is notifier/<x.y.z> for a version such as "1.2.3", "v1.2.3-rc1"
// or "dev" (0.0.0): the form the official description's pattern accepts.
func UserAgent(version string) string {
	v := "0.0.0"
	if m := semver.FindStringSubmatch(version); m != nil {
		v = m[1]
	}
	return "notifier/" + v
}

// sendResponse is Meta's answer to a send (MessageResponsePayload).
type sendResponse struct {
	Contacts []struct {
		Input string `json:"input"`
		WaID  string `json:"wa_id"`
	} `json:"contacts"`
	Messages []struct {
		ID            string `json:"id"`
		MessageStatus string `json:"message_status"`
	} `json:"messages"`
}

// errorResponse is Meta's (Graph API's) error answer.
type errorResponse struct {
	Error *struct {
		Message   string `json:"message"`
		Type      string `json:"type"`
		Code      *int   `json:"code"`
		ErrorData struct {
			Details string `json:"details"`
		} `json:"error_data"`
		FBTraceID string `json:"fbtrace_id"`
	} `json:"error"`
}

// Send implements app.Sender: it waits for the rate limits, posts the
// template message and says what the answer proves.
func (c *Client) Send(ctx context.Context, m domain.MessageLog) (out app.SendResult) {
	body := encode(NewMessageRequest(m))
	res := app.SendResult{Request: body}
	if m.To == "" {
		res.Outcome, res.ErrorCode, res.ErrorMessage = app.OutcomeFailed, domain.ErrCodeInvalidPhone, "the row has no recipient"
		return res
	}
	waitStart := time.Now()
	err := c.limiter.Wait(ctx, m.To)
	c.metrics.waited(time.Since(waitStart))
	if err != nil {
		return notSent(res, m.Attempts, fmt.Sprintf("not sent: rate limiter: %v", err))
	}
	sendStart := time.Now()
	defer func() { c.metrics.sent(out.Outcome, time.Since(sendStart)) }()

	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var connected atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		// Nothing can have reached Meta before a connection was made.
		GotConn: func(httptrace.GotConnInfo) { connected.Store(true) },
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		res.Outcome, res.ErrorCode, res.ErrorMessage = app.OutcomeFailed, "request_error", err.Error()
		return res
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)

	resp, err := c.http.Do(req)
	if err != nil {
		if !connected.Load() || preConnect(err) {
			return notSent(res, m.Attempts, "not sent: "+redact(err.Error(), c.token))
		}
		return unknown(res, "no answer from WhatsApp: "+redact(err.Error(), c.token))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return unknown(res, fmt.Sprintf("the answer from WhatsApp (HTTP %d) was cut: %v", resp.StatusCode, err))
	}
	res.Response = keepable(resp.StatusCode, raw)

	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		var ok sendResponse
		if err := json.Unmarshal(raw, &ok); err != nil || len(ok.Messages) == 0 || ok.Messages[0].ID == "" {
			return unknown(res, fmt.Sprintf("WhatsApp answered HTTP %d without a message id", resp.StatusCode))
		}
		res.Outcome, res.ProviderMessageID = app.OutcomeSent, ok.Messages[0].ID
		c.log.DebugContext(ctx, "whatsapp accepted a message", "message_id", m.ID,
			"wamid", ok.Messages[0].ID, "message_status", ok.Messages[0].MessageStatus)
		return res
	}

	var e errorResponse
	if err := json.Unmarshal(raw, &e); err != nil || e.Error == nil || e.Error.Code == nil {
		return unknown(res, fmt.Sprintf("WhatsApp answered HTTP %d without an error code", resp.StatusCode))
	}
	code := *e.Error.Code
	res.ErrorCode = strconv.Itoa(code)
	res.ErrorMessage = errorText(code, e.Error.Message, e.Error.ErrorData.Details)
	switch Classify(code, resp.StatusCode) {
	case ClassRetryLater:
		res.Outcome = app.OutcomeRetryLater
		res.RetryAfter = retryAfter(code, m.Attempts, resp.Header.Get("Retry-After"), time.Now())
	case ClassPermanent:
		res.Outcome = app.OutcomeFailed
	default:
		// Keep Meta's code in the message: the row's code is outcome_unknown.
		res.Outcome = app.OutcomeUnknown
		res.ErrorCode = ""
		res.ErrorMessage = fmt.Sprintf("WhatsApp error %d: %s", code, res.ErrorMessage)
	}
	c.log.InfoContext(ctx, "whatsapp refused a message", "message_id", m.ID, "to", domain.MaskPhone(m.To),
		"code", code, "http_status", resp.StatusCode, "fbtrace_id", e.Error.FBTraceID)
	return res
}

// notSent is an attempt that provably never reached Meta.
func notSent(res app.SendResult, attempts int, msg string) app.SendResult {
	res.Outcome, res.ErrorCode, res.ErrorMessage = app.OutcomeRetryLater, ErrCodeNotSent, msg
	res.RetryAfter = backoff(5*time.Second, 5*time.Minute, attempts)
	return res
}

func unknown(res app.SendResult, msg string) app.SendResult {
	res.Outcome, res.ErrorMessage = app.OutcomeUnknown, msg
	return res
}

// preConnect reports errors of dialling and name resolution, which happen
// before anything is written. GotConn already tells most cases; this one
// covers a POST the transport retried on a fresh connection after its first,
// reused one failed with nothing written (net/http retries only then).
func preConnect(err error) bool {
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		return true
	}
	var dnsErr *net.DNSError
	return errors.As(err, &dnsErr)
}

// errorText is what the row keeps of Meta's error: its message (which
// carries the title) and the details.
func errorText(code int, message, details string) string {
	if message == "" {
		if e, ok := LookupError(code); ok {
			message = e.Title
		}
	}
	if details != "" && !strings.Contains(message, details) {
		return message + ": " + details
	}
	return message
}

// keepable is the answer as the row keeps it: the JSON as it came, or,
// when Meta (or a proxy before it) answered something else, a JSON note of
// it, since the row's response column holds JSON.
func keepable(status int, raw []byte) json.RawMessage {
	if json.Valid(raw) {
		return append(json.RawMessage(nil), raw...)
	}
	text := string(raw)
	if len(text) > 2048 {
		text = text[:2048]
	}
	b, _ := json.Marshal(struct {
		HTTPStatus int    `json:"http_status"`
		Body       string `json:"body"`
	}{status, strings.ToValidUTF8(text, "?")})
	return b
}

// retryAfter is the pause before a throttled row is sent again: Meta's
// Retry-After when it gives one, else the code's back-off doubled with
// every attempt, both with some jitter so that throttled rows do not all
// return at once.
func retryAfter(code, attempts int, header string, now time.Time) time.Duration {
	if d, ok := parseRetryAfter(header, now); ok {
		return d + jitter(d/10)
	}
	e, _ := LookupError(code)
	base, max := e.Backoff, e.MaxBackoff
	if base <= 0 {
		base, max = 5*time.Second, 5*time.Minute
	}
	return backoff(base, max, attempts)
}

// backoff is base·2^(attempts-1), at most max, plus up to half again as
// jitter: never less than base, which for the pair limit is its window.
func backoff(base, max time.Duration, attempts int) time.Duration {
	d := base
	for i := 1; i < attempts && d < max; i++ {
		d *= 2
	}
	d = min(d, max)
	return d + jitter(d/2)
}

func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return rand.N(d)
}

// parseRetryAfter reads a Retry-After header: seconds or an HTTP date.
func parseRetryAfter(h string, now time.Time) (time.Duration, bool) {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(h); err == nil {
		if s < 0 {
			return 0, false
		}
		return min(time.Duration(s)*time.Second, 24*time.Hour), true
	}
	if t, err := http.ParseTime(h); err == nil {
		return min(max(t.Sub(now), 0), 24*time.Hour), true
	}
	return 0, false
}

// redact keeps the token out of an error message.
func redact(msg, token string) string {
	if token == "" {
		return msg
	}
	return strings.ReplaceAll(msg, token, "[token]")
}
