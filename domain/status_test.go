package domain_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/notifier/domain"
)

// allowedMoves is CONTRACT section 4 written out by hand: PENDING < SENT <
// DELIVERED < READ, FAILED replaces PENDING or SENT only, FAILED is terminal,
// and the same status is no move.
var allowedMoves = map[[2]domain.Status]bool{
	{domain.StatusPending, domain.StatusSent}:      true,
	{domain.StatusPending, domain.StatusDelivered}: true,
	{domain.StatusPending, domain.StatusRead}:      true,
	{domain.StatusPending, domain.StatusFailed}:    true,
	{domain.StatusSent, domain.StatusDelivered}:    true,
	{domain.StatusSent, domain.StatusRead}:         true,
	{domain.StatusSent, domain.StatusFailed}:       true,
	{domain.StatusDelivered, domain.StatusRead}:    true,
}

var allStatuses = []domain.Status{
	domain.StatusPending, domain.StatusSent, domain.StatusDelivered, domain.StatusRead, domain.StatusFailed,
}

func TestStatusCanMoveTo_EveryPair(t *testing.T) {
	require.Len(t, allowedMoves, 8)
	pairs := 0
	for _, from := range allStatuses {
		for _, to := range allStatuses {
			pairs++
			want := allowedMoves[[2]domain.Status{from, to}]
			t.Run(fmt.Sprintf("%s_to_%s", from, to), func(t *testing.T) {
				assert.Equal(t, want, from.CanMoveTo(to))
			})
		}
	}
	assert.Equal(t, 25, pairs)
}

func TestStatusCanMoveTo_UnknownStatuses(t *testing.T) {
	for _, tc := range []struct{ from, to domain.Status }{
		{"", domain.StatusSent},
		{"pending", domain.StatusSent},
		{domain.StatusPending, ""},
		{domain.StatusPending, "sent"},
		{domain.StatusPending, "ACCEPTED"},
		{"QUEUED", domain.StatusFailed},
	} {
		t.Run(fmt.Sprintf("%q_to_%q", tc.from, tc.to), func(t *testing.T) {
			assert.False(t, tc.from.CanMoveTo(tc.to))
		})
	}
}

func TestStatuses_DocumentedOrder(t *testing.T) {
	assert.Equal(t, allStatuses, domain.Statuses)
}

func TestParseStatus(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    domain.Status
		wantErr bool
	}{
		{in: "PENDING", want: domain.StatusPending},
		{in: "SENT", want: domain.StatusSent},
		{in: "DELIVERED", want: domain.StatusDelivered},
		{in: "READ", want: domain.StatusRead},
		{in: "FAILED", want: domain.StatusFailed},
		{in: "", wantErr: true},
		{in: "sent", wantErr: true},
		{in: " SENT", wantErr: true},
		{in: "DELIVERED ", wantErr: true},
		{in: "ACCEPTED", wantErr: true},
	} {
		t.Run(fmt.Sprintf("%q", tc.in), func(t *testing.T) {
			got, err := domain.ParseStatus(tc.in)
			if tc.wantErr {
				require.Error(t, err)
				assert.Contains(t, err.Error(), fmt.Sprintf("%q", tc.in))
				assert.Empty(t, got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			assert.True(t, got.Valid())
		})
	}
}

func TestStatusCountsForDedup(t *testing.T) {
	for _, s := range allStatuses {
		t.Run(string(s), func(t *testing.T) {
			assert.Equal(t, s != domain.StatusFailed, s.CountsForDedup())
		})
	}
}

// stamps are the four status times of a row, in status order.
func stamps(m domain.MessageLog) [4]time.Time {
	return [4]time.Time{m.SentAt, m.DeliveredAt, m.ReadAt, m.FailedAt}
}

func TestMessageLogAdvance(t *testing.T) {
	created := time.Date(2026, 12, 3, 10, 15, 0, 0, time.UTC)
	earlier := created.Add(time.Second)
	at := created.Add(time.Minute)
	stampIndex := map[domain.Status]int{
		domain.StatusSent: 0, domain.StatusDelivered: 1, domain.StatusRead: 2, domain.StatusFailed: 3,
	}
	for _, from := range allStatuses {
		for _, to := range allStatuses {
			t.Run(fmt.Sprintf("%s_to_%s", from, to), func(t *testing.T) {
				// A row already in status from carries the stamp of from.
				m := domain.MessageLog{ID: 17, Status: from, CreatedAt: created}
				if i, ok := stampIndex[from]; ok {
					s := stamps(m)
					s[i] = earlier
					m.SentAt, m.DeliveredAt, m.ReadAt, m.FailedAt = s[0], s[1], s[2], s[3]
				}
				before := m

				ok := m.Advance(to, at)

				if !allowedMoves[[2]domain.Status{from, to}] {
					assert.False(t, ok)
					assert.Equal(t, before, m, "a refused move changes nothing")
					return
				}
				require.True(t, ok)
				assert.Equal(t, to, m.Status)
				want := stamps(before)
				want[stampIndex[to]] = at
				assert.Equal(t, want, stamps(m), "only the stamp of the new status moves")
				assert.Equal(t, created, m.CreatedAt)
			})
		}
	}
}

func TestMessageLogFail(t *testing.T) {
	at := time.Date(2026, 12, 3, 10, 16, 0, 0, time.UTC)
	for _, tc := range []struct {
		from domain.Status
		ok   bool
	}{
		{domain.StatusPending, true},
		{domain.StatusSent, true},
		{domain.StatusDelivered, false},
		{domain.StatusRead, false},
		{domain.StatusFailed, false},
	} {
		t.Run(string(tc.from), func(t *testing.T) {
			m := domain.MessageLog{Status: tc.from}
			if tc.from == domain.StatusFailed {
				m.ErrorCode, m.ErrorMessage, m.FailedAt = "131026", "first failure", at.Add(-time.Hour)
			}
			before := m

			ok := m.Fail(domain.ErrCodeOutcomeUnknown, "timeout", at)

			assert.Equal(t, tc.ok, ok)
			if !tc.ok {
				assert.Equal(t, before, m, "the first reason and time stay")
				return
			}
			assert.Equal(t, domain.StatusFailed, m.Status)
			assert.Equal(t, domain.ErrCodeOutcomeUnknown, m.ErrorCode)
			assert.Equal(t, "timeout", m.ErrorMessage)
			assert.Equal(t, at, m.FailedAt)
		})
	}
}

func TestMessageLogClaim(t *testing.T) {
	now := time.Date(2026, 12, 3, 10, 15, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		row  domain.MessageLog
		ok   bool
	}{
		{"pending, never claimed", domain.MessageLog{Status: domain.StatusPending}, true},
		{"pending, due in the past", domain.MessageLog{Status: domain.StatusPending, Attempts: 1, NextAttemptAt: now.Add(-time.Second)}, true},
		{"pending, due exactly now", domain.MessageLog{Status: domain.StatusPending, Attempts: 1, NextAttemptAt: now}, true},
		{"pending, due in 1ns", domain.MessageLog{Status: domain.StatusPending, Attempts: 1, NextAttemptAt: now.Add(time.Nanosecond)}, false},
		{"pending, due in a minute", domain.MessageLog{Status: domain.StatusPending, Attempts: 1, NextAttemptAt: now.Add(time.Minute)}, false},
		{"pending, already claimed", domain.MessageLog{Status: domain.StatusPending, Attempts: 1, ClaimedAt: now.Add(-time.Second)}, false},
		{"sent", domain.MessageLog{Status: domain.StatusSent, Attempts: 1}, false},
		{"delivered", domain.MessageLog{Status: domain.StatusDelivered, Attempts: 1}, false},
		{"read", domain.MessageLog{Status: domain.StatusRead, Attempts: 1}, false},
		{"failed", domain.MessageLog{Status: domain.StatusFailed, ErrorCode: domain.ErrCodeInvalidPhone}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.row
			err := m.Claim(now)
			if !tc.ok {
				require.ErrorIs(t, err, domain.ErrNotClaimable)
				assert.Equal(t, tc.row, m, "a refused claim changes nothing")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, now, m.ClaimedAt)
			assert.Equal(t, tc.row.Attempts+1, m.Attempts)
			assert.Equal(t, domain.StatusPending, m.Status)
		})
	}
}

func TestMessageLogReleaseThenClaimAgain(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 10, 15, 0, 0, time.UTC)
	retryAt := t0.Add(30 * time.Second)
	m := domain.MessageLog{Status: domain.StatusPending}

	require.NoError(t, m.Claim(t0))
	require.ErrorIs(t, m.Claim(t0.Add(time.Second)), domain.ErrNotClaimable, "a second sender cannot take a held row")

	m.Release(retryAt)
	assert.True(t, m.ClaimedAt.IsZero())
	assert.Equal(t, retryAt, m.NextAttemptAt)
	assert.Equal(t, domain.StatusPending, m.Status)
	assert.Equal(t, 1, m.Attempts)

	require.ErrorIs(t, m.Claim(retryAt.Add(-time.Nanosecond)), domain.ErrNotClaimable, "not before the retry time")
	require.NoError(t, m.Claim(retryAt))
	assert.Equal(t, retryAt, m.ClaimedAt)
	assert.Equal(t, 2, m.Attempts)
}

func TestMessageLogPrior(t *testing.T) {
	created := time.Date(2026, 12, 3, 10, 15, 0, 0, time.UTC)
	m := domain.MessageLog{
		ID: 17, Rule: "welcome", Template: "welcome_v2", Status: domain.StatusFailed,
		ErrorCode: domain.ErrCodeOptedOut, CreatedAt: created, FailedAt: created.Add(time.Second),
	}
	assert.Equal(t, domain.PriorMessage{
		Rule: "welcome", Template: "welcome_v2", Status: domain.StatusFailed,
		ErrorCode: domain.ErrCodeOptedOut, CreatedAt: created,
	}, m.Prior())
}
