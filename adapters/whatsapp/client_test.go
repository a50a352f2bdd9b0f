package whatsapp_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/notifier/adapters/whatsapp"
	"github.com/acme/notifier/adapters/whatsapp/whatsapptest"
	"github.com/acme/notifier/app"
	"github.com/acme/notifier/domain"
)

// newClient is a client of the fake with limits too high to slow a test.
func newClient(t *testing.T, fake *whatsapptest.Server, tweak ...func(*whatsapp.ClientConfig)) *whatsapp.Client {
	t.Helper()
	cfg := fake.ClientConfig()
	cfg.RatePerSecond = 10_000
	cfg.PairSpacing = time.Millisecond
	cfg.Timeout = 5 * time.Second
	for _, f := range tweak {
		f(&cfg)
	}
	c, err := whatsapp.NewClient(cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func row() domain.MessageLog {
	return domain.MessageLog{ID: 17, Template: "welcome", Language: "es", To: "+34600111222",
		Params: []string{"Ana", "Prevención de riesgos"}, Status: domain.StatusPending, Attempts: 1}
}

func TestSendMatchesTheOfficialSchema(t *testing.T) {
	fake := whatsapptest.New(t)
	c := newClient(t, fake)

	res := c.Send(t.Context(), row())

	require.Equal(t, app.OutcomeSent, res.Outcome, "%s", res.ErrorMessage)
	reqs := fake.Requests()
	require.Len(t, reqs, 1)
	require.NoError(t, reqs[0].Invalid, "the fake validated the request against the official description")
	assert.Equal(t, "/"+whatsapptest.Version+"/"+fake.PhoneID+"/messages", reqs[0].Path)
	assert.Equal(t, "Bearer "+fake.Token, reqs[0].Header.Get("Authorization"))
	assert.Equal(t, "notifier/1.2.3", reqs[0].Header.Get("User-Agent"))
	assert.Equal(t, "application/json", reqs[0].Header.Get("Content-Type"))
	assert.JSONEq(t, string(res.Request), string(reqs[0].Body), "the row keeps what was sent")
	assert.Contains(t, string(reqs[0].Body), `"biz_opaque_callback_data":"msglog:17"`)

	assert.Equal(t, reqs[0].WAMID, res.ProviderMessageID)
	var answer struct {
		Contacts []struct {
			WaID string `json:"wa_id"`
		} `json:"contacts"`
		Messages []struct {
			MessageStatus string `json:"message_status"`
		} `json:"messages"`
	}
	require.NoError(t, json.Unmarshal(res.Response, &answer), "the row keeps Meta's answer as it came")
	assert.Equal(t, "34600111222", answer.Contacts[0].WaID)
	assert.Equal(t, "accepted", answer.Messages[0].MessageStatus)
}

func TestSendWithoutParamsMatchesTheSchema(t *testing.T) {
	fake := whatsapptest.New(t)
	m := row()
	m.Params = nil
	res := newClient(t, fake).Send(t.Context(), m)
	require.Equal(t, app.OutcomeSent, res.Outcome, "%s", res.ErrorMessage)
	require.NoError(t, fake.Requests()[0].Invalid)
}

// The fake is strict: what breaks the description, or the token, is refused.
func TestFakeRefusesWhatBreaksTheDescription(t *testing.T) {
	fake := whatsapptest.New(t, whatsapptest.AllowInvalid())
	post := func(body, auth, agent string) (int, map[string]any) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, fake.URL+"/"+fake.PhoneID+"/messages",
			strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", auth)
		req.Header.Set("User-Agent", agent)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var out map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
		return resp.StatusCode, out
	}
	good := string(whatsapp.DryRun{}.Send(t.Context(), row()).Request)
	code := func(out map[string]any) float64 { return out["error"].(map[string]any)["code"].(float64) }

	status, out := post(good, "Bearer "+fake.Token, "notifier/1.2.3")
	assert.Equal(t, http.StatusOK, status, "%v", out)

	status, out = post(strings.Replace(good, `"recipient_type":"individual",`, "", 1), "Bearer "+fake.Token, "notifier/1.2.3")
	assert.Equal(t, http.StatusBadRequest, status)
	assert.EqualValues(t, 100, code(out), "recipient_type is required")

	status, out = post(strings.Replace(good, `"policy":"deterministic",`, "", 1), "Bearer "+fake.Token, "notifier/1.2.3")
	assert.Equal(t, http.StatusBadRequest, status)
	assert.EqualValues(t, 100, code(out), "language.policy is required")

	status, out = post(good, "Bearer "+fake.Token, "Go-http-client/1.1")
	assert.Equal(t, http.StatusBadRequest, status, "the User-Agent must be name/1.2.3")
	assert.EqualValues(t, 100, code(out))

	status, out = post(good, "Bearer wrong", "notifier/1.2.3")
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.EqualValues(t, 190, code(out))

	reqs := fake.Requests()
	require.Len(t, reqs, 5)
	assert.NoError(t, reqs[0].Invalid)
	for _, r := range reqs[1:] {
		assert.Error(t, r.Invalid)
	}
}

// Each class of Meta's error codes, and what the row is told.
func TestSendClassifiesMetaErrorsByCode(t *testing.T) {
	cases := []struct {
		code    int
		outcome app.SendOutcome
	}{
		{130429, app.OutcomeRetryLater}, {131056, app.OutcomeRetryLater}, {4, app.OutcomeRetryLater},
		{80007, app.OutcomeRetryLater},
		{131026, app.OutcomeFailed}, {131047, app.OutcomeFailed}, {131051, app.OutcomeFailed},
		{131008, app.OutcomeFailed}, {131009, app.OutcomeFailed}, {132000, app.OutcomeFailed},
		{132001, app.OutcomeFailed}, {132015, app.OutcomeFailed}, {132016, app.OutcomeFailed},
		{100, app.OutcomeFailed}, {190, app.OutcomeFailed}, {368, app.OutcomeFailed}, {131042, app.OutcomeFailed},
		{131031, app.OutcomeFailed}, {131049, app.OutcomeFailed}, {131048, app.OutcomeFailed},
		{131000, app.OutcomeUnknown}, {131016, app.OutcomeUnknown}, {2, app.OutcomeUnknown},
	}
	fake := whatsapptest.New(t)
	c := newClient(t, fake)
	for _, tc := range cases {
		t.Run(strconv.Itoa(tc.code), func(t *testing.T) {
			fake.Enqueue(whatsapptest.Error(tc.code))
			res := c.Send(t.Context(), row())
			assert.Equal(t, tc.outcome, res.Outcome)
			assert.Empty(t, res.ProviderMessageID)
			assert.NotEmpty(t, res.Request)
			assert.True(t, json.Valid(res.Response), "Meta's error is kept on the row")
			switch tc.outcome {
			case app.OutcomeRetryLater:
				e, _ := whatsapp.LookupError(tc.code)
				assert.Equal(t, strconv.Itoa(tc.code), res.ErrorCode)
				assert.GreaterOrEqual(t, res.RetryAfter, e.Backoff)
				assert.LessOrEqual(t, res.RetryAfter, e.Backoff*3/2)
			case app.OutcomeFailed:
				assert.Equal(t, strconv.Itoa(tc.code), res.ErrorCode)
				assert.Contains(t, res.ErrorMessage, "(#"+strconv.Itoa(tc.code)+")", "Meta's message")
			case app.OutcomeUnknown:
				assert.Empty(t, res.ErrorCode, "the row's code will be outcome_unknown")
				assert.Contains(t, res.ErrorMessage, strconv.Itoa(tc.code), "Meta's code stays in the message")
			}
		})
	}
}

func TestUnlistedCodesFollowTheAnswer(t *testing.T) {
	fake := whatsapptest.New(t)
	c := newClient(t, fake)

	fake.Enqueue(whatsapptest.Error(139999).WithStatus(http.StatusBadRequest))
	res := c.Send(t.Context(), row())
	assert.Equal(t, app.OutcomeFailed, res.Outcome, "Meta refused it")
	assert.Equal(t, "139999", res.ErrorCode)

	fake.Enqueue(whatsapptest.Error(139999).WithStatus(http.StatusBadGateway))
	res = c.Send(t.Context(), row())
	assert.Equal(t, app.OutcomeUnknown, res.Outcome, "a server error may come after the send")

	// Never by HTTP status alone: a throttling code on a 500 is still throttling.
	fake.Enqueue(whatsapptest.Error(130429).WithStatus(http.StatusInternalServerError))
	res = c.Send(t.Context(), row())
	assert.Equal(t, app.OutcomeRetryLater, res.Outcome)
}

func TestBackoffGrowsWithAttempts(t *testing.T) {
	fake := whatsapptest.New(t)
	c := newClient(t, fake)
	m := row()
	var last time.Duration
	for attempts := 1; attempts <= 12; attempts++ {
		m.Attempts = attempts
		fake.Enqueue(whatsapptest.Error(130429))
		res := c.Send(t.Context(), m)
		require.Equal(t, app.OutcomeRetryLater, res.Outcome)
		base := min(2*time.Second<<(attempts-1), 5*time.Minute)
		assert.GreaterOrEqual(t, res.RetryAfter, base, "attempt %d", attempts)
		assert.LessOrEqual(t, res.RetryAfter, base*3/2, "attempt %d", attempts)
		last = res.RetryAfter
	}
	assert.LessOrEqual(t, last, 5*time.Minute*3/2, "capped")
}

func TestRetryAfterHeaderIsRespected(t *testing.T) {
	fake := whatsapptest.New(t)
	c := newClient(t, fake)

	fake.Enqueue(whatsapptest.Error(130429).WithHeader("Retry-After", "120"))
	res := c.Send(t.Context(), row())
	require.Equal(t, app.OutcomeRetryLater, res.Outcome)
	assert.GreaterOrEqual(t, res.RetryAfter, 120*time.Second)
	assert.LessOrEqual(t, res.RetryAfter, 132*time.Second)

	at := time.Now().Add(10 * time.Minute).UTC().Format(http.TimeFormat)
	fake.Enqueue(whatsapptest.Error(4).WithHeader("Retry-After", at))
	res = c.Send(t.Context(), row())
	require.Equal(t, app.OutcomeRetryLater, res.Outcome)
	assert.InDelta(t, (10 * time.Minute).Seconds(), res.RetryAfter.Seconds(), 70)
}

func TestTimeoutIsAnUnknownOutcome(t *testing.T) {
	fake := whatsapptest.New(t)
	c := newClient(t, fake, func(cfg *whatsapp.ClientConfig) { cfg.Timeout = 500 * time.Millisecond })
	// A first send leaves a connection open, so the hanging request is
	// certainly written before the timeout (a timeout before any connection
	// is a send that never happened).
	require.Equal(t, app.OutcomeSent, c.Send(t.Context(), row()).Outcome)
	fake.Enqueue(whatsapptest.Hang())

	start := time.Now()
	res := c.Send(t.Context(), row())

	assert.Equal(t, app.OutcomeUnknown, res.Outcome, "%s", res.ErrorMessage)
	assert.Less(t, time.Since(start), 5*time.Second, "the timeout holds")
	assert.Equal(t, 2, fake.Count())
	assert.NotContains(t, res.ErrorMessage, fake.Token)
}

func TestConnectionLostAfterWritingIsAnUnknownOutcome(t *testing.T) {
	fake := whatsapptest.New(t)
	c := newClient(t, fake)
	fake.Enqueue(whatsapptest.Drop())

	res := c.Send(t.Context(), row())

	assert.Equal(t, app.OutcomeUnknown, res.Outcome, "%s", res.ErrorMessage)
	assert.Equal(t, 1, fake.Count(), "the request reached the server")
}

func TestConnectionRefusedProvesNothingWasSent(t *testing.T) {
	// A port that was just free: connecting to it is refused.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())

	c, err := whatsapp.NewClient(whatsapp.ClientConfig{Token: "secret-token", PhoneID: "1", APIURL: "http://" + addr + "/v23.0",
		RatePerSecond: 1000, PairSpacing: time.Millisecond})
	require.NoError(t, err)
	res := c.Send(t.Context(), row())

	assert.Equal(t, app.OutcomeRetryLater, res.Outcome, "%s", res.ErrorMessage)
	assert.Equal(t, whatsapp.ErrCodeNotSent, res.ErrorCode)
	assert.GreaterOrEqual(t, res.RetryAfter, 5*time.Second)
	assert.NotContains(t, res.ErrorMessage, "secret-token")
}

func TestUnreadableAnswersAreUnknownOutcomes(t *testing.T) {
	fake := whatsapptest.New(t)
	c := newClient(t, fake)
	for name, a := range map[string]whatsapptest.Answer{
		"proxy HTML":         whatsapptest.Raw(http.StatusBadGateway, "<html><body>502 Bad Gateway</body></html>"),
		"200 without id":     whatsapptest.Raw(http.StatusOK, `{"messaging_product":"whatsapp","messages":[]}`),
		"200 not JSON":       whatsapptest.Raw(http.StatusOK, `ok`),
		"error without code": whatsapptest.Raw(http.StatusBadRequest, `{"error":{"message":"?"}}`),
		"429 bare":           whatsapptest.Raw(http.StatusTooManyRequests, ``),
	} {
		t.Run(name, func(t *testing.T) {
			fake.Enqueue(a)
			res := c.Send(t.Context(), row())
			assert.Equal(t, app.OutcomeUnknown, res.Outcome)
			assert.True(t, res.Response == nil || json.Valid(res.Response), "the row's response column holds JSON: %s", res.Response)
		})
	}
}

func TestNonJSONAnswerIsKeptAsJSON(t *testing.T) {
	fake := whatsapptest.New(t)
	fake.Enqueue(whatsapptest.Raw(http.StatusBadGateway, "<html>502</html>"))
	res := newClient(t, fake).Send(t.Context(), row())
	var kept struct {
		HTTPStatus int    `json:"http_status"`
		Body       string `json:"body"`
	}
	require.NoError(t, json.Unmarshal(res.Response, &kept))
	assert.Equal(t, http.StatusBadGateway, kept.HTTPStatus)
	assert.Equal(t, "<html>502</html>", kept.Body)
}

func TestNewClientChecksItsConfiguration(t *testing.T) {
	for name, cfg := range map[string]whatsapp.ClientConfig{
		"no token":    {PhoneID: "1", APIURL: "https://graph.facebook.com/v25.0"},
		"no phone id": {Token: "t", APIURL: "https://graph.facebook.com/v25.0"},
		"a path":      {Token: "t", PhoneID: "1/2", APIURL: "https://graph.facebook.com/v25.0"},
		"no URL":      {Token: "t", PhoneID: "1"},
		"bad Redis":   {Token: "t", PhoneID: "1", APIURL: "https://x", RedisURL: "mysql://user:pw@host"},
		"bad rate":    {Token: "t", PhoneID: "1", APIURL: "https://x", RatePerSecond: -1},
	} {
		_, err := whatsapp.NewClient(cfg)
		assert.Error(t, err, name)
		if err != nil {
			assert.NotContains(t, err.Error(), "pw", name)
		}
	}
}

func TestUserAgentFollowsTheSpecPattern(t *testing.T) {
	for version, want := range map[string]string{
		"1.2.3": "notifier/1.2.3", "v1.4.0": "notifier/1.4.0", "v2.0.1-rc.1+abc": "notifier/2.0.1",
		"dev": "notifier/0.0.0", "": "notifier/0.0.0", "1.2": "notifier/0.0.0",
	} {
		assert.Equal(t, want, whatsapp.UserAgent(version), version)
	}
}

// The table names each code once, with its class and Meta's meaning.
func TestErrorTableIsComplete(t *testing.T) {
	seen := map[int]bool{}
	for _, e := range whatsapp.MetaErrors() {
		assert.NotEmpty(t, e.Title, "%d", e.First)
		assert.NotEmpty(t, e.Meaning, "%d", e.First)
		assert.NotZero(t, e.HTTPStatus, "%d", e.First)
		assert.Contains(t, []whatsapp.ErrorClass{whatsapp.ClassRetryLater, whatsapp.ClassPermanent, whatsapp.ClassUnknown}, e.Class)
		if e.Class == whatsapp.ClassRetryLater {
			assert.Positive(t, e.Backoff, "%d", e.First)
			assert.GreaterOrEqual(t, e.MaxBackoff, e.Backoff, "%d", e.First)
		}
		if e.Last == 0 {
			assert.False(t, seen[e.First], "code %d listed twice", e.First)
			seen[e.First] = true
		}
	}
	for code, class := range map[int]whatsapp.ErrorClass{
		130429: whatsapp.ClassRetryLater, 131056: whatsapp.ClassRetryLater, 4: whatsapp.ClassRetryLater,
		80007: whatsapp.ClassRetryLater, 131026: whatsapp.ClassPermanent, 131047: whatsapp.ClassPermanent,
		131051: whatsapp.ClassPermanent, 131008: whatsapp.ClassPermanent, 131009: whatsapp.ClassPermanent,
		132000: whatsapp.ClassPermanent, 132008: whatsapp.ClassPermanent, 132016: whatsapp.ClassPermanent,
		100: whatsapp.ClassPermanent, 190: whatsapp.ClassPermanent, 368: whatsapp.ClassPermanent,
		131042: whatsapp.ClassPermanent, 250: whatsapp.ClassPermanent, 131000: whatsapp.ClassUnknown,
	} {
		assert.Equal(t, class, whatsapp.Classify(code, http.StatusBadRequest), "%d", code)
	}
	e, ok := whatsapp.LookupError(132001)
	require.True(t, ok)
	assert.Equal(t, "Template does not exist", e.Title, "a single code's row before its range's")
}

// A send waits for the limiter; a cancelled wait sends nothing.
func TestCancelledWaitSendsNothing(t *testing.T) {
	fake := whatsapptest.New(t)
	c := newClient(t, fake, func(cfg *whatsapp.ClientConfig) {
		cfg.RatePerSecond = 1
		cfg.PairSpacing = time.Hour
	})
	require.Equal(t, app.OutcomeSent, c.Send(t.Context(), row()).Outcome)

	short, stop := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer stop()
	res := c.Send(short, row())

	assert.Equal(t, app.OutcomeRetryLater, res.Outcome, "the same recipient within its spacing")
	assert.Equal(t, whatsapp.ErrCodeNotSent, res.ErrorCode)
	assert.Equal(t, 1, fake.Count())
}
