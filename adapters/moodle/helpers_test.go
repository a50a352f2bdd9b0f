package moodle_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/acme/notifier/adapters/moodle"
	"github.com/acme/notifier/adapters/moodle/moodletest"
	"github.com/acme/notifier/app"
)

// newClient is a client of the fake with quick retries.
func newClient(t *testing.T, s *moodletest.Server, change ...func(*moodle.Config)) *moodle.Client {
	t.Helper()
	cfg := moodle.Config{BaseURL: s.URL, Token: moodletest.AdminToken, CallTimeout: 5 * time.Second,
		BackoffBase: time.Millisecond, BackoffMax: 5 * time.Millisecond}
	for _, f := range change {
		f(&cfg)
	}
	c, err := moodle.New(cfg)
	require.NoError(t, err)
	return c
}

// kinds are the sentinels an error matches, by name.
func kinds(err error) []string {
	var out []string
	for _, k := range []struct {
		name string
		err  error
	}{
		{"invalid_token", moodle.ErrInvalidToken}, {"access_denied", moodle.ErrAccessDenied},
		{"invalid_parameter", moodle.ErrInvalidParameter}, {"password_policy", moodle.ErrPasswordPolicy},
		{"missing_function", moodle.ErrMissingFunction}, {"not_found", moodle.ErrNotFound},
		{"bad_response", moodle.ErrBadResponse}, {"outcome_unknown", moodle.ErrOutcomeUnknown},
		{"unavailable", app.ErrUnavailable},
	} {
		if errors.Is(err, k.err) {
			out = append(out, k.name)
		}
	}
	return out
}
