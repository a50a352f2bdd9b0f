package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/acme/notifier/app"
)

// InProcessConfig configures the in-process bus.
type InProcessConfig struct {
	// Workers is how many messages each handler works on at once
	// (DefaultConsumers).
	Workers int
	// NackResendSleep is the pause before a message that failed without
	// reaching the dead letters is handled again (DefaultNackResendSleep).
	NackResendSleep time.Duration
	// QueueSize is how many messages of a topic may wait for a handler's
	// worker (DefaultQueueSize). Publish waits while the queue is full.
	QueueSize int
}

// DefaultQueueSize bounds the messages waiting for one handler in process:
// a scan of a million enrollments publishes them all at once, and holding
// them all (or a goroutine each, as Watermill's GoChannel does) would cost
// memory in proportion. Publishing waits for room instead.
const DefaultQueueSize = 1000

// InProcess is the bus of the embedded mode: bounded queues in memory, one
// per handler's subscription, delivered to the router as Watermill
// messages. A message is lost when the process stops before its handler
// finished, and a message published while no handler is subscribed to its
// topic is dropped: the store is the truth, and recovery publishes again
// what was not processed.
//
// Every subscription of a topic receives every message of it; the router
// subscribes one handler per topic, so each message is handled once.
type InProcess struct {
	cfg  InProcessConfig
	done chan struct{} // closed by Close

	mu     sync.Mutex
	closed bool
	queues map[string][]*inProcessQueue // by topic
}

// inProcessQueue holds the messages of one subscription not yet taken by
// its workers.
type inProcessQueue struct {
	ch   chan *message.Message
	gone chan struct{} // closed when the subscription ends
}

var _ app.Bus = (*InProcess)(nil)

// NewInProcess returns an in-process bus with the default settings.
func NewInProcess(logger *slog.Logger) *InProcess {
	return NewInProcessWith(InProcessConfig{}, logger)
}

// NewInProcessWith returns an in-process bus.
func NewInProcessWith(cfg InProcessConfig, _ *slog.Logger) *InProcess {
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultConsumers
	}
	if cfg.NackResendSleep <= 0 {
		cfg.NackResendSleep = DefaultNackResendSleep
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = DefaultQueueSize
	}
	return &InProcess{cfg: cfg, done: make(chan struct{}), queues: map[string][]*inProcessQueue{}}
}

// Publish hands msgs, in order, to every subscription of topic; with none,
// they are dropped. It returns once they are queued, not when a handler
// finished (a webhook answers without waiting for the rules), and waits
// while a queue is full, until ctx ends: then the error wraps
// app.ErrUnavailable and the messages not queued are left to recovery.
// Each subscription gets a copy without the publisher's context, which
// ends long before its message is handled.
func (b *InProcess) Publish(ctx context.Context, topic string, msgs ...app.BusMessage) error {
	if len(msgs) == 0 {
		return nil
	}
	wms, err := toMessages(ctx, msgs)
	if err != nil {
		return fmt.Errorf("bus: publish to %s: %w", topic, err)
	}
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return fmt.Errorf("bus: publish to %s: %w", topic, errClosed)
	}
	queues := slices.Clone(b.queues[topic])
	b.mu.Unlock()
	for _, m := range wms {
		for _, q := range queues {
			select {
			case q.ch <- m.Copy():
			case <-q.gone: // the subscription ended meanwhile
			case <-ctx.Done():
				return fmt.Errorf("bus: publish to %s: %w: %w", topic, app.ErrUnavailable, ctx.Err())
			case <-b.done:
				return fmt.Errorf("bus: publish to %s: %w", topic, errClosed)
			}
		}
	}
	return nil
}

// Ping answers nil until the bus is closed.
func (b *InProcess) Ping(context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return errClosed
	}
	return nil
}

// Subscriber returns the subscriber of a handler for the router: at most
// InProcessConfig.Workers of its messages are in the handler at once, and a
// negatively acknowledged message is handed to it again after
// InProcessConfig.NackResendSleep.
func (b *InProcess) Subscriber(handlerName string) (message.Subscriber, error) {
	if handlerName == "" {
		return nil, errors.New("bus: a handler name is required")
	}
	if err := b.Ping(context.Background()); err != nil {
		return nil, err
	}
	return &boundedSubscriber{bus: b, workers: b.cfg.Workers, nackSleep: b.cfg.NackResendSleep}, nil
}

// Close stops every subscription; messages not yet handled are dropped.
func (b *InProcess) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	close(b.done)
	return nil
}

// subscribe adds a queue to topic.
func (b *InProcess) subscribe(topic string) (*inProcessQueue, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, errClosed
	}
	q := &inProcessQueue{ch: make(chan *message.Message, b.cfg.QueueSize), gone: make(chan struct{})}
	b.queues[topic] = append(b.queues[topic], q)
	return q, nil
}

// unsubscribe removes q from topic; what it still holds is dropped.
func (b *InProcess) unsubscribe(topic string, q *inProcessQueue) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.queues[topic] = slices.DeleteFunc(b.queues[topic], func(x *inProcessQueue) bool { return x == q })
	if len(b.queues[topic]) == 0 {
		delete(b.queues, topic)
	}
	close(q.gone)
}

// boundedSubscriber hands its queue's messages on from a fixed number of
// workers, each with one message unacknowledged at a time. Each goes on as
// a copy: a negative acknowledgement of the copy is resent here after
// nackSleep.
type boundedSubscriber struct {
	bus       *InProcess
	workers   int
	nackSleep time.Duration

	mu      sync.Mutex
	cancels []context.CancelFunc
	closed  bool
}

func (s *boundedSubscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, errClosed
	}
	ctx, cancel := context.WithCancel(ctx)
	s.cancels = append(s.cancels, cancel)
	s.mu.Unlock()

	q, err := s.bus.subscribe(topic)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("bus: subscribe %s: %w", topic, err)
	}
	out := make(chan *message.Message)
	var wg sync.WaitGroup
	for range s.workers {
		wg.Go(func() {
			for {
				select {
				case m := <-q.ch:
					s.deliver(ctx, m, out)
				case <-ctx.Done():
					return
				case <-s.bus.done:
					return
				}
			}
		})
	}
	go func() {
		select {
		case <-ctx.Done():
		case <-s.bus.done:
		}
		s.bus.unsubscribe(topic, q)
		wg.Wait()
		close(out)
	}()
	return out, nil
}

// deliver passes copies of m to out until one is acknowledged. Each copy
// is made from the previous one, so that what the router noted in the
// metadata (the attempts so far) carries over, as with Redis. Each carries
// a context of the subscription's, ended once m is done with, as with
// Redis.
func (s *boundedSubscriber) deliver(ctx context.Context, m *message.Message, out chan<- *message.Message) {
	msgCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	last := m
	for {
		cp := last.Copy()
		cp.SetContext(msgCtx)
		last = cp
		select {
		case out <- cp:
		case <-ctx.Done():
			return
		case <-s.bus.done:
			return
		}
		select {
		case <-cp.Acked():
			return
		case <-cp.Nacked():
		case <-ctx.Done():
			return
		case <-s.bus.done:
			return
		}
		t := time.NewTimer(s.nackSleep)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		case <-s.bus.done:
			t.Stop()
			return
		}
	}
}

func (s *boundedSubscriber) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for _, c := range s.cancels {
		c()
	}
	s.cancels = nil
	return nil
}
