-- +goose Up
-- As migrations/postgres/00003_dead_letters.sql; metadata is a JSON object
-- in TEXT, times are INTEGER microseconds since the Unix epoch.
CREATE TABLE dead_letters (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id      TEXT NOT NULL CHECK (message_id <> ''),
    topic           TEXT NOT NULL CHECK (topic <> ''),
    handler         TEXT NOT NULL,
    payload         BLOB NOT NULL,
    metadata        TEXT NOT NULL DEFAULT '{}' CHECK (json_type(metadata) = 'object'),
    reason          TEXT NOT NULL,
    attempts        INTEGER NOT NULL CHECK (attempts >= 0),
    first_failed_at INTEGER NOT NULL,
    last_failed_at  INTEGER NOT NULL,
    UNIQUE (message_id, handler)
) STRICT;

-- +goose Down
DROP TABLE dead_letters;
