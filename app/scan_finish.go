package app

import (
	"context"
	"sync"
	"time"
)

// itemFinisher records finished scan items in groups, as a database groups
// commits: the first caller writes its item at once; callers that finish
// while that write is in flight queue, and the first of them writes the
// whole queue when it is over. Every caller returns only once its own item
// is written (or the write failed, and then its handler is retried), so an
// item is still recorded before its bus message is acknowledged; it only
// shares the statement and the commit with its neighbours. Nothing waits
// on a timer: alone, an item is written as soon as it finishes.
type itemFinisher struct {
	store ScanStore

	mu      sync.Mutex
	queue   []*finishRequest
	writing bool // a caller is writing; the queue waits for it
}

type finishRequest struct {
	item ScanItemResult
	done chan error    // the outcome of the write that held the item
	lead chan struct{} // this caller writes the queue next
}

// maxFinishGroup bounds the items of one write.
const maxFinishGroup = 500

// finishTimeout bounds one write. It does not follow the writer's own
// context: the write holds other callers' items too.
const finishTimeout = 10 * time.Second

func (f *itemFinisher) finish(ctx context.Context, item ScanItemResult) error {
	req := &finishRequest{item: item, done: make(chan error, 1), lead: make(chan struct{}, 1)}
	f.mu.Lock()
	f.queue = append(f.queue, req)
	leader := !f.writing
	f.writing = true
	f.mu.Unlock()
	if !leader {
		select {
		case err := <-req.done:
			return err
		case <-req.lead: // the previous writer is done: the queue is ours to write
		}
	}
	f.mu.Lock()
	n := min(len(f.queue), maxFinishGroup)
	group := f.queue[:n:n]
	f.queue = f.queue[n:]
	f.mu.Unlock()

	items := make([]ScanItemResult, len(group))
	for i, r := range group {
		items[i] = r.item
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	err := f.store.FinishScanItems(wctx, items)
	cancel()
	for _, r := range group {
		r.done <- err
	}

	f.mu.Lock()
	if len(f.queue) > 0 {
		f.queue[0].lead <- struct{}{}
	} else {
		f.writing = false
	}
	f.mu.Unlock()
	return <-req.done
}
