package app

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// groupStore records the groups FinishScanItems writes; each write waits
// for release when it is set.
type groupStore struct {
	ScanStore
	mu      sync.Mutex
	groups  [][]ScanItemResult
	written map[int64]bool
	release chan struct{}
	fail    error
}

func (g *groupStore) FinishScanItems(_ context.Context, items []ScanItemResult) error {
	if g.release != nil {
		<-g.release
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.groups = append(g.groups, items)
	for _, it := range items {
		if g.fail == nil {
			g.written[it.EnrollmentID] = true
		}
	}
	return g.fail
}

func TestItemFinisherGroupsConcurrentItems(t *testing.T) {
	store := &groupStore{written: map[int64]bool{}, release: make(chan struct{})}
	f := newItemFinisher(store)
	const n = 50
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			err := f.finish(t.Context(), ScanItemResult{ScanID: 1, EnrollmentID: int64(i + 1), State: ScanItemDone})
			if err == nil {
				store.mu.Lock()
				if !store.written[int64(i+1)] {
					err = errors.New("returned before its item was written")
				}
				store.mu.Unlock()
			}
			errs <- err
		})
	}
	// The first write holds the line while the others queue.
	time.Sleep(50 * time.Millisecond)
	close(store.release)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	assert.Len(t, store.written, n, "every item written")
	total := 0
	for _, g := range store.groups {
		total += len(g)
	}
	assert.Equal(t, n, total, "each item written once")
	assert.Less(t, len(store.groups), n, "items finished together share writes")
	assert.False(t, f.group.running, "nobody is left writing")
	assert.Empty(t, f.group.queue)
}

func TestItemFinisherReportsTheWriteError(t *testing.T) {
	boom := errors.New("boom")
	store := &groupStore{written: map[int64]bool{}, fail: boom}
	f := newItemFinisher(store)
	err := f.finish(t.Context(), ScanItemResult{ScanID: 1, EnrollmentID: 1, State: ScanItemDone})
	require.ErrorIs(t, err, boom)
	// Alone, an item is written at once, and the finisher is free again.
	store.fail = nil
	require.NoError(t, f.finish(t.Context(), ScanItemResult{ScanID: 1, EnrollmentID: 2, State: ScanItemDone}))
	assert.True(t, store.written[2])
	assert.Len(t, store.groups, 2)
}
