-- +goose Up
-- WhatsApp names the sender of an inbound message by number ("from", digits
-- without "+"), while students' phones are kept as people wrote them. This
-- index finds the students whose phone, read as its digits only, ends with
-- given digits: the digits reversed, searched as a prefix. The application
-- then reads each candidate in NOTIFIER_PHONE_REGION to decide.
CREATE INDEX students_phone_digits_rev_idx
    ON students (reverse(regexp_replace(phone, '[^0-9]', '', 'g')) text_pattern_ops)
    WHERE phone <> '';

-- Business-scoped user ids (BSUID, Meta's "user_id") seen together with a
-- number, in status or inbound webhooks: a later message that carries the
-- BSUID alone can still be matched to its number.
CREATE TABLE whatsapp_users (
    user_id    text PRIMARY KEY CHECK (user_id <> ''),
    phone      text NOT NULL CHECK (phone ~ '^\+[0-9]+$'),
    updated_at timestamptz NOT NULL
);

-- +goose Down
DROP TABLE whatsapp_users;
DROP INDEX students_phone_digits_rev_idx;
