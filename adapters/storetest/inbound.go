package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/notifier/app"
)

// inboundGoroutines is how many deliveries of one event race in the
// concurrency tests.
const inboundGoroutines = 32

// RunInbound runs the app.InboundStore contract. open gives each test a
// store of its own: empty, migrated, and closed when the test ends. The
// tests run in parallel.
func RunInbound(t *testing.T, open func(t *testing.T) app.InboundStore) {
	tests := []struct {
		name string
		run  func(t *testing.T, s app.InboundStore)
	}{
		{"InsertRoundTripsEveryField", testInboundRoundTrip},
		{"PayloadKeepsItsBytes", testInboundPayloadBytes},
		{"InsertDefaults", testInboundDefaults},
		{"DuplicateKeepsTheFirst", testInboundDuplicate},
		{"GetMissingIsNotFound", testInboundNotFound},
		{"MarkProcessed", testInboundProcessed},
		{"MarkAttempt", testInboundAttempt},
		{"MarkFailed", testInboundFailed},
		{"FreeTextIsStorable", testInboundFreeText},
		{"UnprocessedOldestFirst", testUnprocessedInbound},
		{"Concurrent/OneDeliveryIsNew", testInboundConcurrentSameID},
		{"Concurrent/DistinctIDsAreAllNew", testInboundConcurrentDistinct},
		{"Batch", testInboundBatch},
		{"Concurrent/BatchesSharingIDs", testInboundConcurrentBatches},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, open(t))
		})
	}
}

// inboundEvent is a Moodle delivery received at at.
func inboundEvent(id string, at time.Time) app.InboundEvent {
	return app.InboundEvent{
		ID:         id,
		Source:     "moodle",
		Name:       "user_enrolment_created",
		Payload:    []byte(fmt.Sprintf(`{"schema":1,"id":%q}`, id)),
		ReceivedAt: at,
		State:      app.InboundReceived,
	}
}

// storedInbound is e as a store gives it back.
func storedInbound(e app.InboundEvent) app.InboundEvent {
	e.ReceivedAt, e.ProcessedAt = stored(e.ReceivedAt), stored(e.ProcessedAt)
	if len(e.Payload) == 0 {
		e.Payload = nil
	}
	return e
}

func mustInsertInbound(t *testing.T, s app.InboundStore, e app.InboundEvent) {
	t.Helper()
	isNew, err := s.InsertInbound(t.Context(), e)
	require.NoError(t, err)
	require.Equal(t, []bool{true}, isNew, "event %s", e.ID)
}

func mustGetInbound(t *testing.T, s app.InboundStore, id string) app.InboundEvent {
	t.Helper()
	e, err := s.GetInbound(t.Context(), id)
	require.NoError(t, err)
	return e
}

func testInboundRoundTrip(t *testing.T, s app.InboundStore) {
	// Every field set, times with nanoseconds and in another zone.
	full := app.InboundEvent{
		ID: "user_updated:5:1796312686", Source: "moodle", Name: "user_updated",
		Payload:    []byte(`{"id":"user_updated:5:1796312686"}`),
		ReceivedAt: base.In(madrid), State: app.InboundFailed, Attempts: 3, LastError: "boom: Moodle said no",
		ProcessedAt: base.Add(time.Minute + 999).In(madrid),
	}
	mustInsertInbound(t, s, full)
	assert.Equal(t, storedInbound(full), mustGetInbound(t, s, full.ID))

	// And "none": optional fields read back as zero values.
	bare := app.InboundEvent{ID: "0f8fad5b-d9cb-469f-a165-70867728950e", Source: "moodle", Name: "test_event",
		Payload: []byte(`{}`), ReceivedAt: base, State: app.InboundIgnored}
	mustInsertInbound(t, s, bare)
	assert.Equal(t, storedInbound(bare), mustGetInbound(t, s, bare.ID))
}

// The payload is what the signature covers: it comes back byte for byte,
// spacing, key order, escapes and invalid UTF-8 included.
func testInboundPayloadBytes(t *testing.T, s app.InboundStore) {
	payloads := []struct {
		name  string
		bytes []byte
	}{
		{"spacing", []byte("{\"b\": 1,\n\t\"a\" : \"\\u00e9\u00e9\" , \"n\":1.50}  \r\n")},
		{"invalid-utf8", []byte{'{', '"', 'x', '"', ':', '"', 0xff, 0xfe, '"', '}'}},
		{"nul", []byte("{\"x\":\"a\x00b\",\"y\":\"\\u0000\"}")},
		{"emoji", []byte(`{"name":"Núñez Zoë 😀"}`)},
		{"1MiB", append(append([]byte(`{"pad":"`), make([]byte, 1<<20-10)...), '"', '}')},
		{"empty", nil},
	}
	for _, p := range payloads {
		e := inboundEvent("payload-"+p.name, base)
		e.Payload = p.bytes
		mustInsertInbound(t, s, e)
		got := mustGetInbound(t, s, e.ID)
		if len(p.bytes) == 0 {
			assert.Empty(t, got.Payload, p.name)
			continue
		}
		assert.Equal(t, p.bytes, got.Payload, p.name)
	}
}

func testInboundDefaults(t *testing.T, s app.InboundStore) {
	before := time.Now().Add(-time.Second)
	e := inboundEvent("defaults", time.Time{})
	e.State = ""
	mustInsertInbound(t, s, e)
	got := mustGetInbound(t, s, e.ID)
	assert.Equal(t, app.InboundReceived, got.State, "a zero state is stored as received")
	assert.True(t, got.ReceivedAt.After(before), "a zero received time is stored as now, got %v", got.ReceivedAt)
	assert.Equal(t, time.UTC, got.ReceivedAt.Location())
	assert.Zero(t, got.Attempts)
	assert.Empty(t, got.LastError)
	assert.True(t, got.ProcessedAt.IsZero())
}

func testInboundDuplicate(t *testing.T, s app.InboundStore) {
	first := inboundEvent("dup", base)
	mustInsertInbound(t, s, first)

	again := first
	again.Payload = []byte(`{"changed":true}`)
	again.Name = "user_updated"
	again.ReceivedAt = base.Add(time.Hour)
	isNew, err := s.InsertInbound(t.Context(), again)
	require.NoError(t, err)
	assert.Equal(t, []bool{false}, isNew)
	assert.Equal(t, storedInbound(first), mustGetInbound(t, s, first.ID), "a duplicate changes nothing")
}

func testInboundNotFound(t *testing.T, s app.InboundStore) {
	ctx := t.Context()
	_, err := s.GetInbound(ctx, "missing")
	require.ErrorIs(t, err, app.ErrNotFound)
	assert.ErrorIs(t, s.MarkInboundAttempt(ctx, "missing", "boom"), app.ErrNotFound)
	assert.ErrorIs(t, s.MarkInboundFailed(ctx, "missing", "boom"), app.ErrNotFound)
}

func testInboundProcessed(t *testing.T, s app.InboundStore) {
	ctx := t.Context()
	e := inboundEvent("processed", base)
	mustInsertInbound(t, s, e)
	at := base.Add(time.Second + 1).In(madrid)
	require.NoError(t, s.MarkInboundProcessed(ctx, at, e.ID))
	got := mustGetInbound(t, s, e.ID)
	assert.Equal(t, app.InboundProcessed, got.State)
	assert.Equal(t, stored(at), got.ProcessedAt)

	// A redelivered copy processed again keeps the first time.
	require.NoError(t, s.MarkInboundProcessed(ctx, at.Add(time.Hour), e.ID))
	assert.Equal(t, stored(at), mustGetInbound(t, s, e.ID).ProcessedAt)

	// A dead-lettered event that a replay processes becomes processed.
	f := inboundEvent("replayed", base)
	mustInsertInbound(t, s, f)
	require.NoError(t, s.MarkInboundFailed(ctx, f.ID, "boom"))
	require.NoError(t, s.MarkInboundProcessed(ctx, at, f.ID))
	got = mustGetInbound(t, s, f.ID)
	assert.Equal(t, app.InboundProcessed, got.State)
	assert.Equal(t, stored(at), got.ProcessedAt)
}

func testInboundAttempt(t *testing.T, s app.InboundStore) {
	ctx := t.Context()
	e := inboundEvent("attempts", base)
	mustInsertInbound(t, s, e)
	require.NoError(t, s.MarkInboundAttempt(ctx, e.ID, "first: store unavailable"))
	require.NoError(t, s.MarkInboundAttempt(ctx, e.ID, "second: Moodle timeout"))
	got := mustGetInbound(t, s, e.ID)
	assert.Equal(t, 2, got.Attempts)
	assert.Equal(t, "second: Moodle timeout", got.LastError)
	assert.Equal(t, app.InboundReceived, got.State, "an attempt does not change the state")
}

func testInboundFailed(t *testing.T, s app.InboundStore) {
	ctx := t.Context()
	e := inboundEvent("failed", base)
	mustInsertInbound(t, s, e)
	require.NoError(t, s.MarkInboundAttempt(ctx, e.ID, "boom"))
	require.NoError(t, s.MarkInboundFailed(ctx, e.ID, "dead-lettered after 5 attempts: boom"))
	got := mustGetInbound(t, s, e.ID)
	assert.Equal(t, app.InboundFailed, got.State)
	assert.Equal(t, "dead-lettered after 5 attempts: boom", got.LastError)
	assert.Equal(t, 1, got.Attempts)

	// Work that was done stays done: a late failure of a redelivered copy
	// does not undo it, and an ignored event stays ignored.
	p := inboundEvent("done", base)
	mustInsertInbound(t, s, p)
	require.NoError(t, s.MarkInboundProcessed(ctx, base, p.ID))
	require.NoError(t, s.MarkInboundFailed(ctx, p.ID, "late failure"))
	got = mustGetInbound(t, s, p.ID)
	assert.Equal(t, app.InboundProcessed, got.State)
	assert.Empty(t, got.LastError)

	i := inboundEvent("ignored", base)
	i.State = app.InboundIgnored
	mustInsertInbound(t, s, i)
	require.NoError(t, s.MarkInboundFailed(ctx, i.ID, "late failure"))
	assert.Equal(t, app.InboundIgnored, mustGetInbound(t, s, i.ID).State)
}

// Error messages may quote anything; recording one must not fail.
func testInboundFreeText(t *testing.T, s app.InboundStore) {
	ctx := t.Context()
	e := inboundEvent("text", base)
	e.LastError = "nul\x00here"
	mustInsertInbound(t, s, e)
	assert.Equal(t, "nul\uFFFDhere", mustGetInbound(t, s, e.ID).LastError)

	require.NoError(t, s.MarkInboundAttempt(ctx, e.ID, "bad \xff\xfe bytes"))
	assert.Equal(t, "bad \uFFFD bytes", mustGetInbound(t, s, e.ID).LastError)
	require.NoError(t, s.MarkInboundFailed(ctx, e.ID, "a\x00b"))
	assert.Equal(t, "a\uFFFDb", mustGetInbound(t, s, e.ID).LastError)
}

func testUnprocessedInbound(t *testing.T, s app.InboundStore) {
	ctx := t.Context()
	at := func(d time.Duration) time.Time { return base.Add(d) }
	// Inserted out of order; "b" and "a" arrive at the same instant.
	for _, e := range []app.InboundEvent{
		inboundEvent("late", at(time.Hour)),
		inboundEvent("b", at(time.Minute)),
		inboundEvent("a", at(time.Minute)),
		inboundEvent("first", at(0)),
		inboundEvent("processed", at(-2*time.Hour)),
		inboundEvent("failed", at(-2*time.Hour)),
		inboundEvent("oldest", at(-time.Hour)),
	} {
		mustInsertInbound(t, s, e)
	}
	require.NoError(t, s.MarkInboundProcessed(ctx, base, "processed"))
	require.NoError(t, s.MarkInboundFailed(ctx, "failed", "boom"))
	ignored := inboundEvent("ignored", at(-2*time.Hour))
	ignored.State = app.InboundIgnored
	mustInsertInbound(t, s, ignored)
	require.NoError(t, s.MarkInboundAttempt(ctx, "b", "boom"))

	list := func(before time.Time, limit int) []string {
		t.Helper()
		events, err := s.UnprocessedInbound(ctx, before, limit)
		require.NoError(t, err)
		ids := make([]string, len(events))
		for i, e := range events {
			ids[i] = e.ID
		}
		return ids
	}
	assert.Equal(t, []string{"oldest", "first", "a", "b"}, list(at(time.Hour), 10),
		"received before the instant, oldest first, ties by id; an attempt keeps an event listed")
	assert.Equal(t, []string{"oldest", "first"}, list(at(time.Hour), 2))
	assert.Empty(t, list(at(-time.Hour), 10), "received at the instant is not before it")
	assert.Len(t, list(at(2*time.Hour), 0), 5, "no limit: the default batch")

	events, err := s.UnprocessedInbound(ctx, at(time.Second), 1)
	require.NoError(t, err)
	require.Len(t, events, 1)
	assert.Equal(t, storedInbound(inboundEvent("oldest", at(-time.Hour))), events[0], "whole events, payload included")
}

// 32 deliveries of one event at once: exactly one is new, the others are
// duplicates, none fails, and the stored payload is the winner's.
func testInboundConcurrentSameID(t *testing.T, s app.InboundStore) {
	type result struct {
		isNew bool
		err   error
	}
	results := concurrently(inboundGoroutines, func(i int) result {
		e := inboundEvent("same", base.Add(time.Duration(i)*time.Millisecond))
		e.Payload = []byte(fmt.Sprintf(`{"id":"same","copy":%d}`, i))
		isNew, err := s.InsertInbound(t.Context(), e)
		return result{err == nil && isNew[0], err}
	})
	winner := -1
	for i, r := range results {
		require.NoError(t, r.err, "delivery %d", i)
		if r.isNew {
			assert.Equal(t, -1, winner, "deliveries %d and %d both reported new", winner, i)
			winner = i
		}
	}
	require.NotEqual(t, -1, winner, "no delivery reported new")
	got := mustGetInbound(t, s, "same")
	assert.Equal(t, fmt.Sprintf(`{"id":"same","copy":%d}`, winner), string(got.Payload))
}

func testInboundConcurrentDistinct(t *testing.T, s app.InboundStore) {
	results := concurrently(inboundGoroutines, func(i int) error {
		isNew, err := s.InsertInbound(t.Context(), inboundEvent(fmt.Sprintf("event-%02d", i), base))
		if err == nil && !isNew[0] {
			err = fmt.Errorf("event-%02d: %w", i, errBoom)
		}
		return err
	})
	for i, err := range results {
		require.NoError(t, err, "delivery %d", i)
	}
	events, err := s.UnprocessedInbound(t.Context(), base.Add(time.Second), 100)
	require.NoError(t, err)
	assert.Len(t, events, inboundGoroutines)
}

// Several events in one call: each is reported new or not in the order
// given, a repeated id within the call is a duplicate of its first copy,
// and every new event is stored as given.
func testInboundBatch(t *testing.T, s app.InboundStore) {
	ctx := t.Context()
	old := inboundEvent("batch-old", base)
	mustInsertInbound(t, s, old)

	none, err := s.InsertInbound(ctx)
	require.NoError(t, err)
	assert.Empty(t, none)

	z, a, again := inboundEvent("batch-z", base), inboundEvent("batch-a", base.Add(time.Second)), inboundEvent("batch-z", base)
	again.Payload = []byte(`{"copy":2}`)
	changedOld := old
	changedOld.Payload = []byte(`{"changed":true}`)
	isNew, err := s.InsertInbound(ctx, z, changedOld, a, again)
	require.NoError(t, err)
	assert.Equal(t, []bool{true, false, true, false}, isNew)
	assert.Equal(t, storedInbound(z), mustGetInbound(t, s, z.ID), "the first copy is stored")
	assert.Equal(t, storedInbound(a), mustGetInbound(t, s, a.ID))
	assert.Equal(t, storedInbound(old), mustGetInbound(t, s, old.ID), "a duplicate changes nothing")

	// Marked processed together; a missing id is skipped, a repeated one
	// harmless, and an event processed before keeps its time.
	require.NoError(t, s.MarkInboundProcessed(ctx, base, old.ID))
	at := base.Add(time.Minute)
	require.NoError(t, s.MarkInboundProcessed(ctx, at, z.ID, "batch-missing", a.ID, z.ID, old.ID))
	for id, want := range map[string]time.Time{z.ID: at, a.ID: at, old.ID: base} {
		got := mustGetInbound(t, s, id)
		assert.Equal(t, app.InboundProcessed, got.State, id)
		assert.Equal(t, stored(want), got.ProcessedAt, id)
	}
	_, err = s.GetInbound(ctx, "batch-missing")
	assert.ErrorIs(t, err, app.ErrNotFound, "marking a missing event creates nothing")
	require.NoError(t, s.MarkInboundProcessed(ctx, at), "no ids: nothing to do")
}

// Batches sharing ids in opposite orders, at once: every id is stored once
// and reported new exactly once, and no batch fails (no deadlock between
// them).
func testInboundConcurrentBatches(t *testing.T, s app.InboundStore) {
	const ids = 20
	results := concurrently(inboundGoroutines, func(i int) []bool {
		batch := make([]app.InboundEvent, ids)
		for j := range ids {
			k := j
			if i%2 == 1 {
				k = ids - 1 - j
			}
			batch[j] = inboundEvent(fmt.Sprintf("shared-%02d", k), base)
		}
		isNew, err := s.InsertInbound(t.Context(), batch...)
		if !assert.NoError(t, err, "batch %d", i) {
			return nil
		}
		return isNew
	})
	newCount := map[int]int{}
	for i, r := range results {
		require.Len(t, r, ids, "batch %d", i)
		for j, fresh := range r {
			k := j
			if i%2 == 1 {
				k = ids - 1 - j
			}
			if fresh {
				newCount[k]++
			}
		}
	}
	for k := range ids {
		assert.Equal(t, 1, newCount[k], "shared-%02d reported new once", k)
	}
	events, err := s.UnprocessedInbound(t.Context(), base.Add(time.Second), 100)
	require.NoError(t, err)
	assert.Len(t, events, ids)
}
