package messaging

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/acme/notifier/app"
	"github.com/acme/notifier/ports/moodleevent"
)

// Handler names: with Redis each is a consumer group, and each is recorded
// with its dead letters. Keep them stable.
const (
	HandlerMoodleEvents     = "moodle-events"
	HandlerScanItems        = "scan-items"
	HandlerWhatsAppWebhooks = "whatsapp-webhooks"
)

// Handlers translate bus messages into the use cases.
type Handlers struct {
	MoodleEvents *app.MoodleEventProcessor
	Scans        *app.ScanHandler
	// WhatsApp processes a stored WhatsApp webhook body; nil leaves the
	// topic without a handler.
	WhatsApp func(ctx context.Context, payload []byte) error
	decoder  *moodleevent.Decoder
}

// Register adds every handler to the router.
func (h Handlers) Register(r *Router) error {
	h.decoder = moodleevent.NewDecoder()
	errs := []error{
		r.Handle(HandlerMoodleEvents, app.TopicMoodleEvents, h.moodleEvent),
		r.Handle(HandlerScanItems, app.TopicScanItems, h.scanItem),
	}
	if h.WhatsApp != nil {
		errs = append(errs, r.Handle(HandlerWhatsAppWebhooks, app.TopicWhatsAppWebhooks, h.whatsApp))
	}
	return errors.Join(errs...)
}

func (h Handlers) moodleEvent(ctx context.Context, msg app.BusMessage) error {
	ev, err := h.decoder.Decode(msg.Payload)
	if err != nil {
		// The webhook validated it before storing: a body that fails now
		// will fail every time.
		return Permanent(fmt.Errorf("decode Moodle event %s: %w", msg.ID, err))
	}
	if !app.KnownEvent(ev.Name) {
		return nil
	}
	return h.MoodleEvents.Process(ctx, ev)
}

func (h Handlers) whatsApp(ctx context.Context, msg app.BusMessage) error {
	err := h.WhatsApp(ctx, msg.Payload)
	if errors.Is(err, app.ErrBadWebhook) {
		return Permanent(err) // the same body fails every time
	}
	return err
}

func (h Handlers) scanItem(ctx context.Context, msg app.BusMessage) error {
	var item app.ScanItem
	if err := json.Unmarshal(msg.Payload, &item); err != nil || item.ScanID <= 0 || item.EnrollmentID <= 0 {
		return Permanent(fmt.Errorf("decode scan item %s: %v", msg.ID, err))
	}
	return h.Scans.Evaluate(ctx, item)
}

// ScanItemDeadLettered is the dead-letter hook of scan items: the item
// counts as failed, so the scan can finish.
func ScanItemDeadLettered(scans *app.ScanHandler) app.DeadLetterHook {
	return func(ctx context.Context, d app.DeadLetter) error {
		var item app.ScanItem
		if err := json.Unmarshal(d.Payload, &item); err != nil {
			return fmt.Errorf("decode dead scan item: %w", err)
		}
		return scans.Failed(ctx, item)
	}
}
