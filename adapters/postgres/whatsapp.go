package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/acme/notifier/app"
	"github.com/acme/notifier/domain"
)

var _ app.WhatsAppStore = (*Store)(nil)

// phoneDigitsReversed is the expression students_phone_digits_rev_idx
// indexes (migrations/postgres/00005_whatsapp.sql); queries must repeat it
// exactly for the index to serve them.
const phoneDigitsReversed = `reverse(regexp_replace(phone, '[^0-9]', '', 'g'))`

// MessageIDByProviderID returns the id of the row with this wamid, or
// app.ErrNotFound.
func (s *Store) MessageIDByProviderID(ctx context.Context, providerMessageID string) (int64, error) {
	var id int64
	err := s.pool.QueryRow(ctx, `SELECT id FROM message_logs WHERE provider_message_id = $1`, providerMessageID).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("postgres: message by provider id %q: %w", providerMessageID, classify(err))
	}
	return id, nil
}

// StudentsByPhoneSuffix lists the students whose phone's digits end with
// digits, by id. The reversed digits are searched as a range with the
// text_pattern_ops operators, which a generic plan of a prepared statement
// can still run on the index (LIKE 'x%' with a parameter cannot).
func (s *Store) StudentsByPhoneSuffix(ctx context.Context, digits string) ([]domain.Student, error) {
	if len(digits) < 6 || strings.Trim(digits, "0123456789") != "" {
		return nil, fmt.Errorf("postgres: students by phone suffix: want at least 6 digits, got %d characters", len(digits))
	}
	from := reverse(digits)
	to := from[:len(from)-1] + string(from[len(from)-1]+1) // the first string past every "from…"
	rows, err := s.pool.Query(ctx, `SELECT `+studentColumns+` FROM students
		WHERE phone <> '' AND `+phoneDigitsReversed+` ~>=~ $1 AND `+phoneDigitsReversed+` ~<~ $2
		ORDER BY id`, from, to)
	if err != nil {
		return nil, fmt.Errorf("postgres: students by phone suffix: %w", classify(err))
	}
	defer rows.Close()
	var out []domain.Student
	for rows.Next() {
		st, err := scanStudent(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: students by phone suffix: %w", err)
		}
		out = append(out, st)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: students by phone suffix: %w", classify(err))
	}
	return out, nil
}

// LinkWhatsAppUser records the number a business-scoped user id came with.
func (s *Store) LinkWhatsAppUser(ctx context.Context, userID, phoneE164 string) error {
	if userID == "" {
		return errors.New("postgres: link WhatsApp user: empty user id")
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO whatsapp_users (user_id, phone, updated_at) VALUES ($1, $2, $3)
		ON CONFLICT (user_id) DO UPDATE SET phone = excluded.phone, updated_at = excluded.updated_at
		WHERE whatsapp_users.phone <> excluded.phone`, userID, phoneE164, dbTime(s.now()))
	if err != nil {
		return fmt.Errorf("postgres: link WhatsApp user to %s: %w", domain.MaskPhone(phoneE164), classify(err))
	}
	return nil
}

// PhoneByWhatsAppUser returns the number linked to a business-scoped user
// id, or app.ErrNotFound.
func (s *Store) PhoneByWhatsAppUser(ctx context.Context, userID string) (string, error) {
	var phone string
	err := s.pool.QueryRow(ctx, `SELECT phone FROM whatsapp_users WHERE user_id = $1`, userID).Scan(&phone)
	if err != nil {
		return "", fmt.Errorf("postgres: phone of WhatsApp user: %w", classify(err))
	}
	return phone, nil
}

func reverse(s string) string {
	b := []byte(s)
	for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
		b[i], b[j] = b[j], b[i]
	}
	return string(b)
}
