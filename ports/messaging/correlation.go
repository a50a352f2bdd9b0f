package messaging

import (
	"context"
	"log/slog"
)

// CorrelationIDKey is the metadata key of a message's correlation id: the
// Moodle event id, "scan:<id>" for a scan's items.
const CorrelationIDKey = "correlation_id"

type correlationKey struct{}

// WithCorrelationID returns ctx carrying id.
func WithCorrelationID(ctx context.Context, id string) context.Context {
	if id == "" {
		return ctx
	}
	return context.WithValue(ctx, correlationKey{}, id)
}

// CorrelationID returns the correlation id of the message being handled,
// or "" outside a handler or for a message without one.
func CorrelationID(ctx context.Context) string {
	id, _ := ctx.Value(correlationKey{}).(string)
	return id
}

// LogHandler wraps h so that every record logged with a handler's context
// carries its correlation_id: wrap the service's logger once, and whatever
// the use cases log while handling a message can be followed by that id.
func LogHandler(h slog.Handler) slog.Handler {
	if _, ok := h.(logHandler); ok {
		return h
	}
	return logHandler{h}
}

type logHandler struct{ slog.Handler }

func (h logHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := CorrelationID(ctx); id != "" {
		r = r.Clone()
		r.AddAttrs(slog.String(CorrelationIDKey, id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return logHandler{h.Handler.WithAttrs(attrs)}
}

func (h logHandler) WithGroup(name string) slog.Handler {
	return logHandler{h.Handler.WithGroup(name)}
}
