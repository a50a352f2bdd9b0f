package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/notifier/adapters/bus"
	"github.com/acme/notifier/adapters/postgres"
	"github.com/acme/notifier/adapters/sqlite"
	"github.com/acme/notifier/app"
	"github.com/acme/notifier/internal/testenv"
	"github.com/acme/notifier/ports/httpapi"
)

func runDLQ(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), append([]string{"dlq"}, args...), envOf(env), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func dlqDeadLetter(msgID, reason string) app.DeadLetter {
	return app.DeadLetter{MessageID: msgID, Topic: app.TopicMoodleEvents, Handler: "moodle-event",
		Payload: []byte(`{"id":"` + msgID + `"}`), Metadata: map[string]string{"correlation_id": msgID},
		Reason: reason, Attempts: 5, FirstFailedAt: time.Date(2026, 12, 3, 10, 15, 0, 0, time.UTC)}
}

func TestDLQUsageErrors(t *testing.T) {
	env := map[string]string{"NOTIFIER_DATA_DIR": t.TempDir()}
	for _, args := range [][]string{
		{}, {"frob"}, {"list", "--limit", "0"}, {"list", "--limit", "x"}, {"list", "extra"},
		{"replay"}, {"replay", "--id", "1", "--all"}, {"replay", "--id", "x"}, {"replay", "--id", "0"},
	} {
		code, _, stderr := runDLQ(t, env, args...)
		assert.Equal(t, 2, code, "dlq %v: %s", args, stderr)
		assert.NotEmpty(t, stderr)
	}
	code, stdout, _ := runDLQ(t, env, "help")
	assert.Zero(t, code)
	assert.Contains(t, stdout, "dlq replay (--id ID ... | --all)")
}

func TestDLQListPrintsATable(t *testing.T) {
	dir := t.TempDir()
	s, err := sqlite.Open(t.Context(), filepath.Join(dir, "notifier.db"))
	require.NoError(t, err)
	for i := range 3 {
		_, err := s.AddDeadLetter(t.Context(), dlqDeadLetter(fmt.Sprintf("ev-%d", i), "moodle unavailable\nsecond line"))
		require.NoError(t, err)
	}
	require.NoError(t, s.Close())
	env := map[string]string{"NOTIFIER_DATA_DIR": dir}

	code, stdout, stderr := runDLQ(t, env, "list")
	require.Zero(t, code, stderr)
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	require.Len(t, lines, 4)
	assert.Regexp(t, `^ID\s+TOPIC\s+ATTEMPTS\s+FIRST FAILED\s+REASON$`, lines[0])
	assert.Regexp(t, `^1\s+moodle-events\s+5\s+2026-12-03T10:15:00Z\s+moodle unavailable$`, lines[1])

	code, stdout, _ = runDLQ(t, env, "list", "--limit", "2")
	require.Zero(t, code)
	assert.Contains(t, stdout, "2 of 3 dead letters shown")
	assert.NotContains(t, stdout, "\n3 ")

	empty := map[string]string{"NOTIFIER_DATA_DIR": t.TempDir()}
	code, stdout, _ = runDLQ(t, empty, "list")
	require.Zero(t, code)
	assert.Equal(t, "no dead letters\n", stdout)
}

// With Redis, the command publishes itself: the message lands on the
// topic's stream and the row goes.
func TestDLQReplayWithRedis(t *testing.T) {
	r := testenv.RedisServer(t)
	url := testenv.PostgresURL(t)
	require.NoError(t, postgres.Migrate(t.Context(), url))
	s, err := postgres.Open(t.Context(), url)
	require.NoError(t, err)
	defer s.Close()
	a, err := s.AddDeadLetter(t.Context(), dlqDeadLetter("ev-1", "x"))
	require.NoError(t, err)
	_, err = s.AddDeadLetter(t.Context(), dlqDeadLetter("ev-2", "x"))
	require.NoError(t, err)
	env := map[string]string{"DATABASE_URL": url, "REDIS_URL": r.URL, "NOTIFIER_STREAM_PREFIX": r.Prefix,
		"NOTIFIER_DATA_DIR": t.TempDir()}

	code, stdout, stderr := runDLQ(t, env, "replay", "--id", fmt.Sprint(a.ID), "--id", "999")
	assert.Equal(t, 1, code, "a dead letter not replayed is a failure")
	assert.Contains(t, stdout, fmt.Sprintf("replayed 1 dead letter(s): %d", a.ID))
	assert.Contains(t, stdout, "not replayed 999: not found")
	assert.Contains(t, stderr, "1 dead letter(s) not replayed")

	code, stdout, stderr = runDLQ(t, env, "replay", "--all")
	require.Zero(t, code, stderr)
	assert.Contains(t, stdout, "replayed 1 dead letter(s)")

	opt, err := redis.ParseURL(r.URL)
	require.NoError(t, err)
	raw := redis.NewClient(opt)
	defer raw.Close()
	entries, err := raw.XRange(t.Context(), r.Prefix+":"+app.TopicMoodleEvents, "-", "+").Result()
	require.NoError(t, err)
	require.Len(t, entries, 2)
	assert.Equal(t, "ev-1", entries[0].Values["_watermill_message_uuid"])
	assert.Equal(t, "ev-2", entries[1].Values["_watermill_message_uuid"])
	n, err := s.CountDeadLetters(t.Context())
	require.NoError(t, err)
	assert.Zero(t, n)
}

// Without Redis, the bus lives in the service: the command asks the
// service's admin API, which publishes on its in-process bus.
func TestDLQReplayThroughTheService(t *testing.T) {
	dir := t.TempDir()
	s, err := sqlite.Open(t.Context(), filepath.Join(dir, "notifier.db"))
	require.NoError(t, err)
	defer s.Close()
	d, err := s.AddDeadLetter(t.Context(), dlqDeadLetter("ev-1", "x"))
	require.NoError(t, err)

	// The "service": the admin route on an in-process bus with a subscriber.
	b := bus.NewInProcess(slog.New(slog.DiscardHandler))
	defer b.Close()
	sub, err := b.Subscriber("moodle-event")
	require.NoError(t, err)
	msgs, err := sub.Subscribe(t.Context(), app.TopicMoodleEvents)
	require.NoError(t, err)
	dls, err := app.NewDeadLetters(app.DeadLettersDeps{Store: s, Bus: b})
	require.NoError(t, err)
	gin.SetMode(gin.TestMode)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: httpapi.NewRouter(httpapi.Options{
		Logger: slog.New(slog.DiscardHandler), AdminTokens: []string{"tok"},
		AdminRoutes: []func(gin.IRoutes){httpapi.DeadLetterRoutes{DeadLetters: dls}.Register},
	}), ReadHeaderTimeout: time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Shutdown(context.Background())

	env := map[string]string{"NOTIFIER_DATA_DIR": dir, "NOTIFIER_HTTP_ADDR": ln.Addr().String(),
		"NOTIFIER_ADMIN_TOKENS": "tok"}
	code, stdout, stderr := runDLQ(t, env, "replay", "--id", fmt.Sprint(d.ID))
	require.Zero(t, code, stderr)
	assert.Contains(t, stdout, fmt.Sprintf("replayed 1 dead letter(s): %d", d.ID))
	select {
	case m := <-msgs:
		assert.Equal(t, "ev-1", m.UUID)
		assert.Equal(t, "ev-1", m.Metadata.Get("correlation_id"))
		m.Ack()
	case <-time.After(5 * time.Second):
		t.Fatal("the service did not publish the replay")
	}

	// No service listening: a clear failure, not a silent drop.
	ln2, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln2.Addr().String()
	require.NoError(t, ln2.Close())
	env["NOTIFIER_HTTP_ADDR"] = addr
	code, _, stderr = runDLQ(t, env, "replay", "--all")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "start `notifier serve`, or set REDIS_URL")
}
