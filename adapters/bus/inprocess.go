package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"

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
}

// InProcess is the bus of the embedded mode: Watermill's GoChannel, in
// memory. A message is lost when the process stops before its handler
// finished, and a message published while no handler is subscribed to its
// topic is dropped: the store is the truth, and recovery publishes again
// what was not processed.
//
// GoChannel delivers every message to every subscriber of its topic; the
// router subscribes one handler per topic, so each message is handled once.
type InProcess struct {
	cfg InProcessConfig
	ch  *gochannel.GoChannel

	mu     sync.Mutex
	closed bool
}

var _ app.Bus = (*InProcess)(nil)

// NewInProcess returns an in-process bus with the default settings.
func NewInProcess(logger *slog.Logger) *InProcess {
	return NewInProcessWith(InProcessConfig{}, logger)
}

// NewInProcessWith returns an in-process bus.
func NewInProcessWith(cfg InProcessConfig, logger *slog.Logger) *InProcess {
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultConsumers
	}
	if cfg.NackResendSleep <= 0 {
		cfg.NackResendSleep = DefaultNackResendSleep
	}
	ch := gochannel.NewGoChannel(gochannel.Config{
		// Not persistent: a persistent GoChannel keeps every message
		// forever and replays them all to each new subscriber.
		Persistent: false,
		// Publish returns once the message is handed over, not when a
		// handler finished: a webhook answers without waiting for the
		// rules, and a handler may publish without deadlocking.
		BlockPublishUntilSubscriberAck: false,
		// The publisher's context (an HTTP request's) must not reach the
		// handler, which outlives it.
		PreserveContext: false,
	}, watermillLogger(logger))
	return &InProcess{cfg: cfg, ch: ch}
}

// Publish hands msgs to the subscribers of topic.
func (b *InProcess) Publish(ctx context.Context, topic string, msgs ...app.BusMessage) error {
	if len(msgs) == 0 {
		return nil
	}
	wms, err := toMessages(ctx, msgs)
	if err != nil {
		return fmt.Errorf("bus: publish to %s: %w", topic, err)
	}
	if err := b.ch.Publish(topic, wms...); err != nil {
		return fmt.Errorf("bus: publish to %s: %w", topic, err)
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
// InProcessConfig.Workers of its messages are in the handler at once.
//
// GoChannel alone would start a goroutine per published message and hand
// them all to the router at once, without bound; it also resends a
// negatively acknowledged message at once, in a loop.
func (b *InProcess) Subscriber(handlerName string) (message.Subscriber, error) {
	if handlerName == "" {
		return nil, errors.New("bus: a handler name is required")
	}
	if err := b.Ping(context.Background()); err != nil {
		return nil, err
	}
	return &boundedSubscriber{ch: b.ch, workers: b.cfg.Workers, nackSleep: b.cfg.NackResendSleep}, nil
}

// Close stops every subscription; messages not yet handled are dropped.
func (b *InProcess) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.mu.Unlock()
	return b.ch.Close()
}

// boundedSubscriber hands a GoChannel subscription's messages on with at
// most workers unacknowledged at once. Each goes on as a copy: a negative
// acknowledgement of the copy is resent here after nackSleep, and only an
// acknowledgement reaches GoChannel.
type boundedSubscriber struct {
	ch        *gochannel.GoChannel
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

	in, err := s.ch.Subscribe(ctx, topic)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("bus: subscribe %s: %w", topic, err)
	}
	out := make(chan *message.Message)
	slots := make(chan struct{}, s.workers)
	var wg sync.WaitGroup
	go func() {
		defer func() {
			wg.Wait()
			close(out)
		}()
		for m := range in {
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				continue // GoChannel drops it on close; drain until it closes in
			}
			wg.Add(1)
			go func() {
				defer func() {
					<-slots
					wg.Done()
				}()
				s.deliver(ctx, m, out)
			}()
		}
	}()
	return out, nil
}

// deliver passes copies of m to out until one is acknowledged. Each copy
// is made from the previous one, so that what the router noted in the
// metadata (the attempts so far) carries over, as with Redis.
func (s *boundedSubscriber) deliver(ctx context.Context, m *message.Message, out chan<- *message.Message) {
	last := m
	for {
		cp := last.Copy()
		cp.SetContext(m.Context())
		last = cp
		select {
		case out <- cp:
		case <-ctx.Done():
			return
		}
		select {
		case <-cp.Acked():
			m.Ack()
			return
		case <-cp.Nacked():
		case <-ctx.Done():
			return
		}
		t := time.NewTimer(s.nackSleep)
		select {
		case <-t.C:
		case <-ctx.Done():
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
