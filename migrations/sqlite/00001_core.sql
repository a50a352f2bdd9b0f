-- +goose Up
-- The same schema as migrations/postgres/00001_core.sql, in SQLite's terms:
-- times are INTEGER microseconds since the Unix epoch (PostgreSQL's own
-- precision, so both stores keep the same instants, and ordered comparisons
-- in SQL are integer comparisons); booleans are 0/1; lists are JSON text.
-- Optional values are NULL, never '' or 0. Tables are STRICT so that a value
-- of the wrong type is refused, as PostgreSQL would. AUTOINCREMENT keeps ids
-- from ever being reused, which keyset pagination relies on.

CREATE TABLE students (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    -- NULL for a student created here and not (yet) linked to Moodle.
    moodle_user_id     INTEGER CHECK (moodle_user_id > 0),
    username           TEXT NOT NULL DEFAULT '',
    firstname          TEXT NOT NULL DEFAULT '',
    lastname           TEXT NOT NULL DEFAULT '',
    email              TEXT NOT NULL DEFAULT '',
    phone              TEXT NOT NULL DEFAULT '',
    lang               TEXT NOT NULL DEFAULT '',
    timezone           TEXT NOT NULL DEFAULT '',
    opted_out          INTEGER NOT NULL DEFAULT 0 CHECK (opted_out IN (0, 1)),
    contact_changed_at INTEGER,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
) STRICT;

CREATE UNIQUE INDEX students_moodle_user_id_key ON students (moodle_user_id)
    WHERE moodle_user_id IS NOT NULL;

CREATE TABLE courses (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    moodle_course_id INTEGER NOT NULL UNIQUE CHECK (moodle_course_id > 0),
    shortname        TEXT NOT NULL DEFAULT '',
    fullname         TEXT NOT NULL DEFAULT '',
    startdate        INTEGER,
    enddate          INTEGER,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
) STRICT;

CREATE TABLE enrollments (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    student_id          INTEGER NOT NULL REFERENCES students (id),
    course_id           INTEGER NOT NULL REFERENCES courses (id),
    moodle_enrolment_id INTEGER CHECK (moodle_enrolment_id > 0),
    status              INTEGER NOT NULL DEFAULT 0 CHECK (status IN (0, 1)),
    time_start          INTEGER,
    time_end            INTEGER,
    roles               TEXT NOT NULL DEFAULT '[]' CHECK (json_type(roles) = 'array'),
    progress_total      INTEGER NOT NULL DEFAULT 0 CHECK (progress_total >= 0),
    progress_completed  INTEGER NOT NULL DEFAULT 0 CHECK (progress_completed >= 0),
    -- NULL when the course has no tracked SCORM activity.
    progress_percent    REAL CHECK (progress_percent BETWEEN 0 AND 100),
    imported            INTEGER NOT NULL DEFAULT 0 CHECK (imported IN (0, 1)),
    deleted             INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    UNIQUE (student_id, course_id)
) STRICT;

CREATE INDEX enrollments_course_id_idx ON enrollments (course_id);

CREATE TABLE message_logs (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    rule                TEXT NOT NULL,
    template            TEXT NOT NULL,
    language            TEXT NOT NULL DEFAULT '',
    params              TEXT NOT NULL DEFAULT '[]' CHECK (json_type(params) = 'array'),
    status              TEXT NOT NULL
        CHECK (status IN ('PENDING', 'SENT', 'DELIVERED', 'READ', 'FAILED')),
    dry_run             INTEGER NOT NULL DEFAULT 0 CHECK (dry_run IN (0, 1)),
    student_id          INTEGER NOT NULL REFERENCES students (id),
    moodle_user_id      INTEGER,
    course_id           INTEGER NOT NULL REFERENCES courses (id),
    moodle_course_id    INTEGER,
    enrollment_id       INTEGER NOT NULL REFERENCES enrollments (id),
    -- The rule name for rules deduplicated once, NULL otherwise.
    once_key            TEXT,
    to_phone            TEXT,
    provider_message_id TEXT,
    error_code          TEXT,
    error_message       TEXT,
    trigger_kind        TEXT NOT NULL CHECK (trigger_kind IN ('moodle_event', 'scan', 'manual')),
    trigger_ref         TEXT NOT NULL DEFAULT '',
    -- Kept byte for byte, as they went to and came from WhatsApp.
    request             TEXT CHECK (request IS NULL OR json_valid(request)),
    response            TEXT CHECK (response IS NULL OR json_valid(response)),
    attempts            INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    claimed_at          INTEGER,
    next_attempt_at     INTEGER,
    created_at          INTEGER NOT NULL,
    sent_at             INTEGER,
    delivered_at        INTEGER,
    read_at             INTEGER,
    failed_at           INTEGER
) STRICT;

-- Once-rules cannot fire twice for a student and course: every status but
-- FAILED counts. This index, not application code, makes duplicates
-- impossible.
CREATE UNIQUE INDEX message_logs_once_key ON message_logs (student_id, course_id, once_key)
    WHERE once_key IS NOT NULL AND status <> 'FAILED';

-- Status webhooks find their row by WhatsApp's id.
CREATE UNIQUE INDEX message_logs_provider_message_id_key ON message_logs (provider_message_id)
    WHERE provider_message_id IS NOT NULL;

-- The history read under the enrollment lock, and the window check.
CREATE INDEX message_logs_window_idx ON message_logs (student_id, course_id, template, created_at);

-- Admin listing: each filter, newest (highest id) first. A student's rows
-- are few and found through the two indexes above.
CREATE INDEX message_logs_status_id_idx ON message_logs (status, id);
CREATE INDEX message_logs_rule_id_idx ON message_logs (rule, id);
CREATE INDEX message_logs_course_id_idx ON message_logs (course_id, id);
CREATE INDEX message_logs_moodle_user_id_idx ON message_logs (moodle_user_id, id)
    WHERE moodle_user_id IS NOT NULL;
CREATE INDEX message_logs_moodle_course_id_idx ON message_logs (moodle_course_id, id)
    WHERE moodle_course_id IS NOT NULL;
CREATE INDEX message_logs_created_at_idx ON message_logs (created_at);

-- The sender's sweeps only ever look at PENDING rows, a small set.
CREATE INDEX message_logs_due_idx ON message_logs (id)
    WHERE status = 'PENDING' AND claimed_at IS NULL;
CREATE INDEX message_logs_claimed_idx ON message_logs (claimed_at, id)
    WHERE status = 'PENDING' AND claimed_at IS NOT NULL;

-- +goose Down
DROP TABLE message_logs;
DROP TABLE enrollments;
DROP TABLE courses;
DROP TABLE students;
