-- +goose Up
-- The admin API's own tables: the answers given to requests that carried an
-- Idempotency-Key, and the imports from Moodle (syncs).

CREATE TABLE idempotency_keys (
    idempotency_key text PRIMARY KEY CHECK (length(idempotency_key) BETWEEN 1 AND 255),
    -- Hex SHA-256 of the route and the request's body: the same key with
    -- another request is refused.
    request_hash text NOT NULL,
    status       integer NOT NULL CHECK (status BETWEEN 200 AND 299),
    -- json, not jsonb: a repeat gets the first answer byte for byte.
    body         json NOT NULL,
    created_at   timestamptz NOT NULL
);

-- Old keys can be purged by age.
CREATE INDEX idempotency_keys_created_at_idx ON idempotency_keys (created_at);

CREATE TABLE syncs (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The courses asked for; empty: every visible course that has not ended.
    moodle_course_ids bigint[] NOT NULL DEFAULT '{}',
    status            text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'done', 'failed')),
    courses           integer NOT NULL DEFAULT 0 CHECK (courses >= 0),
    added             integer NOT NULL DEFAULT 0 CHECK (added >= 0),
    updated           integer NOT NULL DEFAULT 0 CHECK (updated >= 0),
    skipped           integer NOT NULL DEFAULT 0 CHECK (skipped >= 0),
    failed            integer NOT NULL DEFAULT 0 CHECK (failed >= 0),
    error             text,
    started_at        timestamptz NOT NULL,
    -- Moves while the sync runs; a running sync whose heartbeat stopped was
    -- abandoned by a process that died.
    heartbeat_at      timestamptz NOT NULL,
    finished_at       timestamptz
);

CREATE INDEX syncs_running_idx ON syncs (heartbeat_at) WHERE status = 'running';

-- Admin listing of enrollments by course, newest first, in keyset pages.
-- (Pages by student use enrollments_student_course_key: a student has few.)
CREATE INDEX enrollments_course_id_id_idx ON enrollments (course_id, id);

-- +goose Down
DROP INDEX enrollments_course_id_id_idx;
DROP TABLE syncs;
DROP TABLE idempotency_keys;
