package whatsapp

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisLimiter is the Limiter shared by every replica: the same virtual
// schedule as MemoryLimiter (GCRA), kept in Redis and advanced by one Lua
// script per send, so replicas together stay within the rate. Time is
// Redis's own (TIME), so the replicas' clocks do not matter.
//
// Keys, under the configured prefix (NOTIFIER_STREAM_PREFIX):
//   - <prefix>:whatsapp:{ratelimit}:next      the next free slot, µs since the epoch
//   - <prefix>:whatsapp:{ratelimit}:pair:<h>  present while recipient h (a hash, never
//     the number) is within its spacing
//
// Both carry the {ratelimit} hash tag so that one script may touch both on a
// Redis Cluster; both expire by themselves.
type RedisLimiter struct {
	client   redis.Scripter
	prefix   string
	interval time.Duration
	spacing  time.Duration
	sleep    func(ctx context.Context, d time.Duration) error
}

var _ Limiter = (*RedisLimiter)(nil)

// reserveScript takes the next slot unless the recipient is within its
// spacing. It answers {1, µs until the slot} when it took one, and
// {0, µs until the recipient is free} when it did not.
var reserveScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local pair = redis.call('PTTL', KEYS[2])
if pair > 0 then
  return {0, pair * 1000}
end
local interval = tonumber(ARGV[1])
local spacing = tonumber(ARGV[2])
local slot = tonumber(redis.call('GET', KEYS[1]) or '0')
if slot < now then
  slot = now
end
local wait = slot - now
redis.call('SET', KEYS[1], string.format('%.0f', slot + interval),
  'PX', math.ceil((wait + interval) / 1000) + 1000)
redis.call('SET', KEYS[2], '1', 'PX', math.ceil((wait + spacing) / 1000))
return {1, wait}
`)

// NewRedisLimiter builds a limiter on a Redis client the caller owns.
func NewRedisLimiter(client redis.Scripter, prefix string, c LimiterConfig) (*RedisLimiter, error) {
	interval, err := c.interval()
	if err != nil {
		return nil, err
	}
	if client == nil {
		return nil, errors.New("whatsapp: a Redis client is required")
	}
	if prefix == "" {
		prefix = "notifier"
	}
	return &RedisLimiter{client: client, prefix: prefix, interval: interval, spacing: c.spacing(), sleep: sleepCtx}, nil
}

// Wait implements Limiter.
func (l *RedisLimiter) Wait(ctx context.Context, recipient string) error {
	keys := []string{l.prefix + ":whatsapp:{ratelimit}:next", l.prefix + ":whatsapp:{ratelimit}:pair:" + recipientKey(recipient)}
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		res, err := reserveScript.Run(ctx, l.client, keys, l.interval.Microseconds(), l.spacing.Microseconds()).Int64Slice()
		if err != nil {
			return fmt.Errorf("whatsapp: rate limiter: %w", err)
		}
		if len(res) != 2 {
			return fmt.Errorf("whatsapp: rate limiter: unexpected answer %v", res)
		}
		wait := time.Duration(res[1]) * time.Microsecond
		if res[0] == 0 {
			if err := l.sleep(ctx, wait); err != nil {
				return err
			}
			continue
		}
		return l.sleep(ctx, wait)
	}
}

// recipientKey names a recipient in Redis without its number.
func recipientKey(recipient string) string {
	sum := sha256.Sum256([]byte(recipient))
	return hex.EncodeToString(sum[:12])
}
