package main

import (
	"context"
	"log/slog"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/acme/notifier/adapters/bus"
	"github.com/acme/notifier/app"
)

// eventBus is what the service needs of a bus: publishing for the use
// cases, a subscriber per handler for the router, a readiness check.
type eventBus interface {
	app.Bus
	Subscriber(handlerName string) (message.Subscriber, error)
	Ping(ctx context.Context) error
	Close() error
}

var (
	_ eventBus = (*bus.Redis)(nil)
	_ eventBus = (*bus.InProcess)(nil)
)

// openBus opens Redis Streams when REDIS_URL is set (every stream and group
// under NOTIFIER_STREAM_PREFIX), the in-process bus otherwise. The string
// says which, for the banner.
func openBus(ctx context.Context, cfg Config, log *slog.Logger) (eventBus, string, error) {
	if cfg.RedisURL != "" {
		b, err := bus.NewRedis(ctx, bus.Config{URL: cfg.RedisURL, Prefix: cfg.StreamPrefix}, log)
		if err != nil {
			return nil, "", err
		}
		return b, "redis streams (prefix " + cfg.StreamPrefix + ")", nil
	}
	return bus.NewInProcess(log), "in-process", nil
}
