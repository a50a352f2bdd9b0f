package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// MaxIdempotencyKey is the longest Idempotency-Key accepted.
const MaxIdempotencyKey = 255

// IdempotencyKeyLifetime is how long an Idempotency-Key is kept: a repeat of
// a request within 7 days answers as the first time; after that the key is
// forgotten (Purge deletes it; the scheduler purges once an hour, so a key
// may outlive its 7 days by up to an hour) and a repeat runs the command
// again.
const IdempotencyKeyLifetime = 7 * 24 * time.Hour

// ValidIdempotencyKey reports whether key is 1 to 255 printable ASCII
// characters (no spaces).
func ValidIdempotencyKey(key string) bool {
	if key == "" || len(key) > MaxIdempotencyKey {
		return false
	}
	for i := 0; i < len(key); i++ {
		if key[i] <= ' ' || key[i] > '~' {
			return false
		}
	}
	return true
}

// Answer is what a command answered, as the HTTP edge sends it.
type Answer struct {
	Status int
	Body   json.RawMessage
	// Replayed is true when the answer is the stored one of an earlier
	// request with the same Idempotency-Key.
	Replayed bool
}

// Idempotency runs a command at most once per Idempotency-Key, as far as
// its answer goes: the first successful (2xx) answer is stored with the
// key and a hash of the request, and a repeat of the same request gets it
// back without running the command again. The same key with another
// request is ErrIdempotencyKeyReused. Failures are not stored: the commands
// are safe to repeat, so a repeat after a failure runs them again.
type Idempotency struct {
	store AdminStore
	now   func() time.Time
	log   *slog.Logger
}

// RequestHash is the hash that ties a key to its request: the route (e.g.
// "POST /api/v1/students") and the request's decoded body.
func RequestHash(route string, request any) (string, error) {
	body, err := json.Marshal(request)
	if err != nil {
		return "", fmt.Errorf("hash request: %w", err)
	}
	sum := sha256.New()
	sum.Write([]byte(route))
	sum.Write([]byte{0})
	sum.Write(body)
	return hex.EncodeToString(sum.Sum(nil)), nil
}

// Do answers from the record of key when there is one, and otherwise runs
// run and records its answer. An empty key runs run without a record.
func (i *Idempotency) Do(ctx context.Context, key, hash string, run func(context.Context) (Answer, error)) (Answer, error) {
	if key == "" {
		return run(ctx)
	}
	if !ValidIdempotencyKey(key) {
		return Answer{}, invalid("Idempotency-Key", "must be 1 to 255 printable ASCII characters without spaces")
	}
	rec, err := i.store.GetIdempotencyKey(ctx, key)
	switch {
	case err == nil:
		return replay(rec, hash)
	case !errors.Is(err, ErrNotFound):
		return Answer{}, fmt.Errorf("read Idempotency-Key: %w", err)
	}
	ans, err := run(ctx)
	if err != nil || ans.Status < 200 || ans.Status > 299 {
		return ans, err
	}
	stored, err := i.store.SaveIdempotencyKey(ctx, IdempotencyRecord{
		Key: key, RequestHash: hash, Status: ans.Status, Body: ans.Body, CreatedAt: i.now(),
	})
	if err != nil {
		// The command is done; without its record a repeat runs it again,
		// which it is safe to do.
		i.log.WarnContext(ctx, "record Idempotency-Key", "err", err)
		return ans, nil
	}
	if stored.RequestHash == hash && (stored.Status != ans.Status || string(stored.Body) != string(ans.Body)) {
		// A concurrent request with the same key finished first: every
		// repeat answers as it did.
		return replay(stored, hash)
	}
	return ans, nil
}

func replay(rec IdempotencyRecord, hash string) (Answer, error) {
	if rec.RequestHash != hash {
		return Answer{}, &InvalidError{Field: "Idempotency-Key", Msg: ErrIdempotencyKeyReused.Error()}
	}
	return Answer{Status: rec.Status, Body: rec.Body, Replayed: true}, nil
}

// Purge deletes the records of the keys saved more than
// IdempotencyKeyLifetime ago, by the application's clock, and returns how
// many it deleted.
func (i *Idempotency) Purge(ctx context.Context) (int, error) {
	n, err := i.store.PurgeIdempotencyKeys(ctx, i.now().Add(-IdempotencyKeyLifetime))
	if err != nil {
		return n, fmt.Errorf("purge Idempotency-Keys: %w", err)
	}
	return n, nil
}
