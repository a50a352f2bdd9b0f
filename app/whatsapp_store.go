package app

import (
	"context"

	"github.com/acme/notifier/domain"
)

// WhatsAppStore is what the WhatsApp webhooks need from the store beyond
// Store (whose UpdateMessage and UpdateStudent make the changes).
// PostgreSQL and SQLite implement it and pass adapters/storetest.RunWhatsApp.
type WhatsAppStore interface {
	// MessageIDByProviderID returns the id of the row WhatsApp knows as
	// providerMessageID (the wamid), or ErrNotFound.
	MessageIDByProviderID(ctx context.Context, providerMessageID string) (int64, error)
	// StudentsByPhoneSuffix lists the students whose phone, read as its
	// digits only, ends with digits: the candidates for a sender's number,
	// which the caller narrows with domain.NormalizePhone. Digits are at
	// least 6 long.
	StudentsByPhoneSuffix(ctx context.Context, digits string) ([]domain.Student, error)
	// LinkWhatsAppUser records that WhatsApp's business-scoped user id
	// (BSUID, "user_id") was seen with the phone number phoneE164 (with its
	// "+"), replacing an earlier link of that id.
	LinkWhatsAppUser(ctx context.Context, userID, phoneE164 string) error
	// PhoneByWhatsAppUser returns the phone number last linked to the
	// business-scoped user id, or ErrNotFound.
	PhoneByWhatsAppUser(ctx context.Context, userID string) (string, error)
}
