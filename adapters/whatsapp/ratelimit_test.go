package whatsapp_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/notifier/adapters/whatsapp"
	"github.com/acme/notifier/internal/testenv"
)

// fakeClock is a clock that moves only when someone sleeps on it.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if d > 0 {
		c.now = c.now.Add(d)
	}
	return nil
}

func memoryLimiter(t testing.TB, rate float64, spacing time.Duration, clock *fakeClock) *whatsapp.MemoryLimiter {
	t.Helper()
	l, err := whatsapp.NewMemoryLimiter(whatsapp.LimiterConfig{RatePerSecond: rate, PairSpacing: spacing})
	require.NoError(t, err)
	if clock != nil {
		l.WithClock(clock.Now, clock.Sleep)
	}
	return l
}

func recipient(i int) string { return fmt.Sprintf("+346%08d", i) }

// 1,000 sends at 80/s take 999 intervals of 12.5 ms on the limiter's clock.
func TestMemoryLimiterPacesTheRate(t *testing.T) {
	clock := newFakeClock()
	l := memoryLimiter(t, 80, 6*time.Second, clock)
	start := clock.Now()
	var at []time.Time
	for i := range 1000 {
		require.NoError(t, l.Wait(t.Context(), recipient(i)))
		at = append(at, clock.Now())
	}
	assert.Equal(t, 999*12500*time.Microsecond, clock.Now().Sub(start))
	for i := 1; i < len(at); i++ {
		require.Equal(t, 12500*time.Microsecond, at[i].Sub(at[i-1]), "send %d", i)
	}
}

func TestMemoryLimiterSpacesTheSameRecipient(t *testing.T) {
	clock := newFakeClock()
	l := memoryLimiter(t, 80, 6*time.Second, clock)
	start := clock.Now()
	wait := func(r string) time.Duration {
		require.NoError(t, l.Wait(t.Context(), r))
		return clock.Now().Sub(start)
	}

	assert.Equal(t, time.Duration(0), wait("+34600111222"))
	assert.Equal(t, 12500*time.Microsecond, wait("+34600111333"), "another recipient only waits for the rate")
	assert.Equal(t, 6*time.Second, wait("+34600111222"), "the same recipient waits 6 s after its last message")
	assert.Equal(t, 6*time.Second+12500*time.Microsecond, wait("+34600111333"))
	assert.Equal(t, 12*time.Second, wait("+34600111222"))
}

func TestMemoryLimiterForgetsRecipients(t *testing.T) {
	clock := newFakeClock()
	l := memoryLimiter(t, 1000, time.Second, clock)
	for i := range 100 {
		require.NoError(t, l.Wait(t.Context(), recipient(i)))
	}
	require.NoError(t, clock.Sleep(t.Context(), 2*time.Second))
	require.NoError(t, l.Wait(t.Context(), "+34600000000"))
	assert.Equal(t, 1, whatsapp.TrackedRecipients(l), "recipients past their spacing are dropped")
}

func TestMemoryLimiterHonoursCancellation(t *testing.T) {
	l := memoryLimiter(t, 1, time.Hour, nil)
	require.NoError(t, l.Wait(t.Context(), "+34600111222"))
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	assert.ErrorIs(t, l.Wait(ctx, "+34600111222"), context.DeadlineExceeded)
	assert.Less(t, time.Since(start), time.Second)
}

// With real time and concurrent callers, at a rate a test can afford.
func TestMemoryLimiterConcurrentCallers(t *testing.T) {
	l := memoryLimiter(t, 1000, time.Second, nil)
	elapsed := runSends(t, 200, 4, func(ctx context.Context, i int) error { return l.Wait(ctx, recipient(i)) })
	assert.GreaterOrEqual(t, elapsed, 199*time.Millisecond)
	assert.Less(t, elapsed, 2*time.Second)
}

func redisLimiter(t testing.TB, r testenv.Redis, c *redis.Client, cfg whatsapp.LimiterConfig) *whatsapp.RedisLimiter {
	t.Helper()
	l, err := whatsapp.NewRedisLimiter(c, r.Prefix, cfg)
	require.NoError(t, err)
	return l
}

func redisClient(t testing.TB, r testenv.Redis) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(r.URL)
	require.NoError(t, err)
	c := redis.NewClient(opt)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Two replicas sharing one Redis keep the rate together.
func TestRedisLimiterSharesTheRate(t *testing.T) {
	r := testenv.RedisServer(t)
	cfg := whatsapp.LimiterConfig{RatePerSecond: 500, PairSpacing: time.Second}
	a := redisLimiter(t, r, redisClient(t, r), cfg)
	b := redisLimiter(t, r, redisClient(t, r), cfg)
	elapsed := runSends(t, 200, 4, func(ctx context.Context, i int) error {
		if i%2 == 0 {
			return a.Wait(ctx, recipient(i))
		}
		return b.Wait(ctx, recipient(i))
	})
	assert.GreaterOrEqual(t, elapsed, 199*2*time.Millisecond-10*time.Millisecond)
	assert.Less(t, elapsed, 3*time.Second)
}

func TestRedisLimiterSpacesTheSameRecipient(t *testing.T) {
	r := testenv.RedisServer(t)
	cfg := whatsapp.LimiterConfig{RatePerSecond: 1000, PairSpacing: 400 * time.Millisecond}
	a := redisLimiter(t, r, redisClient(t, r), cfg)
	b := redisLimiter(t, r, redisClient(t, r), cfg)

	start := time.Now()
	require.NoError(t, a.Wait(t.Context(), "+34600111222"))
	require.NoError(t, b.Wait(t.Context(), "+34600111333"))
	assert.Less(t, time.Since(start), 200*time.Millisecond, "another recipient does not wait for the spacing")
	require.NoError(t, b.Wait(t.Context(), "+34600111222"))
	assert.GreaterOrEqual(t, time.Since(start), 390*time.Millisecond, "the same recipient waits, whichever replica sends")
	assert.Less(t, time.Since(start), 1500*time.Millisecond)

	// The keys live under the prefix, expire, and do not hold the number.
	long := redisLimiter(t, r, redisClient(t, r), whatsapp.LimiterConfig{RatePerSecond: 1000, PairSpacing: time.Minute})
	require.NoError(t, long.Wait(t.Context(), "+34600111444"))
	c := redisClient(t, r)
	keys, err := c.Keys(t.Context(), r.Prefix+"*").Result()
	require.NoError(t, err)
	live := 0
	for _, k := range keys {
		assert.True(t, strings.HasPrefix(k, r.Prefix+":whatsapp:{ratelimit}:"), k)
		assert.NotContains(t, k, "600111")
		ttl, err := c.PTTL(t.Context(), k).Result()
		require.NoError(t, err)
		assert.NotEqual(t, time.Duration(-1), ttl, "key %s has no expiry", k) // -2: already gone
		if ttl > 0 {
			live++
		}
	}
	assert.GreaterOrEqual(t, live, 2, "the schedule and the last recipient")
}

func TestRedisLimiterHonoursCancellation(t *testing.T) {
	r := testenv.RedisServer(t)
	l := redisLimiter(t, r, redisClient(t, r), whatsapp.LimiterConfig{RatePerSecond: 10, PairSpacing: time.Hour})
	require.NoError(t, l.Wait(t.Context(), "+34600111222"))
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	assert.ErrorIs(t, l.Wait(ctx, "+34600111222"), context.DeadlineExceeded)
}

func TestRedisLimiterDownIsAnError(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	defer c.Close()
	l, err := whatsapp.NewRedisLimiter(c, "x", whatsapp.LimiterConfig{RatePerSecond: 10})
	require.NoError(t, err)
	assert.Error(t, l.Wait(t.Context(), "+34600111222"))
}

// runSends makes n waits from workers goroutines and returns how long they
// took, first to last.
func runSends(t testing.TB, n, workers int, wait func(ctx context.Context, i int) error) time.Duration {
	t.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := wait(t.Context(), i); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	return time.Since(start)
}

// The real-time measurement of the rate is a benchmark, not a test: each
// iteration makes 1,000 sends at 80/s through a fresh limiter, 12.5 s of wall
// time, and fails unless it took 12.5 s within 5 %. None runs without -bench:
//
//	go test -run '^$' -bench LimiterRate ./adapters/whatsapp/
const (
	rateSends   = 1000
	ratePerSec  = 80
	rateWorkers = 16
)

// benchLimiterRate runs rateSends sends per iteration through the wait that
// fresh builds for iteration run, checks each iteration's elapsed time and
// reports the achieved sends per second and the seconds per 1,000 sends.
func benchLimiterRate(b *testing.B, fresh func(run int) func(ctx context.Context, i int) error) {
	ideal := time.Duration(rateSends) * time.Second / ratePerSec // 12.5 s
	lo, hi := ideal-ideal/20, ideal+ideal/20
	var total time.Duration
	runs := 0
	for b.Loop() {
		elapsed := runSends(b, rateSends, rateWorkers, fresh(runs))
		runs++
		total += elapsed
		if elapsed < lo || elapsed > hi {
			b.Errorf("run %d: %d sends at %d/s took %s, want %s within 5 %% (%s to %s)",
				runs, rateSends, ratePerSec, elapsed, ideal, lo, hi)
		}
	}
	b.ReportMetric(float64(rateSends*runs)/total.Seconds(), "sends/s")
	b.ReportMetric(total.Seconds()/float64(runs), "elapsed-s")
}

// 1,000 sends at 80/s take 12.5 s within 5 %, in one process.
func BenchmarkLimiterRate1000At80Memory(b *testing.B) {
	benchLimiterRate(b, func(int) func(ctx context.Context, i int) error {
		l := memoryLimiter(b, ratePerSec, 6*time.Second, nil)
		return func(ctx context.Context, i int) error { return l.Wait(ctx, recipient(i)) }
	})
}

// 1,000 sends at 80/s take 12.5 s within 5 %, across two replicas sharing
// Redis. Each iteration has a key prefix of its own, so that it starts on an
// empty schedule with no recipient still within its spacing.
func BenchmarkLimiterRate1000At80Redis(b *testing.B) {
	r := testenv.RedisServer(b)
	ca, cb := redisClient(b, r), redisClient(b, r)
	cfg := whatsapp.LimiterConfig{RatePerSecond: ratePerSec}
	benchLimiterRate(b, func(run int) func(ctx context.Context, i int) error {
		own := testenv.Redis{URL: r.URL, Prefix: fmt.Sprintf("%s:run%d", r.Prefix, run)}
		la, lb := redisLimiter(b, own, ca, cfg), redisLimiter(b, own, cb, cfg)
		return func(ctx context.Context, i int) error {
			if i%2 == 0 {
				return la.Wait(ctx, recipient(i))
			}
			return lb.Wait(ctx, recipient(i))
		}
	})
}

// BenchmarkMemoryLimiter measures the limiter's own cost at a rate that
// never makes it wait.
func BenchmarkMemoryLimiter(b *testing.B) {
	l, err := whatsapp.NewMemoryLimiter(whatsapp.LimiterConfig{RatePerSecond: 1e9, PairSpacing: time.Nanosecond})
	require.NoError(b, err)
	i := 0
	for b.Loop() {
		i++
		_ = l.Wait(context.Background(), recipient(i%10_000))
	}
}
