-- +goose Up
-- A scan is one pass of the rules over the active enrollments for a date.
-- The partial unique index lets one scheduled scan exist per date, whatever
-- the number of replicas whose schedulers reach that date.
CREATE TABLE scans (
    id          bigserial PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('scheduled', 'manual')),
    scan_date   date NOT NULL,
    status      text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'done', 'failed')),
    -- NULL until the items are recorded; counts are final once done.
    dispatched  integer,
    evaluated   integer NOT NULL DEFAULT 0,
    messages    integer NOT NULL DEFAULT 0,
    failed      integer NOT NULL DEFAULT 0,
    started_at  timestamptz NOT NULL,
    finished_at timestamptz
);

CREATE UNIQUE INDEX scans_scheduled_date_key ON scans (scan_date) WHERE kind = 'scheduled';
CREATE INDEX scans_running_idx ON scans (id) WHERE status = 'running';

-- One item per enrollment a scan covers: the handlers finish items, so the
-- counts, completion and recovery all read from here.
CREATE TABLE scan_items (
    scan_id       bigint NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
    enrollment_id bigint NOT NULL,
    state         text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'failed')),
    messages      integer NOT NULL DEFAULT 0,
    PRIMARY KEY (scan_id, enrollment_id)
);

CREATE INDEX scan_items_pending_idx ON scan_items (scan_id, enrollment_id) WHERE state = 'pending';

-- +goose Down
DROP TABLE scan_items;
DROP TABLE scans;
