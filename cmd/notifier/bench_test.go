package main

import (
	"bytes"
	"context"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The bench subcommands run, tiny, on the embedded store and bus, and each
// prints one result line; the measurements themselves are for
// `notifier bench`, not for the tests.
func TestBenchCommandsPrintOneLine(t *testing.T) {
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"bench", "limits", "--limit-duration", "100ms"}, `^limits: sqlite single-row INSERT \d+ commits/s`},
		{[]string{"bench", "ingest", "--requests", "50", "--rate", "0", "--limit-duration", "0"},
			`^ingest \(sqlite\+in-process\): \d+ req/s accepted \(50 of 50, 32 in flight\), p50 `},
		{[]string{"bench", "e2e", "--events", "20", "--limit-duration", "0"},
			`^e2e \(sqlite\+in-process\): \d+ messages/s \(20 enrolment events to SENT rows`},
		{[]string{"bench", "scan", "--enrollments", "40", "--courses", "4", "--limit-duration", "0"},
			`^scan \(sqlite\+in-process\): 40 enrollments in 4 courses in [\d.]+ s .*, 4 messages \(4 SENT\), 4 Moodle calls; peak RSS`},
	} {
		t.Run(c.args[1], func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), c.args, getenv, &stdout, &stderr)
			require.Equal(t, 0, code, stderr.String())
			assert.Regexp(t, regexp.MustCompile(c.want), stdout.String())
			assert.Equal(t, 1, bytes.Count(stdout.Bytes(), []byte("\n")), "one result line")
		})
	}
	var stderr bytes.Buffer
	assert.Equal(t, 2, run(context.Background(), []string{"bench", "nope"}, getenv, &bytes.Buffer{}, &stderr))
}
