package app

import "context"

// Topics of the bus. With Redis each is a stream named
// "<NOTIFIER_STREAM_PREFIX>:<topic>".
const (
	TopicMoodleEvents     = "moodle-events"
	TopicScanItems        = "scan-items"
	TopicWhatsAppWebhooks = "whatsapp-webhooks"
)

// BusMessage is one unit of work on the bus.
type BusMessage struct {
	// ID identifies the message; a correlation id (the Moodle event id, the
	// scan id) goes in Metadata["correlation_id"].
	ID       string
	Payload  []byte
	Metadata map[string]string
}

// Bus publishes work for the handlers (Watermill on Redis Streams, or its
// in-process GoChannel). The bus carries work, not truth: whatever it
// carries can be rebuilt from the store.
type Bus interface {
	Publish(ctx context.Context, topic string, msgs ...BusMessage) error
}
