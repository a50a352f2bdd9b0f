package sqlite

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/acme/notifier/app"
	"github.com/acme/notifier/domain"
)

var _ app.WhatsAppStore = (*Store)(nil)

// phoneDigits is a student's phone without the separators people write in
// numbers. SQLite has no regexp_replace; a phone with other characters
// (letters, say) after its number does not match, and the application
// would not read it as a number in most cases anyway.
const phoneDigits = `replace(replace(replace(replace(replace(replace(replace(replace(phone,
	' ', ''), '-', ''), '+', ''), '(', ''), ')', ''), '.', ''), '/', ''), char(9), '')`

// MessageIDByProviderID returns the id of the row with this wamid, or
// app.ErrNotFound.
func (s *Store) MessageIDByProviderID(ctx context.Context, providerMessageID string) (int64, error) {
	var id int64
	err := s.read.QueryRowContext(ctx, `SELECT id FROM message_logs WHERE provider_message_id = ?`,
		providerMessageID).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("sqlite: message by provider id %q: %w", providerMessageID, classify(err))
	}
	return id, nil
}

// StudentsByPhoneSuffix lists the students whose phone's digits end with
// digits, by id. It scans the students (see migrations/sqlite/00005).
func (s *Store) StudentsByPhoneSuffix(ctx context.Context, digits string) ([]domain.Student, error) {
	if len(digits) < 6 || strings.Trim(digits, "0123456789") != "" {
		return nil, fmt.Errorf("sqlite: students by phone suffix: want at least 6 digits, got %d characters", len(digits))
	}
	rows, err := s.read.QueryContext(ctx, `SELECT `+studentColumns+` FROM students
		WHERE phone <> '' AND substr(`+phoneDigits+`, -?1) = ?2
		ORDER BY id`, len(digits), digits)
	if err != nil {
		return nil, fmt.Errorf("sqlite: students by phone suffix: %w", classify(err))
	}
	defer rows.Close()
	var out []domain.Student
	for rows.Next() {
		st, err := scanStudent(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: students by phone suffix: %w", err)
		}
		out = append(out, st)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: students by phone suffix: %w", classify(err))
	}
	return out, nil
}

// LinkWhatsAppUser records the number a business-scoped user id came with.
func (s *Store) LinkWhatsAppUser(ctx context.Context, userID, phoneE164 string) error {
	if userID == "" {
		return errors.New("sqlite: link WhatsApp user: empty user id")
	}
	_, err := s.write.ExecContext(ctx, `INSERT INTO whatsapp_users (user_id, phone, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (user_id) DO UPDATE SET phone = excluded.phone, updated_at = excluded.updated_at
		WHERE whatsapp_users.phone <> excluded.phone`, userID, phoneE164, micros(s.now()))
	if err != nil {
		return fmt.Errorf("sqlite: link WhatsApp user to %s: %w", domain.MaskPhone(phoneE164), classify(err))
	}
	return nil
}

// PhoneByWhatsAppUser returns the number linked to a business-scoped user
// id, or app.ErrNotFound.
func (s *Store) PhoneByWhatsAppUser(ctx context.Context, userID string) (string, error) {
	var phone string
	err := s.read.QueryRowContext(ctx, `SELECT phone FROM whatsapp_users WHERE user_id = ?`, userID).Scan(&phone)
	if err != nil {
		return "", fmt.Errorf("sqlite: phone of WhatsApp user: %w", classify(err))
	}
	return phone, nil
}
