package app

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Each caller gets its own result, whichever group ran it, and no group is
// larger than max.
func TestGrouperGivesEachCallerItsOwnResult(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	var sizes []int
	g := &grouper[int, int]{max: 7, timeout: time.Second,
		run: func(_ context.Context, reqs []int) ([]int, error) {
			<-release
			mu.Lock()
			sizes = append(sizes, len(reqs))
			mu.Unlock()
			out := make([]int, len(reqs))
			for i, r := range reqs {
				out[i] = r * 10
			}
			return out, nil
		}}
	const n = 40
	got := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			res, err := g.do(t.Context(), i)
			assert.NoError(t, err)
			got[i] = res
		})
	}
	time.Sleep(50 * time.Millisecond) // the first run holds the line while the others queue
	close(release)
	wg.Wait()
	for i := range n {
		assert.Equal(t, i*10, got[i], "caller %d", i)
	}
	total := 0
	for _, s := range sizes {
		assert.LessOrEqual(t, s, 7)
		total += s
	}
	assert.Equal(t, n, total, "each call ran once")
	assert.Less(t, len(sizes), n, "calls made together share runs")
}

// A run that answers the wrong number of results fails its callers rather
// than giving one of them another's result.
func TestGrouperRefusesAShortAnswer(t *testing.T) {
	g := &grouper[int, int]{max: 10, timeout: time.Second,
		run: func(context.Context, []int) ([]int, error) { return nil, nil }}
	_, err := g.do(t.Context(), 1)
	require.Error(t, err)
	assert.False(t, g.running)
}

// A run outlives the leader's cancelled context: it holds other callers'
// requests.
func TestGrouperRunIgnoresTheLeadersCancellation(t *testing.T) {
	g := &grouper[int, int]{max: 10, timeout: time.Second,
		run: func(ctx context.Context, reqs []int) ([]int, error) { return reqs, ctx.Err() }}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	res, err := g.do(ctx, 5)
	require.NoError(t, err)
	assert.Equal(t, 5, res)
}
