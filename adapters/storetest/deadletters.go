package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/notifier/app"
)

// RunDeadLetters runs the contract of app.DeadLetterStore. open gives each
// test a store of its own: empty, migrated, and closed when the test ends.
// The tests run in parallel.
func RunDeadLetters(t *testing.T, open func(t *testing.T) app.DeadLetterStore) {
	tests := []struct {
		name string
		run  func(t *testing.T, s app.DeadLetterStore)
	}{
		{"AddAndGet/RoundTripsEveryField", testDeadLetterRoundTrip},
		{"AddAndGet/EmptyPayloadAndMetadata", testDeadLetterEmpty},
		{"Add/SameMessageAndHandlerUpdatesItsRow", testDeadLetterUpsert},
		{"Add/ConcurrentFailuresOfOneMessageAddUp", testDeadLetterConcurrentUpsert},
		{"Add/RequiresMessageIDAndTopic", testDeadLetterValidation},
		{"Add/DefaultsItsTimes", testDeadLetterDefaultTimes},
		{"List/OldestFirstAfterACursor", testDeadLetterList},
		{"Delete", testDeadLetterDelete},
		{"GetMissingIsNotFound", testDeadLetterMissing},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, open(t))
		})
	}
}

func deadLetter(msgID, handler string) app.DeadLetter {
	return app.DeadLetter{
		MessageID:     msgID,
		Topic:         app.TopicMoodleEvents,
		Handler:       handler,
		Payload:       []byte(`{"id":"` + msgID + `"}`),
		Metadata:      map[string]string{"correlation_id": msgID},
		Reason:        "boom",
		Attempts:      5,
		FirstFailedAt: base,
		LastFailedAt:  base.Add(3 * time.Second),
	}
}

// storedDeadLetter is d as a store gives it back with id.
func storedDeadLetter(d app.DeadLetter, id int64) app.DeadLetter {
	d.ID = id
	d.FirstFailedAt, d.LastFailedAt = stored(d.FirstFailedAt), stored(d.LastFailedAt)
	return d
}

func testDeadLetterRoundTrip(t *testing.T, s app.DeadLetterStore) {
	ctx := t.Context()
	d := app.DeadLetter{
		MessageID: "0f8fad5b-d9cb-469f-a165-70867728950e",
		Topic:     app.TopicScanItems,
		Handler:   "scan-item",
		// Not UTF-8, with a NUL: payloads are bytes.
		Payload:       []byte{0x00, 0xff, 0xfe, 'a', '\n', 0x80},
		Metadata:      map[string]string{"correlation_id": "scan:7", "nombre": "Prevención \"1\"", "empty": ""},
		Reason:        "panic: runtime error: index out of range [3] with length 3\nsecond line",
		Attempts:      7,
		FirstFailedAt: base.In(madrid),
		LastFailedAt:  base.Add(time.Minute + 999).In(madrid),
	}
	got, err := s.AddDeadLetter(ctx, d)
	require.NoError(t, err)
	require.Positive(t, got.ID)
	want := storedDeadLetter(d, got.ID)
	assert.Equal(t, want, got)

	fetched, err := s.GetDeadLetter(ctx, got.ID)
	require.NoError(t, err)
	assert.Equal(t, want, fetched)
}

func testDeadLetterEmpty(t *testing.T, s app.DeadLetterStore) {
	ctx := t.Context()
	d := deadLetter("m-1", "h")
	d.Payload, d.Metadata = nil, nil
	got, err := s.AddDeadLetter(ctx, d)
	require.NoError(t, err)
	assert.Nil(t, got.Payload)
	assert.Nil(t, got.Metadata)

	d = deadLetter("m-2", "h")
	d.Payload, d.Metadata = []byte{}, map[string]string{}
	got, err = s.AddDeadLetter(ctx, d)
	require.NoError(t, err)
	fetched, err := s.GetDeadLetter(ctx, got.ID)
	require.NoError(t, err)
	assert.Nil(t, fetched.Payload, "an empty payload reads back as nil")
	assert.Nil(t, fetched.Metadata, "empty metadata reads back as nil")
}

func testDeadLetterUpsert(t *testing.T, s app.DeadLetterStore) {
	ctx := t.Context()
	first, err := s.AddDeadLetter(ctx, deadLetter("m-1", "moodle-event"))
	require.NoError(t, err)

	// The same message fails again in the same handler: one row, the
	// attempts add up, the reason and last failure are the new ones, the
	// first failure and the content stay.
	again := deadLetter("m-1", "moodle-event")
	again.Payload = []byte(`{"other":true}`)
	again.Metadata = map[string]string{"x": "y"}
	again.Reason = "still broken"
	again.Attempts = 3
	again.FirstFailedAt = base.Add(time.Hour)
	again.LastFailedAt = base.Add(time.Hour + time.Second)
	got, err := s.AddDeadLetter(ctx, again)
	require.NoError(t, err)
	assert.Equal(t, first.ID, got.ID)
	assert.Equal(t, 8, got.Attempts)
	assert.Equal(t, "still broken", got.Reason)
	assert.Equal(t, stored(base), got.FirstFailedAt)
	assert.Equal(t, stored(again.LastFailedAt), got.LastFailedAt)
	assert.Equal(t, first.Payload, got.Payload)
	assert.Equal(t, first.Metadata, got.Metadata)

	// An older failure reported late moves neither end the wrong way.
	late := deadLetter("m-1", "moodle-event")
	late.Attempts = 1
	late.FirstFailedAt = base.Add(-time.Hour)
	late.LastFailedAt = base.Add(-time.Hour)
	got, err = s.AddDeadLetter(ctx, late)
	require.NoError(t, err)
	assert.Equal(t, stored(base.Add(-time.Hour)), got.FirstFailedAt)
	assert.Equal(t, stored(again.LastFailedAt), got.LastFailedAt)
	assert.Equal(t, 9, got.Attempts)

	// Another handler's failure of the same message is a row of its own.
	other, err := s.AddDeadLetter(ctx, deadLetter("m-1", "audit"))
	require.NoError(t, err)
	assert.NotEqual(t, first.ID, other.ID)
	n, err := s.CountDeadLetters(ctx)
	require.NoError(t, err)
	assert.Equal(t, 2, n)
}

func testDeadLetterConcurrentUpsert(t *testing.T, s app.DeadLetterStore) {
	ctx := t.Context()
	const writers = 16
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := deadLetter("m-1", "h")
			d.Attempts = 1
			_, errs[i] = s.AddDeadLetter(ctx, d)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	list, err := s.ListDeadLetters(ctx, 0, 10)
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, writers, list[0].Attempts)
}

func testDeadLetterValidation(t *testing.T, s app.DeadLetterStore) {
	ctx := t.Context()
	d := deadLetter("", "h")
	_, err := s.AddDeadLetter(ctx, d)
	assert.Error(t, err, "a message id is required")
	d = deadLetter("m-1", "h")
	d.Topic = ""
	_, err = s.AddDeadLetter(ctx, d)
	assert.Error(t, err, "a topic is required: a replay needs it")
	n, err := s.CountDeadLetters(ctx)
	require.NoError(t, err)
	assert.Zero(t, n)
}

func testDeadLetterDefaultTimes(t *testing.T, s app.DeadLetterStore) {
	ctx := t.Context()
	d := deadLetter("m-1", "h")
	d.FirstFailedAt, d.LastFailedAt = time.Time{}, time.Time{}
	before := time.Now().Add(-time.Second)
	got, err := s.AddDeadLetter(ctx, d)
	require.NoError(t, err)
	assert.WithinRange(t, got.LastFailedAt, before, time.Now().Add(time.Second))
	assert.Equal(t, got.LastFailedAt, got.FirstFailedAt)

	d = deadLetter("m-2", "h")
	d.FirstFailedAt = time.Time{}
	got, err = s.AddDeadLetter(ctx, d)
	require.NoError(t, err)
	assert.Equal(t, stored(d.LastFailedAt), got.FirstFailedAt, "without a first failure, the last one is the first")
}

func testDeadLetterList(t *testing.T, s app.DeadLetterStore) {
	ctx := t.Context()
	var added []int64
	for i := range 7 {
		d, err := s.AddDeadLetter(ctx, deadLetter(fmt.Sprintf("m-%d", i), "h"))
		require.NoError(t, err)
		added = append(added, d.ID)
	}
	var got []int64
	after := int64(0)
	for {
		page, err := s.ListDeadLetters(ctx, after, 3)
		require.NoError(t, err)
		require.LessOrEqual(t, len(page), 3)
		for _, d := range page {
			got = append(got, d.ID)
			assert.Equal(t, app.TopicMoodleEvents, d.Topic, "rows come whole")
		}
		if len(page) < 3 {
			break
		}
		after = page[len(page)-1].ID
	}
	assert.Equal(t, added, got, "oldest first, each once")

	// A deleted row leaves no hole in the pages.
	require.NoError(t, s.DeleteDeadLetter(ctx, added[1]))
	page, err := s.ListDeadLetters(ctx, added[0], 2)
	require.NoError(t, err)
	require.Len(t, page, 2)
	assert.Equal(t, []int64{added[2], added[3]}, []int64{page[0].ID, page[1].ID})

	// No limit is the default page.
	page, err = s.ListDeadLetters(ctx, 0, 0)
	require.NoError(t, err)
	assert.Len(t, page, 6)
	n, err := s.CountDeadLetters(ctx)
	require.NoError(t, err)
	assert.Equal(t, 6, n)

	page, err = s.ListDeadLetters(ctx, added[6], 10)
	require.NoError(t, err)
	assert.Empty(t, page)
}

func testDeadLetterDelete(t *testing.T, s app.DeadLetterStore) {
	ctx := t.Context()
	a, err := s.AddDeadLetter(ctx, deadLetter("m-1", "h"))
	require.NoError(t, err)
	b, err := s.AddDeadLetter(ctx, deadLetter("m-2", "h"))
	require.NoError(t, err)
	require.NoError(t, s.DeleteDeadLetter(ctx, a.ID))
	_, err = s.GetDeadLetter(ctx, a.ID)
	assert.ErrorIs(t, err, app.ErrNotFound)
	assert.ErrorIs(t, s.DeleteDeadLetter(ctx, a.ID), app.ErrNotFound, "a second delete finds nothing")
	_, err = s.GetDeadLetter(ctx, b.ID)
	assert.NoError(t, err, "the other row stays")

	// The same message failing after its row was deleted gets a new row.
	c, err := s.AddDeadLetter(ctx, deadLetter("m-1", "h"))
	require.NoError(t, err)
	assert.Greater(t, c.ID, b.ID, "ids are never reused")
	assert.Equal(t, 5, c.Attempts)
}

func testDeadLetterMissing(t *testing.T, s app.DeadLetterStore) {
	_, err := s.GetDeadLetter(t.Context(), 12345)
	assert.ErrorIs(t, err, app.ErrNotFound)
	assert.ErrorIs(t, s.DeleteDeadLetter(t.Context(), 12345), app.ErrNotFound)
}
