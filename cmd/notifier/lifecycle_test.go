package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/notifier/adapters/postgres"
	"github.com/acme/notifier/app"
)

// These tests run the notifier binary itself, as an operator does: they
// build it, start it on PostgreSQL and Redis, stop it with a signal in the
// middle of its work, start it again on the same database and Redis, and
// check that every event ends processed exactly once.

// buildBinary builds the notifier into dir with the fast test timing
// (see testTiming): recovery after a crash takes seconds, not minutes.
func buildBinary(t *testing.T, dir string) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	require.NoError(t, err, "the go tool builds the binary under test")
	bin := filepath.Join(dir, "notifier")
	cmd := exec.Command(goTool, "build", "-ldflags", "-X main.testTiming=fast", "-o", bin, ".")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go build: %s", out)
	return bin
}

// proc is one run of the binary.
type proc struct {
	cmd    *exec.Cmd
	url    string
	stderr *syncBuffer
	done   chan struct{} // closed when the process has exited
	err    error         // Wait's answer, once done
}

var listening = regexp.MustCompile(`listening on (http://\S+)`)

// launch starts the binary with exactly env and waits until it is ready.
func launch(t *testing.T, bin string, env map[string]string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(bin, args...), stderr: &syncBuffer{}, done: make(chan struct{})}
	for k, v := range env {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	p.cmd.Stderr = p.stderr
	stdout, err := p.cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, p.cmd.Start())
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				urls <- m[1]
			}
		}
	}()
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("stderr of %s:\n%s", bin, p.stderr.String())
		}
	})
	select {
	case p.url = <-urls:
	case <-p.done:
		t.Fatalf("the notifier exited at start (%v):\n%s", p.err, p.stderr.String())
	case <-time.After(20 * time.Second):
		t.Fatalf("the notifier printed no address within 20 s:\n%s", p.stderr.String())
	}
	eventually(t, 10*time.Second, "/readyz answers 200", func() bool {
		resp, err := http.Get(p.url + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return p
}

// signal sends sig and waits for the exit, at most within.
func (p *proc) signal(t *testing.T, sig os.Signal, within time.Duration) (exitCode int, took time.Duration) {
	t.Helper()
	began := time.Now()
	require.NoError(t, p.cmd.Process.Signal(sig))
	select {
	case <-p.done:
	case <-time.After(within):
		t.Fatalf("the notifier did not exit within %s of %v", within, sig)
	}
	return p.cmd.ProcessState.ExitCode(), time.Since(began)
}

// standIn is a WhatsApp Cloud API that answers every send after delay and
// counts the sends per recipient.
type standIn struct {
	*httptest.Server
	delay time.Duration
	mu    sync.Mutex
	byTo  map[string]int
}

func newStandIn(t *testing.T, delay time.Duration) *standIn {
	s := &standIn{delay: delay, byTo: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			To string `json:"to"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.byTo[req.To]++
		n := len(s.byTo)
		s.mu.Unlock()
		select {
		case <-time.After(s.delay):
		case <-r.Context().Done():
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"messaging_product":"whatsapp","contacts":[{"input":%q,"wa_id":%q}],`+
			`"messages":[{"id":"wamid.standin-%d"}]}`, req.To, strings.TrimPrefix(req.To, "+"), n)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *standIn) sends() (total int, byTo map[string]int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	byTo = make(map[string]int, len(s.byTo))
	for k, v := range s.byTo {
		byTo[k] = v
		total += v
	}
	return total, byTo
}

// binaryEnv is the whole environment of the binary on b, sending to wa.
func binaryEnv(t *testing.T, b backend, wa *standIn) map[string]string {
	return map[string]string{
		"DATABASE_URL":             b.dbURL,
		"REDIS_URL":                b.redis,
		"NOTIFIER_STREAM_PREFIX":   b.prefix,
		"NOTIFIER_DATA_DIR":        t.TempDir(),
		"NOTIFIER_HTTP_ADDR":       "127.0.0.1:0",
		"MOODLE_WEBHOOK_SECRET":    testSecret,
		"NOTIFIER_ADMIN_TOKENS":    testToken,
		"NOTIFIER_SCAN_AT":         "off",
		"NOTIFIER_LOG_FORMAT":      "json",
		"WHATSAPP_TOKEN":           "standin-token-0123456789",
		"WHATSAPP_PHONE_ID":        "1234567890",
		"WHATSAPP_APP_SECRET":      "standin-app-secret",
		"WHATSAPP_API_URL":         wa.URL + "/v25.0",
		"WHATSAPP_RATE_PER_SECOND": "1000",
	}
}

func lifecycleEvent(i int) (string, []byte) {
	id := fmt.Sprintf("life-%d", i)
	return id, event(id, "user_enrolment_created", int64(7000+i), int64(1+i%5), nil)
}

// deliverAll posts events [from, to) eight at a time; each must answer want.
func deliverAll(t *testing.T, url string, from, to, want int) {
	t.Helper()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := from; i < to; i++ {
		id, body := lifecycleEvent(i)
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if st := deliver(t, url, id, body); st != want {
				t.Errorf("delivery %s answered %d, want %d", id, st, want)
			}
		})
	}
	wg.Wait()
}

// settled waits until every event of [0, n) is processed and has its
// welcome row in a final status, then checks that each has exactly one
// and that WhatsApp got at most one request per student (never a send
// repeated after an unknown outcome). It returns the rows by status.
func settled(t *testing.T, dbURL, url string, n int, wa *standIn) map[string]int {
	t.Helper()
	store, err := postgres.Open(context.Background(), dbURL)
	require.NoError(t, err)
	defer store.Close()
	var rows []map[string]any
	eventually(t, 30*time.Second, fmt.Sprintf("all %d events processed with a settled welcome", n), func() bool {
		for i := range n {
			id, _ := lifecycleEvent(i)
			ev, err := store.GetInbound(context.Background(), id)
			if err != nil || ev.State != app.InboundProcessed {
				return false
			}
		}
		rows = messages(t, url, "&rule=welcome")
		for _, r := range rows {
			if r["status"] == "PENDING" {
				return false
			}
		}
		return len(rows) >= n
	})
	time.Sleep(300 * time.Millisecond) // a late second row would show now
	rows = messages(t, url, "&rule=welcome")
	require.Len(t, rows, n, "one welcome per event")
	perStudent := map[string]int{}
	byStatus := map[string]int{}
	for _, r := range rows {
		perStudent[r["to"].(string)]++
		byStatus[r["status"].(string)]++
		if r["status"] == "FAILED" {
			assert.Equal(t, "outcome_unknown", r["error_code"], "only a send cut by the kill may fail")
		}
	}
	assert.Len(t, perStudent, n, "one welcome per student")
	total, byTo := wa.sends()
	for to, c := range byTo {
		assert.Equal(t, 1, c, "WhatsApp got %s more than once", to)
	}
	assert.GreaterOrEqual(t, total, byStatus["SENT"], "every SENT row was sent")
	return byStatus
}

func TestBinary(t *testing.T) {
	bin := buildBinary(t, t.TempDir())

	t.Run("ConfigurationErrorsExit2NamingTheVariable", func(t *testing.T) {
		busy, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer busy.Close()
		for _, c := range []struct {
			name     string
			env      map[string]string
			mentions []string
		}{
			{"production on embedded defaults", map[string]string{"NOTIFIER_ENV": "production"},
				[]string{"DATABASE_URL", "REDIS_URL", "MOODLE_WEBHOOK_SECRET", "NOTIFIER_ADMIN_TOKENS"}},
			{"unknown time zone", map[string]string{"NOTIFIER_TIMEZONE": "Mars/Olympus"},
				[]string{"NOTIFIER_TIMEZONE", "Mars/Olympus"}},
			{"malformed secret", map[string]string{"MOODLE_WEBHOOK_SECRET": "hunter2-not-whsec"},
				[]string{"MOODLE_WEBHOOK_SECRET", "whsec_"}},
			{"address in use", map[string]string{"NOTIFIER_HTTP_ADDR": busy.Addr().String()},
				[]string{"NOTIFIER_HTTP_ADDR"}},
		} {
			t.Run(c.name, func(t *testing.T) {
				cmd := exec.Command(bin, "serve")
				cmd.Env = []string{"NOTIFIER_DATA_DIR=" + t.TempDir()}
				for k, v := range c.env {
					cmd.Env = append(cmd.Env, k+"="+v)
				}
				var stderr strings.Builder
				cmd.Stderr = &stderr
				cmd.Stdout = io.Discard
				err := cmd.Run()
				var exit *exec.ExitError
				require.True(t, errors.As(err, &exit), "exits with an error: %v", err)
				assert.Equal(t, 2, exit.ExitCode(), stderr.String())
				for _, m := range c.mentions {
					assert.Contains(t, stderr.String(), m)
				}
				assert.NotContains(t, stderr.String(), "hunter2", "a bad secret is not echoed")
			})
		}
	})

	// SIGTERM while sends are in flight: the process stops taking work,
	// lets the sends finish, exits 0 well within 30 s; the next process
	// finishes the rest. No send is cut, so no row has an unknown outcome.
	t.Run("SIGTERMDrainsAndTheRestartFinishes", func(t *testing.T) {
		b := sharedBackend(t)
		wa := newStandIn(t, 300*time.Millisecond)
		env := binaryEnv(t, b, wa)
		const n = 40

		first := launch(t, bin, env)
		deliverAll(t, first.url, 0, n, http.StatusAccepted)
		eventually(t, 10*time.Second, "sends under way", func() bool { total, _ := wa.sends(); return total >= 3 })
		code, took := first.signal(t, syscall.SIGTERM, 30*time.Second)
		assert.Equal(t, 0, code, "a graceful stop exits 0")
		assert.Less(t, took, 10*time.Second)
		assert.Contains(t, first.stderr.String(), "shutting down")
		t.Logf("SIGTERM: exited %d after %s", code, took.Round(time.Millisecond))

		second := launch(t, bin, env)
		deliverAll(t, second.url, 0, 5, http.StatusOK) // Moodle re-delivers: duplicates
		byStatus := settled(t, b.dbURL, second.url, n, wa)
		assert.Equal(t, map[string]int{"SENT": n}, byStatus, "no send was cut")
	})

	// SIGKILL mid-run: nothing graceful happens. The next process recovers
	// the events stored but never processed, settles the sends cut in flight
	// as outcome_unknown (never sends them twice) and finishes the rest.
	t.Run("SIGKILLLosesNothing", func(t *testing.T) {
		b := sharedBackend(t)
		wa := newStandIn(t, 100*time.Millisecond)
		env := binaryEnv(t, b, wa)
		const n = 60

		first := launch(t, bin, env)
		deliverAll(t, first.url, 0, 40, http.StatusAccepted)
		eventually(t, 10*time.Second, "sends under way", func() bool { total, _ := wa.sends(); return total >= 5 })
		code, _ := first.signal(t, syscall.SIGKILL, 10*time.Second)
		assert.Equal(t, -1, code, "killed")

		second := launch(t, bin, env)
		deliverAll(t, second.url, 40, n, http.StatusAccepted)
		deliverAll(t, second.url, 0, 10, http.StatusOK)
		byStatus := settled(t, b.dbURL, second.url, n, wa)
		t.Logf("SIGKILL: rows by status after the restart: %v", byStatus)
	})
}
