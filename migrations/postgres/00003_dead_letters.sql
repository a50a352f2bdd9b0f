-- +goose Up
-- Bus messages whose handler gave up after its attempts, kept here rather
-- than on the bus so that they survive a restart with either bus (Redis
-- Streams or in-process). A replay publishes a row back to its topic and
-- deletes it. The same message failing again in the same handler updates
-- its row.
CREATE TABLE dead_letters (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id      text NOT NULL CHECK (message_id <> ''),
    topic           text NOT NULL CHECK (topic <> ''),
    handler         text NOT NULL,
    payload         bytea NOT NULL,
    -- The message's metadata, string values only (correlation_id, ...).
    metadata        jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(metadata) = 'object'),
    reason          text NOT NULL,
    attempts        integer NOT NULL CHECK (attempts >= 0),
    first_failed_at timestamptz NOT NULL,
    last_failed_at  timestamptz NOT NULL,
    CONSTRAINT dead_letters_message_handler_key UNIQUE (message_id, handler)
);

-- +goose Down
DROP TABLE dead_letters;
