package app

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// grouper runs concurrent calls in groups, as a database groups commits:
// the first caller runs its call at once; callers that arrive while a run
// is in flight queue, and the first of them runs the whole queue (up to max)
// when it is over. Every caller returns only once its own call has run, with
// its own result, so grouping changes what a call shares (a statement, a
// commit, a round trip), never what it promises. Nothing waits on a timer:
// alone, a call runs as soon as it is made.
type grouper[Req, Res any] struct {
	// run does the calls of one group and returns one result per request,
	// in order, or one error for them all.
	run func(ctx context.Context, reqs []Req) ([]Res, error)
	// max bounds the requests of one run.
	max int
	// timeout bounds one run. A run does not follow its leader's context
	// (it holds other callers' requests too) but keeps its values.
	timeout time.Duration

	mu      sync.Mutex
	queue   []*groupCall[Req, Res]
	running bool // a caller is running a group; the queue waits for it
}

type groupCall[Req, Res any] struct {
	req  Req
	res  Res
	err  error
	done chan struct{} // closed when res and err are set
	lead chan struct{} // this caller runs the queue next
}

// do runs req in a group and returns its result.
func (g *grouper[Req, Res]) do(ctx context.Context, req Req) (Res, error) {
	call := &groupCall[Req, Res]{req: req, done: make(chan struct{}), lead: make(chan struct{}, 1)}
	g.mu.Lock()
	g.queue = append(g.queue, call)
	leader := !g.running
	g.running = true
	g.mu.Unlock()
	if !leader {
		select {
		case <-call.done:
			return call.res, call.err
		case <-call.lead: // the previous run is over: the queue is ours to run
		}
	}
	g.runQueued(ctx)
	<-call.done
	return call.res, call.err
}

// runQueued runs the head of the queue and hands the rest to its first
// caller.
func (g *grouper[Req, Res]) runQueued(ctx context.Context) {
	g.mu.Lock()
	n := min(len(g.queue), g.max)
	group := g.queue[:n:n]
	g.queue = g.queue[n:]
	g.mu.Unlock()

	reqs := make([]Req, len(group))
	for i, c := range group {
		reqs[i] = c.req
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), g.timeout)
	res, err := g.run(rctx, reqs)
	cancel()
	if err == nil && len(res) != len(reqs) {
		err = fmt.Errorf("group of %d calls: %d results", len(reqs), len(res))
	}
	for i, c := range group {
		if err == nil {
			c.res = res[i]
		}
		c.err = err
		close(c.done)
	}

	g.mu.Lock()
	if len(g.queue) > 0 {
		g.queue[0].lead <- struct{}{}
	} else {
		g.running = false
	}
	g.mu.Unlock()
}
