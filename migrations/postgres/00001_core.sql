-- +goose Up
-- Students, courses and enrollments mirror Moodle; message_logs records every
-- send attempt. Optional values are NULL, never '' or 0, so that the partial
-- unique indexes below leave them out.

CREATE TABLE students (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- NULL for a student created here and not (yet) linked to Moodle.
    moodle_user_id     bigint CHECK (moodle_user_id > 0),
    username           text NOT NULL DEFAULT '',
    firstname          text NOT NULL DEFAULT '',
    lastname           text NOT NULL DEFAULT '',
    email              text NOT NULL DEFAULT '',
    phone              text NOT NULL DEFAULT '',
    lang               text NOT NULL DEFAULT '',
    timezone           text NOT NULL DEFAULT '',
    opted_out          boolean NOT NULL DEFAULT false,
    contact_changed_at timestamptz,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL
);

CREATE UNIQUE INDEX students_moodle_user_id_key ON students (moodle_user_id)
    WHERE moodle_user_id IS NOT NULL;

CREATE TABLE courses (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    moodle_course_id bigint NOT NULL CHECK (moodle_course_id > 0),
    shortname        text NOT NULL DEFAULT '',
    fullname         text NOT NULL DEFAULT '',
    startdate        timestamptz,
    enddate          timestamptz,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    CONSTRAINT courses_moodle_course_id_key UNIQUE (moodle_course_id)
);

CREATE TABLE enrollments (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    student_id          bigint NOT NULL REFERENCES students (id),
    course_id           bigint NOT NULL REFERENCES courses (id),
    moodle_enrolment_id bigint CHECK (moodle_enrolment_id > 0),
    status              smallint NOT NULL DEFAULT 0 CHECK (status IN (0, 1)),
    time_start          timestamptz,
    time_end            timestamptz,
    roles               text[] NOT NULL DEFAULT '{}',
    progress_total      integer NOT NULL DEFAULT 0 CHECK (progress_total >= 0),
    progress_completed  integer NOT NULL DEFAULT 0 CHECK (progress_completed >= 0),
    -- NULL when the course has no tracked SCORM activity.
    progress_percent    double precision CHECK (progress_percent BETWEEN 0 AND 100),
    imported            boolean NOT NULL DEFAULT false,
    deleted             boolean NOT NULL DEFAULT false,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    CONSTRAINT enrollments_student_course_key UNIQUE (student_id, course_id)
);

CREATE INDEX enrollments_course_id_idx ON enrollments (course_id);

CREATE TABLE message_logs (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rule                text NOT NULL,
    template            text NOT NULL,
    language            text NOT NULL DEFAULT '',
    params              jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(params) = 'array'),
    status              text NOT NULL
        CHECK (status IN ('PENDING', 'SENT', 'DELIVERED', 'READ', 'FAILED')),
    dry_run             boolean NOT NULL DEFAULT false,
    student_id          bigint NOT NULL REFERENCES students (id),
    moodle_user_id      bigint,
    course_id           bigint NOT NULL REFERENCES courses (id),
    moodle_course_id    bigint,
    enrollment_id       bigint NOT NULL REFERENCES enrollments (id),
    -- The rule name for rules deduplicated once, NULL otherwise.
    once_key            text,
    to_phone            text,
    provider_message_id text,
    error_code          text,
    error_message       text,
    trigger_kind        text NOT NULL CHECK (trigger_kind IN ('moodle_event', 'scan', 'manual')),
    trigger_ref         text NOT NULL DEFAULT '',
    -- json, not jsonb: the request and the answer are kept byte for byte, as
    -- they went to and came from WhatsApp.
    request             json,
    response            json,
    attempts            integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    claimed_at          timestamptz,
    next_attempt_at     timestamptz,
    created_at          timestamptz NOT NULL,
    sent_at             timestamptz,
    delivered_at        timestamptz,
    read_at             timestamptz,
    failed_at           timestamptz
);

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
