-- +goose Up
-- As migrations/postgres/00006_admin.sql; moodle_course_ids is a JSON array.

CREATE TABLE idempotency_keys (
    idempotency_key TEXT PRIMARY KEY CHECK (length(idempotency_key) BETWEEN 1 AND 255),
    request_hash TEXT NOT NULL,
    status       INTEGER NOT NULL CHECK (status BETWEEN 200 AND 299),
    body         TEXT NOT NULL CHECK (json_valid(body)),
    created_at   INTEGER NOT NULL
) STRICT;

CREATE INDEX idempotency_keys_created_at_idx ON idempotency_keys (created_at);

CREATE TABLE syncs (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    moodle_course_ids TEXT NOT NULL DEFAULT '[]' CHECK (json_type(moodle_course_ids) = 'array'),
    status            TEXT NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'done', 'failed')),
    courses           INTEGER NOT NULL DEFAULT 0 CHECK (courses >= 0),
    added             INTEGER NOT NULL DEFAULT 0 CHECK (added >= 0),
    updated           INTEGER NOT NULL DEFAULT 0 CHECK (updated >= 0),
    skipped           INTEGER NOT NULL DEFAULT 0 CHECK (skipped >= 0),
    failed            INTEGER NOT NULL DEFAULT 0 CHECK (failed >= 0),
    error             TEXT,
    started_at        INTEGER NOT NULL,
    heartbeat_at      INTEGER NOT NULL,
    finished_at       INTEGER
) STRICT;

CREATE INDEX syncs_running_idx ON syncs (heartbeat_at) WHERE status = 'running';

CREATE INDEX enrollments_course_id_id_idx ON enrollments (course_id, id);

-- +goose Down
DROP INDEX enrollments_course_id_id_idx;
DROP TABLE syncs;
DROP TABLE idempotency_keys;
