package bus

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill-redisstream/pkg/redisstream"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/redis/go-redis/v9"

	"github.com/acme/notifier/app"
)

// Defaults of Config. They assume the router's defaults (ports/messaging):
// five attempts of at most 10 s with their back-off take about 52 s, and a
// consumer holds up to three delivered messages at once (one in its handler,
// two read ahead by watermill-redisstream), so a message may legitimately
// stay pending for three times that before it is acknowledged. MaxIdleTime
// must stay above it, or a live consumer's message is claimed by another
// one and handled twice (harmless, the handlers are idempotent, but wasted).
const (
	DefaultMaxIdleTime   = 5 * time.Minute
	DefaultClaimInterval = 10 * time.Second
	DefaultBlockTime     = time.Second
)

// Config configures the Redis Streams bus.
type Config struct {
	// URL is redis://[user:password@]host:port/db (or rediss://).
	URL string
	// Prefix starts every stream ("<Prefix>:<topic>") and consumer group
	// ("<Prefix>:<handler>") name: NOTIFIER_STREAM_PREFIX.
	Prefix string
	// ConsumerName names this process in the consumer groups; consumer i
	// of a handler is "<ConsumerName>-<i>". Default: the host name and a
	// random suffix, so that every process start is a new consumer and a
	// dead one's pending messages are claimed by the live ones.
	ConsumerName string
	// Consumers is how many consumers each handler runs in this process
	// (DefaultConsumers): a redisstream consumer holds one message in its
	// handler at a time.
	Consumers int
	// NackResendSleep is the pause before a message that failed without
	// reaching the dead letters is handled again (DefaultNackResendSleep).
	NackResendSleep time.Duration
	// MaxIdleTime is how long a delivered message may stay unacknowledged
	// before another consumer claims it (DefaultMaxIdleTime): a consumer
	// that died with pending messages loses them to a live one after this.
	MaxIdleTime time.Duration
	// ClaimInterval is how often each consumer looks for claimable
	// messages (DefaultClaimInterval).
	ClaimInterval time.Duration
	// BlockTime bounds each blocking read (DefaultBlockTime); it is also
	// about how long closing a subscriber waits for its reader.
	BlockTime time.Duration
}

func (c *Config) setDefaults() error {
	if c.URL == "" {
		return errors.New("bus: redis: a URL is required")
	}
	if c.Prefix == "" {
		return errors.New("bus: redis: a stream prefix is required")
	}
	if c.ConsumerName == "" {
		host, err := os.Hostname()
		if err != nil || host == "" {
			host = "notifier"
		}
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		c.ConsumerName = host + "-" + hex.EncodeToString(b)
	}
	if c.Consumers <= 0 {
		c.Consumers = DefaultConsumers
	}
	if c.NackResendSleep <= 0 {
		c.NackResendSleep = DefaultNackResendSleep
	}
	if c.MaxIdleTime <= 0 {
		c.MaxIdleTime = DefaultMaxIdleTime
	}
	if c.ClaimInterval <= 0 {
		c.ClaimInterval = DefaultClaimInterval
	}
	if c.BlockTime <= 0 {
		c.BlockTime = DefaultBlockTime
	}
	return nil
}

// Redis is the bus on Redis Streams. Topic t is the stream "<prefix>:t";
// each handler reads it through its own consumer group "<prefix>:<handler>",
// so every handler sees every message once, shared among the consumers of
// all the processes. Streams are never trimmed by length (MAXLEN can delete
// entries still pending, which are then acknowledged silently): see
// TrimAcknowledged.
type Redis struct {
	cfg    Config
	log    *slog.Logger
	wlog   watermill.LoggerAdapter
	pub    *redisstream.Publisher
	client *redis.Client // the publisher's; Ping and trimming use it too

	mu     sync.Mutex
	subs   map[*redisSubscriber]struct{}
	closed bool
}

var _ app.Bus = (*Redis)(nil)

// NewRedis connects to Redis, checks that it answers and that it is 6.2 or
// newer (XPENDING with IDLE, which claiming relies on), and returns the bus.
func NewRedis(ctx context.Context, cfg Config, logger *slog.Logger) (*Redis, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.Default()
	}
	client, err := newClient(cfg.URL, 0)
	if err != nil {
		return nil, err
	}
	if err := checkServer(ctx, client); err != nil {
		_ = client.Close()
		return nil, err
	}
	wlog := watermillLogger(logger)
	// No MAXLEN: Maxlens and DefaultMaxlen stay zero.
	pub, err := redisstream.NewPublisher(redisstream.PublisherConfig{Client: client}, wlog)
	if err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("bus: redis: %w", err)
	}
	return &Redis{cfg: cfg, log: logger, wlog: wlog, pub: pub, client: client, subs: map[*redisSubscriber]struct{}{}}, nil
}

// newClient opens a client of its own: closing a redisstream publisher or
// subscriber closes its client, so none is shared. poolSize 0 keeps
// go-redis's default.
func newClient(url string, poolSize int) (*redis.Client, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		// The message may quote the URL and its password: say only what failed.
		return nil, errors.New("bus: redis: the Redis URL cannot be parsed")
	}
	if poolSize > 0 {
		opt.PoolSize = poolSize
	}
	return redis.NewClient(opt), nil
}

func checkServer(ctx context.Context, c *redis.Client) error {
	info, err := c.Info(ctx, "server").Result()
	if err != nil {
		return fmt.Errorf("bus: redis: %w: %w", app.ErrUnavailable, err)
	}
	for line := range strings.SplitSeq(info, "\n") {
		v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:")
		if !ok {
			continue
		}
		parts := strings.SplitN(v, ".", 3)
		if len(parts) < 2 {
			break
		}
		major, err1 := strconv.Atoi(parts[0])
		minor, err2 := strconv.Atoi(parts[1])
		if err1 != nil || err2 != nil {
			break
		}
		if major < 6 || (major == 6 && minor < 2) {
			return fmt.Errorf("bus: redis: server version %s is too old: 6.2 or newer is required", v)
		}
		return nil
	}
	// A server that does not tell (a proxy, a compatible server) is trusted.
	return nil
}

// Stream is the Redis key of topic's stream.
func (r *Redis) Stream(topic string) string { return r.cfg.Prefix + ":" + topic }

// Group is the consumer group of a handler.
func (r *Redis) Group(handlerName string) string { return r.cfg.Prefix + ":" + handlerName }

// Publish appends msgs to topic's stream, in order; it stops at the first
// failure, which wraps app.ErrUnavailable when Redis did not take it.
// Several messages go in pipelines of publishPipeline XADDs: one round trip
// each instead of one per message. The entries are Watermill's own
// (redisstream's marshaller), so every subscriber decodes them as before.
func (r *Redis) Publish(ctx context.Context, topic string, msgs ...app.BusMessage) error {
	if len(msgs) == 0 {
		return nil
	}
	wms, err := toMessages(ctx, msgs)
	if err != nil {
		return fmt.Errorf("bus: publish to %s: %w", topic, err)
	}
	r.mu.Lock()
	closed := r.closed
	r.mu.Unlock()
	if closed {
		return fmt.Errorf("bus: publish to %s: %w", topic, errClosed)
	}
	if len(wms) == 1 {
		if err := r.pub.Publish(r.Stream(topic), wms...); err != nil {
			return fmt.Errorf("bus: publish to %s: %w: %w", topic, app.ErrUnavailable, err)
		}
		return nil
	}
	for len(wms) > 0 {
		n := min(len(wms), publishPipeline)
		if err := r.publishPipelined(ctx, r.Stream(topic), wms[:n]); err != nil {
			return fmt.Errorf("bus: publish to %s: %w", topic, err)
		}
		wms = wms[n:]
	}
	return nil
}

// publishPipeline is the most XADDs sent in one round trip.
const publishPipeline = 500

// publishPipelined appends msgs to stream in one pipeline, as
// redisstream.Publisher would one by one: same marshaller, no MAXLEN.
func (r *Redis) publishPipelined(ctx context.Context, stream string, msgs []*message.Message) error {
	var m redisstream.DefaultMarshallerUnmarshaller
	p := r.client.Pipeline()
	for _, msg := range msgs {
		values, err := m.Marshal(stream, msg)
		if err != nil {
			return fmt.Errorf("message %s: %w", msg.UUID, err)
		}
		p.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: values})
	}
	cmds, err := p.Exec(ctx)
	if err != nil {
		for i, c := range cmds {
			if c.Err() != nil {
				return fmt.Errorf("message %s: %w: %w", msgs[i].UUID, app.ErrUnavailable, c.Err())
			}
		}
		return fmt.Errorf("%w: %w", app.ErrUnavailable, err)
	}
	return nil
}

// Ping checks that Redis answers.
func (r *Redis) Ping(ctx context.Context) error {
	if err := r.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("bus: redis: %w: %w", app.ErrUnavailable, err)
	}
	return nil
}

// Subscriber returns the subscriber of a handler for the router. Each
// Subscribe on it starts Config.Consumers consumers of the handler's group,
// each with a Redis client of its own, and merges what they receive: up to
// that many messages are in the handler at once.
func (r *Redis) Subscriber(handlerName string) (message.Subscriber, error) {
	if handlerName == "" {
		return nil, errors.New("bus: a handler name is required")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, errClosed
	}
	s := &redisSubscriber{bus: r, group: r.Group(handlerName)}
	r.subs[s] = struct{}{}
	return s, nil
}

// TrimAcknowledged deletes the entries of topic's stream that every
// consumer group has received and acknowledged, and returns how many went.
// Entries still pending anywhere, and entries no group has read yet, stay;
// a stream without any group is left alone. Run it now and then: nothing
// else shortens the streams.
func (r *Redis) TrimAcknowledged(ctx context.Context, topic string) (int64, error) {
	stream := r.Stream(topic)
	groups, err := r.client.XInfoGroups(ctx, stream).Result()
	if err != nil {
		if strings.Contains(err.Error(), "no such key") {
			return 0, nil
		}
		return 0, fmt.Errorf("bus: trim %s: %w: %w", topic, app.ErrUnavailable, err)
	}
	if len(groups) == 0 {
		return 0, nil
	}
	minID := ""
	for _, g := range groups {
		// Everything up to the last delivered entry was read; of that,
		// what is still pending starts at the lowest pending id.
		keep := g.LastDeliveredID
		if g.Pending > 0 {
			p, err := r.client.XPending(ctx, stream, g.Name).Result()
			if err != nil {
				return 0, fmt.Errorf("bus: trim %s: %w: %w", topic, app.ErrUnavailable, err)
			}
			if p.Count > 0 {
				keep = p.Lower
			}
		}
		if minID == "" || lessID(keep, minID) {
			minID = keep
		}
	}
	if minID == "" || minID == "0-0" {
		return 0, nil
	}
	// MINID deletes the entries with smaller ids: the last delivered entry
	// itself stays, which costs one entry and keeps the rule simple.
	n, err := r.client.XTrimMinID(ctx, stream, minID).Result()
	if err != nil {
		return 0, fmt.Errorf("bus: trim %s: %w: %w", topic, app.ErrUnavailable, err)
	}
	return n, nil
}

// lessID compares two stream ids "<ms>-<seq>".
func lessID(a, b string) bool {
	am, as := splitID(a)
	bm, bs := splitID(b)
	if am != bm {
		return am < bm
	}
	return as < bs
}

func splitID(id string) (uint64, uint64) {
	ms, seq, _ := strings.Cut(id, "-")
	m, _ := strconv.ParseUint(ms, 10, 64)
	s, _ := strconv.ParseUint(seq, 10, 64)
	return m, s
}

// Close closes every subscriber the bus gave out and the publisher.
func (r *Redis) Close() error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	subs := make([]*redisSubscriber, 0, len(r.subs))
	for s := range r.subs {
		subs = append(subs, s)
	}
	r.mu.Unlock()
	var errs []error
	for _, s := range subs {
		errs = append(errs, s.Close())
	}
	errs = append(errs, r.pub.Close()) // closes r.client
	return errors.Join(errs...)
}

// redisSubscriber is one handler's subscriber: N redisstream consumers in
// the handler's group, merged.
type redisSubscriber struct {
	bus   *Redis
	group string

	mu     sync.Mutex
	subs   []*redisstream.Subscriber
	closed bool
}

func (s *redisSubscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errClosed
	}
	cfg := s.bus.cfg
	stream := s.bus.Stream(topic)
	chans := make([]<-chan *message.Message, 0, cfg.Consumers)
	for i := range cfg.Consumers {
		// A consumer needs a connection for its blocking read, one for
		// claims and acknowledgements, and one for the group check.
		client, err := newClient(cfg.URL, 4)
		if err != nil {
			return nil, err
		}
		sub, err := redisstream.NewSubscriber(redisstream.SubscriberConfig{
			Client:                        client,
			Consumer:                      cfg.ConsumerName + "-" + strconv.Itoa(i),
			ConsumerGroup:                 s.group,
			NackResendSleep:               cfg.NackResendSleep,
			BlockTime:                     cfg.BlockTime,
			ClaimInterval:                 cfg.ClaimInterval,
			MaxIdleTime:                   cfg.MaxIdleTime,
			OldestId:                      "0", // a new group starts at the oldest entry kept
			DisableIndefiniteInitialBlock: true,
			ShouldStopOnReadErrors:        s.readError(client, stream),
		}, s.bus.wlog)
		if err != nil {
			_ = client.Close()
			return nil, fmt.Errorf("bus: subscribe %s: %w", topic, err)
		}
		s.subs = append(s.subs, sub)
		ch, err := sub.Subscribe(ctx, stream)
		if err != nil {
			return nil, fmt.Errorf("bus: subscribe %s as %s: %w: %w", topic, s.group, app.ErrUnavailable, err)
		}
		chans = append(chans, ch)
	}
	return merge(ctx, chans), nil
}

// readError decides what a consumer does after a failed read. A closed
// client means the subscriber is closing: stop. A missing group means Redis
// lost its data (flushed, restarted without persistence): the group is made
// again, or every consumer would fail forever, and the reads go on. Any
// other failure (Redis unreachable) is retried after a pause.
func (s *redisSubscriber) readError(client *redis.Client, stream string) func(error) bool {
	return func(err error) bool {
		if errors.Is(err, redis.ErrClosed) {
			return true
		}
		if strings.HasPrefix(err.Error(), "NOGROUP") {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			err := client.XGroupCreateMkStream(ctx, stream, s.group, "0").Err()
			if err == nil {
				s.bus.log.Warn("bus: the consumer group was gone from Redis and is made again",
					"stream", stream, "group", s.group)
			}
		}
		return false
	}
}

func (s *redisSubscriber) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	subs := s.subs
	s.mu.Unlock()

	var wg sync.WaitGroup
	errs := make([]error, len(subs))
	for i, sub := range subs {
		wg.Add(1)
		go func() { // each waits for its reader: close them together
			defer wg.Done()
			errs[i] = sub.Close()
		}()
	}
	wg.Wait()
	s.bus.mu.Lock()
	delete(s.bus.subs, s)
	s.bus.mu.Unlock()
	return errors.Join(errs...)
}
