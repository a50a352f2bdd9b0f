-- +goose Up
-- Every webhook delivery is stored here before it is acknowledged: the id
-- makes a re-delivery a duplicate, and recovery re-publishes the rows still
-- in state 'received'.

CREATE TABLE inbound_events (
    -- The sender's event id (Moodle's webhook-id).
    id           text PRIMARY KEY CHECK (id <> ''),
    source       text NOT NULL CHECK (source <> ''),
    name         text NOT NULL DEFAULT '',
    -- bytea, not jsonb or json: the body is kept byte for byte as it was
    -- signed (jsonb reorders keys and drops spaces; json refuses bytes such as
    -- invalid UTF-8 that a signature still covers).
    payload      bytea NOT NULL,
    received_at  timestamptz NOT NULL,
    state        text NOT NULL DEFAULT 'received'
        CHECK (state IN ('received', 'processed', 'ignored', 'failed')),
    attempts     integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error   text,
    processed_at timestamptz
);

-- Recovery lists the events still waiting, oldest first: a small set, as
-- every event leaves it once handled.
CREATE INDEX inbound_events_unprocessed_idx ON inbound_events (received_at, id)
    WHERE state = 'received';

-- +goose Down
DROP TABLE inbound_events;
