-- +goose Up
-- As migrations/postgres/00004_scans.sql; scan_date is TEXT YYYY-MM-DD.
CREATE TABLE scans (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    kind        TEXT NOT NULL CHECK (kind IN ('scheduled', 'manual')),
    scan_date   TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'done', 'failed')),
    dispatched  INTEGER,
    evaluated   INTEGER NOT NULL DEFAULT 0,
    messages    INTEGER NOT NULL DEFAULT 0,
    failed      INTEGER NOT NULL DEFAULT 0,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER
) STRICT;

CREATE UNIQUE INDEX scans_scheduled_date_key ON scans (scan_date) WHERE kind = 'scheduled';
CREATE INDEX scans_running_idx ON scans (id) WHERE status = 'running';

CREATE TABLE scan_items (
    scan_id       INTEGER NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
    enrollment_id INTEGER NOT NULL,
    state         TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'failed')),
    messages      INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (scan_id, enrollment_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX scan_items_pending_idx ON scan_items (scan_id, enrollment_id) WHERE state = 'pending';

-- +goose Down
DROP TABLE scan_items;
DROP TABLE scans;
