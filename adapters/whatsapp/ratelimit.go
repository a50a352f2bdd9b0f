package whatsapp

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Limiter paces sends: Wait returns when a message to recipient may leave,
// or with ctx's error. Both limits hold at once: at most a rate of sends per
// second for the phone number, and one message to the same recipient per
// pair spacing (Meta's pair rate limit, 131056).
type Limiter interface {
	Wait(ctx context.Context, recipient string) error
}

// DefaultPairSpacing is the least time between two messages to the same
// recipient: Meta allows about one every 6 seconds.
const DefaultPairSpacing = 6 * time.Second

// LimiterConfig sets both limits.
type LimiterConfig struct {
	// RatePerSecond is the most sends per second (WHATSAPP_RATE_PER_SECOND).
	RatePerSecond float64
	// PairSpacing is the least time between two messages to one recipient;
	// zero means DefaultPairSpacing.
	PairSpacing time.Duration
}

func (c LimiterConfig) interval() (time.Duration, error) {
	if c.RatePerSecond <= 0 {
		return 0, errors.New("whatsapp: the rate per second must be positive")
	}
	return time.Duration(float64(time.Second) / c.RatePerSecond), nil
}

func (c LimiterConfig) spacing() time.Duration {
	if c.PairSpacing <= 0 {
		return DefaultPairSpacing
	}
	return c.PairSpacing
}

// MemoryLimiter is the in-process Limiter, for one replica: a virtual
// schedule (GCRA) that gives each send its own slot, one interval after the
// previous one, and a map of when each recipient may be messaged again.
type MemoryLimiter struct {
	interval time.Duration
	spacing  time.Duration
	now      func() time.Time
	sleep    func(ctx context.Context, d time.Duration) error

	mu        sync.Mutex
	next      time.Time            // the next free slot
	pairs     map[string]time.Time // recipient → when it may be messaged again
	lastClean time.Time
}

var _ Limiter = (*MemoryLimiter)(nil)

// NewMemoryLimiter builds an in-process limiter.
func NewMemoryLimiter(c LimiterConfig) (*MemoryLimiter, error) {
	interval, err := c.interval()
	if err != nil {
		return nil, err
	}
	return &MemoryLimiter{interval: interval, spacing: c.spacing(), now: time.Now, sleep: sleepCtx,
		pairs: map[string]time.Time{}}, nil
}

// WithClock makes the limiter read time from now and wait with sleep, for
// tests with a fake clock.
func (l *MemoryLimiter) WithClock(now func() time.Time, sleep func(ctx context.Context, d time.Duration) error) *MemoryLimiter {
	l.now, l.sleep = now, sleep
	return l
}

// Wait implements Limiter. A recipient still within its spacing waits
// first, without holding a slot; then the caller takes the next slot and
// sleeps until it comes. A cancelled wait gives its slot up unused, which
// only ever slows the others down.
func (l *MemoryLimiter) Wait(ctx context.Context, recipient string) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		at, wait := l.reserve(recipient)
		if at.IsZero() {
			// The recipient is not free yet: wait, then try again.
			if err := l.sleep(ctx, wait); err != nil {
				return err
			}
			continue
		}
		if wait <= 0 {
			return nil
		}
		return l.sleep(ctx, wait)
	}
}

// reserve takes a slot for recipient and says how long until it comes; a
// zero slot means the recipient is within its spacing for wait more.
func (l *MemoryLimiter) reserve(recipient string) (slot time.Time, wait time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.clean(now)
	if free, ok := l.pairs[recipient]; ok && now.Before(free) {
		return time.Time{}, free.Sub(now)
	}
	slot = l.next
	if slot.Before(now) {
		slot = now
	}
	l.next = slot.Add(l.interval)
	l.pairs[recipient] = slot.Add(l.spacing)
	return slot, slot.Sub(now)
}

// clean forgets recipients whose spacing is over, at most once per spacing,
// so the map holds only the recipients of the last few seconds.
func (l *MemoryLimiter) clean(now time.Time) {
	if now.Sub(l.lastClean) < l.spacing {
		return
	}
	l.lastClean = now
	for r, free := range l.pairs {
		if !now.Before(free) {
			delete(l.pairs, r)
		}
	}
}

// tracked is the number of recipients the limiter remembers (tests).
func (l *MemoryLimiter) tracked() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.pairs)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
