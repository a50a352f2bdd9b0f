package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strconv"
)

// MaxDeadLetterPage is the largest page DeadLetters.List returns.
const MaxDeadLetterPage = 500

// ReplayedFromKey is the metadata key a replayed message carries: the id
// of the dead letter it came from.
const ReplayedFromKey = "replayed_from_dead_letter"

// ReplayResult is what a replay did: the dead letters it put back on their
// topic and removed, and those it could not, with why. A dead letter that
// failed stays in the store.
type ReplayResult struct {
	Moved  []int64
	Failed []ReplayFailure
}

// ReplayFailure is one dead letter a replay could not move.
type ReplayFailure struct {
	ID     int64
	Reason string
}

// DeadLetterHook runs when a message of its topic is dead-lettered.
type DeadLetterHook func(ctx context.Context, d DeadLetter) error

// DeadLettersDeps are what the dead-letter use cases need.
type DeadLettersDeps struct {
	Store DeadLetterStore // required
	Bus   Bus             // required: replays publish on it
	// Inbound, when set, is told when an inbound event's message is
	// dead-lettered (MarkInboundFailed), so that recovery stops
	// publishing it again.
	Inbound InboundStore
	// Hooks run, by topic, when a message of that topic is dead-lettered
	// (a scan marks its item failed).
	Hooks  map[string]DeadLetterHook
	Logger *slog.Logger
}

// DeadLetters are the use cases of the dead-letter store: list, replay,
// delete, and what happens when a message is dead-lettered.
type DeadLetters struct {
	store   DeadLetterStore
	bus     Bus
	inbound InboundStore
	hooks   map[string]DeadLetterHook
	log     *slog.Logger
}

// NewDeadLetters builds the use cases.
func NewDeadLetters(d DeadLettersDeps) (*DeadLetters, error) {
	if d.Store == nil || d.Bus == nil {
		return nil, errors.New("app: dead letters: store and bus are required")
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	return &DeadLetters{store: d.Store, bus: d.Bus, inbound: d.Inbound, hooks: maps.Clone(d.Hooks), log: d.Logger}, nil
}

// List returns dead letters with an id above afterID, oldest first: at
// most limit, 50 when limit is not positive, never more than
// MaxDeadLetterPage.
func (s *DeadLetters) List(ctx context.Context, afterID int64, limit int) ([]DeadLetter, error) {
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, MaxDeadLetterPage)
	return s.store.ListDeadLetters(ctx, afterID, limit)
}

// Get returns one dead letter, or ErrNotFound.
func (s *DeadLetters) Get(ctx context.Context, id int64) (DeadLetter, error) {
	return s.store.GetDeadLetter(ctx, id)
}

// Delete removes a dead letter without replaying it; ErrNotFound when
// there is none.
func (s *DeadLetters) Delete(ctx context.Context, id int64) error {
	return s.store.DeleteDeadLetter(ctx, id)
}

// Replay puts each dead letter of ids back on its original topic, with its
// payload, metadata (so its correlation id) and message id, and removes it
// once the publish succeeded. A dead letter that does not exist, or whose
// publish fails, is reported in Failed and, when it exists, stays. The
// error is only for a replay cut short (ctx ended); the result says what
// was done until then.
func (s *DeadLetters) Replay(ctx context.Context, ids []int64) (ReplayResult, error) {
	res := ReplayResult{Moved: []int64{}, Failed: []ReplayFailure{}}
	seen := make(map[int64]bool, len(ids))
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if reason := s.replayOne(ctx, id); reason != "" {
			res.Failed = append(res.Failed, ReplayFailure{ID: id, Reason: reason})
			continue
		}
		res.Moved = append(res.Moved, id)
	}
	if len(res.Moved) > 0 || len(res.Failed) > 0 {
		s.log.InfoContext(ctx, "dead letters replayed", "moved", len(res.Moved), "failed", len(res.Failed))
	}
	return res, nil
}

// ReplayAll replays the dead letters that exist when it starts, and only
// those: a replayed message that fails again while the replay runs becomes
// a new dead letter, which waits for the next replay. So it ends, whatever
// the handlers do.
func (s *DeadLetters) ReplayAll(ctx context.Context) (ReplayResult, error) {
	var ids []int64
	after := int64(0)
	for {
		page, err := s.store.ListDeadLetters(ctx, after, MaxDeadLetterPage)
		if err != nil {
			return ReplayResult{Moved: []int64{}, Failed: []ReplayFailure{}}, fmt.Errorf("replay all: list: %w", err)
		}
		for _, d := range page {
			ids = append(ids, d.ID)
		}
		if len(page) < MaxDeadLetterPage {
			break
		}
		after = page[len(page)-1].ID
	}
	return s.Replay(ctx, ids)
}

// replayOne moves one dead letter and returns why it could not, or "".
func (s *DeadLetters) replayOne(ctx context.Context, id int64) string {
	d, err := s.store.GetDeadLetter(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return "not found"
	}
	if err != nil {
		s.log.WarnContext(ctx, "replay: reading a dead letter failed", "dead_letter_id", id, "err", err)
		return "read: " + err.Error()
	}
	md := maps.Clone(d.Metadata)
	if md == nil {
		md = map[string]string{}
	}
	md[ReplayedFromKey] = strconv.FormatInt(d.ID, 10)
	msg := BusMessage{ID: d.MessageID, Payload: d.Payload, Metadata: md}
	if err := s.bus.Publish(ctx, d.Topic, msg); err != nil {
		s.log.WarnContext(ctx, "replay: publishing a dead letter failed; it stays", "dead_letter_id", id,
			"topic", d.Topic, "err", err)
		return "publish: " + err.Error()
	}
	// Published: from here on it is on the bus. A row that another replay
	// removed meanwhile counts as moved; a row that cannot be removed now
	// is reported, and replaying it again later is harmless (handlers are
	// idempotent).
	if err := s.store.DeleteDeadLetter(ctx, id); err != nil && !errors.Is(err, ErrNotFound) {
		s.log.WarnContext(ctx, "replay: dead letter published but not removed", "dead_letter_id", id, "err", err)
		return "published, but not removed: " + err.Error()
	}
	return ""
}

// OnDeadLetter is what the message router runs after it stored a dead
// letter (ports/messaging RouterConfig.OnDeadLetter). A message of an
// inbound event (TopicMoodleEvents, TopicWhatsAppWebhooks) marks the event,
// found by the metadata's correlation_id, failed, so that recovery does not
// publish it again; then the topic's hook runs. Failures are logged: the
// dead letter itself is stored.
func (s *DeadLetters) OnDeadLetter(ctx context.Context, d DeadLetter) {
	if s.inbound != nil && (d.Topic == TopicMoodleEvents || d.Topic == TopicWhatsAppWebhooks) {
		if id := d.Metadata["correlation_id"]; id != "" {
			err := s.inbound.MarkInboundFailed(ctx, id, d.Reason)
			switch {
			case errors.Is(err, ErrNotFound):
				s.log.WarnContext(ctx, "dead letter of an unknown inbound event", "dead_letter_id", d.ID, "event_id", id)
			case err != nil:
				s.log.ErrorContext(ctx, "marking a dead-lettered inbound event failed", "dead_letter_id", d.ID,
					"event_id", id, "err", err)
			}
		}
	}
	if hook := s.hooks[d.Topic]; hook != nil {
		if err := hook(ctx, d); err != nil {
			s.log.ErrorContext(ctx, "dead-letter hook failed", "dead_letter_id", d.ID, "topic", d.Topic, "err", err)
		}
	}
}
