-- +goose Up
-- As migrations/postgres/00002_inbound_events.sql. The payload is a BLOB,
-- kept byte for byte as it was signed; times are INTEGER microseconds.
-- No WITHOUT ROWID: payloads reach 1 MiB, and such rows belong in a rowid
-- table.

CREATE TABLE inbound_events (
    -- NOT NULL: SQLite otherwise lets a TEXT primary key be NULL.
    id           TEXT NOT NULL PRIMARY KEY CHECK (id <> ''),
    source       TEXT NOT NULL CHECK (source <> ''),
    name         TEXT NOT NULL DEFAULT '',
    payload      BLOB NOT NULL,
    received_at  INTEGER NOT NULL,
    state        TEXT NOT NULL DEFAULT 'received'
        CHECK (state IN ('received', 'processed', 'ignored', 'failed')),
    attempts     INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error   TEXT,
    processed_at INTEGER
) STRICT;

CREATE INDEX inbound_events_unprocessed_idx ON inbound_events (received_at, id)
    WHERE state = 'received';

-- +goose Down
DROP TABLE inbound_events;
