package whatsapp

import (
	"context"

	"github.com/acme/notifier/app"
	"github.com/acme/notifier/domain"
)

// DryRun records the request it would send and sends nothing: the row
// becomes SENT with dry_run true (CONTRACT section 5).
type DryRun struct{}

// Send implements app.Sender.
func (DryRun) Send(_ context.Context, m domain.MessageLog) app.SendResult {
	return app.SendResult{Outcome: app.OutcomeSent, DryRun: true, Request: encode(NewMessageRequest(m))}
}
