-- +goose Up
-- See migrations/postgres/00005_whatsapp.sql. SQLite has no reverse() to
-- index a phone's trailing digits: the embedded store scans the students'
-- phones, which for the sites it serves is a few thousand rows.

-- Business-scoped user ids (BSUID, Meta's "user_id") seen together with a
-- number, in status or inbound webhooks: a later message that carries the
-- BSUID alone can still be matched to its number.
CREATE TABLE whatsapp_users (
    user_id    TEXT PRIMARY KEY CHECK (user_id <> ''),
    phone      TEXT NOT NULL CHECK (phone GLOB '+[0-9]*' AND substr(phone, 2) NOT GLOB '*[^0-9]*'),
    updated_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

-- +goose Down
DROP TABLE whatsapp_users;
