<?php
// This file is part of Moodle - https://moodle.org/
//
// Moodle is free software: you can redistribute it and/or modify
// it under the terms of the GNU General Public License as published by
// the Free Software Foundation, either version 3 of the License, or
// (at your option) any later version.
//
// Moodle is distributed in the hope that it will be useful,
// but WITHOUT ANY WARRANTY; without even the implied warranty of
// MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE.  See the
// GNU General Public License for more details.
//
// You should have received a copy of the GNU General Public License
// along with Moodle.  If not, see <https://www.gnu.org/licenses/>.

namespace local_whatsappnotifier\local;

/**
 * Builds the schema-1 webhook body (notifier contract, section 3) from plain data.
 *
 * Deliberately free of Moodle globals and functions: the shared test vectors are checked against this
 * class without a Moodle site, and the notifier's Go tests check the same vectors. Whatever reads the
 * database hands records (arrays or stdClass, strings or ints, as $DB returns them) to this class.
 *
 * @package    local_whatsappnotifier
 * @copyright  2026 The notifier team
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */
final class payload_builder {

    /** @var int The body schema version. */
    public const SCHEMA = 1;

    /** @var string Event name of the synthetic delivery sent by the settings' test page. */
    public const TEST_EVENT = 'test_event';

    /** @var array<string, string> Moodle event class => contract event name. */
    public const EVENTS = [
        '\\core\\event\\user_enrolment_created' => 'user_enrolment_created',
        '\\core\\event\\user_enrolment_updated' => 'user_enrolment_updated',
        '\\core\\event\\user_enrolment_deleted' => 'user_enrolment_deleted',
        '\\mod_scorm\\event\\status_submitted' => 'scorm_status_submitted',
        '\\core\\event\\course_module_completion_updated' => 'course_module_completion_updated',
        '\\core\\event\\course_completed' => 'course_completed',
        '\\core\\event\\course_updated' => 'course_updated',
        '\\core\\event\\user_updated' => 'user_updated',
    ];

    /** @var int[] Completion states that count as done: COMPLETION_COMPLETE and COMPLETION_COMPLETE_PASS. */
    public const COMPLETED_STATES = [1, 2];

    /** @var int json_encode flags of every body; the signature covers these exact bytes. */
    public const JSON_FLAGS = JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_PRESERVE_ZERO_FRACTION
        | JSON_INVALID_UTF8_SUBSTITUTE | JSON_THROW_ON_ERROR;

    /**
     * Contract name of a Moodle event class, or null when the contract does not know it.
     *
     * @param string $eventname as in get_data()['eventname'], with or without the leading backslash
     * @return string|null
     */
    public static function contract_event_name(string $eventname): ?string {
        $eventname = '\\' . ltrim($eventname, '\\');
        return self::EVENTS[$eventname] ?? null;
    }

    /**
     * The user an event is about: the one the notifier would message.
     *
     * @param array $eventdata raw event data
     * @return int|null null for course_updated, which is about no user
     */
    public static function event_user_id(array $eventdata): ?int {
        $event = self::contract_event_name((string)($eventdata['eventname'] ?? ''));
        if ($event === 'course_updated') {
            return null;
        }
        $id = self::to_int($eventdata['relateduserid'] ?? null);
        if ($id <= 0 && $event === 'user_updated') {
            $id = self::to_int($eventdata['objectid'] ?? null);
        }
        return $id > 0 ? $id : null;
    }

    /**
     * The course an event belongs to.
     *
     * @param array $eventdata raw event data
     * @return int|null null for user_updated, which belongs to no course
     */
    public static function event_course_id(array $eventdata): ?int {
        $event = self::contract_event_name((string)($eventdata['eventname'] ?? ''));
        if ($event === 'user_updated') {
            return null;
        }
        $id = self::to_int($eventdata['courseid'] ?? null);
        if ($id <= 0 && $event === 'course_updated') {
            $id = self::to_int($eventdata['objectid'] ?? null);
        }
        return $id > 0 ? $id : null;
    }

    /**
     * SCORM progress numbers as the contract defines them.
     *
     * The percentage is computed as completed * 100 / total in double precision, the same operation the
     * notifier uses, so both sides agree to the last bit.
     *
     * @param int $total tracked, visible SCORM activities of the course
     * @param int $completed those of them the user completed (complete or complete-pass)
     * @return array{scorm_total: int, scorm_completed: int, percent: float|null}
     */
    public static function progress(int $total, int $completed): array {
        if ($total <= 0) {
            return ['scorm_total' => 0, 'scorm_completed' => 0, 'percent' => null];
        }
        $completed = max(0, min($completed, $total));
        return [
            'scorm_total' => $total,
            'scorm_completed' => $completed,
            'percent' => (float)$completed * 100 / (float)$total,
        ];
    }

    /**
     * Builds the payload of one event.
     *
     * @param string $id delivery id (webhook-id), reused on every retry of the same event
     * @param string $site the site's wwwroot
     * @param array $eventdata raw event data ($event->get_data()), kept as it came under "moodle"
     * @param array|object|null $user user record with the phone field named by $phonefield; omitted for course_updated
     * @param string[] $roles the user's role short names in the course context
     * @param string $phonefield property of $user that holds the phone (phone1, phone2 or profile_field_<shortname>)
     * @param array|object|null $course course record; omitted for user_updated
     * @param array|object|null $enrolment user_enrolments record, with "enrolstatus" (enrol.status) when known
     * @param array|null $progress ['scorm_total' => int, 'scorm_completed' => int], or null to omit
     * @return array the payload, keys in the contract's order
     * @throws \InvalidArgumentException when the data cannot make a valid payload
     */
    public static function build(string $id, string $site, array $eventdata, array|object|null $user = null,
            array $roles = [], string $phonefield = 'phone1', array|object|null $course = null,
            array|object|null $enrolment = null, ?array $progress = null): array {
        $eventname = (string)($eventdata['eventname'] ?? '');
        $event = self::contract_event_name($eventname);
        if ($event === null) {
            throw new \InvalidArgumentException("Not a contract event: {$eventname}");
        }

        $payload = self::envelope($id, $event, self::to_int($eventdata['timecreated'] ?? null), $site);

        if ($event !== 'course_updated') {
            if ($user === null) {
                throw new \InvalidArgumentException("{$event} needs a user");
            }
            $payload['user'] = self::user($user, $roles, $phonefield);
        }
        if ($event !== 'user_updated') {
            if ($course === null) {
                throw new \InvalidArgumentException("{$event} needs a course");
            }
            $payload['course'] = self::course($course);
        }

        if ($event === 'user_enrolment_deleted') {
            // The row is gone by the time a task runs; the event carries the only copy.
            $enrolment = self::enrolment_snapshot($eventdata);
        }
        if ($enrolment !== null && $event !== 'user_updated' && $event !== 'course_updated') {
            $payload['enrolment'] = self::enrolment($enrolment);
        }
        if ($progress !== null && isset($payload['user'], $payload['course'])) {
            $payload['progress'] = self::progress(self::to_int($progress['scorm_total'] ?? 0),
                self::to_int($progress['scorm_completed'] ?? 0));
        }

        $payload['moodle'] = $eventdata;
        return $payload;
    }

    /**
     * Payload of the settings page's test delivery.
     *
     * Its event name is none of the contract's, so the notifier verifies the signature and the envelope,
     * records it and answers "ignored" without acting on anyone.
     *
     * @param string $id delivery id
     * @param string $site the site's wwwroot
     * @param int $time Unix time of the test
     * @param int $userid the admin who sent it
     * @return array
     */
    public static function build_test(string $id, string $site, int $time, int $userid): array {
        $payload = self::envelope($id, self::TEST_EVENT, $time, $site);
        $payload['moodle'] = [
            'eventname' => '\\local_whatsappnotifier\\test_event',
            'userid' => $userid,
            'timecreated' => $time,
        ];
        return $payload;
    }

    /**
     * The exact bytes that are signed and sent.
     *
     * serialize_precision is pinned so that a site's php.ini cannot change how a percentage is written.
     *
     * @param array $payload
     * @return string
     */
    public static function encode(array $payload): string {
        $precision = ini_get('serialize_precision');
        ini_set('serialize_precision', '-1');
        try {
            return json_encode($payload, self::JSON_FLAGS);
        } finally {
            ini_set('serialize_precision', (string)$precision);
        }
    }

    /**
     * The enrolment as it was before deletion, from user_enrolment_deleted's other.userenrolment.
     *
     * @param array $eventdata raw event data
     * @return array|null
     */
    public static function enrolment_snapshot(array $eventdata): ?array {
        $other = $eventdata['other'] ?? null;
        if (is_string($other)) {
            // The standard log stores "other" JSON-encoded; accept that form too.
            $other = json_decode($other, true);
        }
        if (is_object($other)) {
            $other = json_decode(json_encode($other), true);
        }
        $snapshot = is_array($other) ? ($other['userenrolment'] ?? null) : null;
        if (is_object($snapshot)) {
            $snapshot = (array)$snapshot;
        }
        if (!is_array($snapshot) || self::to_int($snapshot['id'] ?? null) <= 0) {
            return null;
        }
        return $snapshot;
    }

    /**
     * The fields every body starts with.
     *
     * @param string $id
     * @param string $event
     * @param int $occurredat
     * @param string $site
     * @return array
     */
    private static function envelope(string $id, string $event, int $occurredat, string $site): array {
        if (!signer::is_valid_msg_id($id)) {
            throw new \InvalidArgumentException('The delivery id must be 1-64 characters of [A-Za-z0-9._:-]');
        }
        return [
            'schema' => self::SCHEMA,
            'id' => $id,
            'event' => $event,
            'occurred_at' => $occurredat,
            'site' => $site,
        ];
    }

    /**
     * The "user" object.
     *
     * @param array|object $user
     * @param string[] $roles
     * @param string $phonefield
     * @return array
     */
    private static function user(array|object $user, array $roles, string $phonefield): array {
        $user = (array)$user;
        $id = self::positive_id($user['id'] ?? null, 'user.id');
        $phone = $user[$phonefield] ?? '';
        return [
            'id' => $id,
            'username' => (string)($user['username'] ?? ''),
            'firstname' => (string)($user['firstname'] ?? ''),
            'lastname' => (string)($user['lastname'] ?? ''),
            'email' => (string)($user['email'] ?? ''),
            'phone' => trim(is_scalar($phone) ? (string)$phone : ''),
            'lang' => (string)($user['lang'] ?? ''),
            'timezone' => (string)($user['timezone'] ?? ''),
            'roles' => array_values(array_unique(array_map('strval', $roles))),
        ];
    }

    /**
     * The "course" object.
     *
     * @param array|object $course
     * @return array
     */
    private static function course(array|object $course): array {
        $course = (array)$course;
        return [
            'id' => self::positive_id($course['id'] ?? null, 'course.id'),
            'shortname' => (string)($course['shortname'] ?? ''),
            'fullname' => (string)($course['fullname'] ?? ''),
            'startdate' => self::to_int($course['startdate'] ?? 0),
            'enddate' => self::to_int($course['enddate'] ?? 0),
        ];
    }

    /**
     * The "enrolment" object.
     *
     * A user enrolment is only active while both its own status and its enrolment method's status are
     * active; a disabled method suspends everyone in it, so that is reported as suspended (1) as well.
     *
     * @param array|object $enrolment
     * @return array
     */
    private static function enrolment(array|object $enrolment): array {
        $enrolment = (array)$enrolment;
        $suspended = self::to_int($enrolment['status'] ?? 0) !== 0 || self::to_int($enrolment['enrolstatus'] ?? 0) !== 0;
        return [
            'id' => self::positive_id($enrolment['id'] ?? null, 'enrolment.id'),
            'status' => $suspended ? 1 : 0,
            'timestart' => self::to_int($enrolment['timestart'] ?? 0),
            'timeend' => self::to_int($enrolment['timeend'] ?? 0),
        ];
    }

    /**
     * An id that must be a positive integer in the body.
     *
     * @param mixed $value
     * @param string $field
     * @return int
     */
    private static function positive_id(mixed $value, string $field): int {
        $id = self::to_int($value);
        if ($id <= 0) {
            throw new \InvalidArgumentException("{$field} must be a positive integer");
        }
        return $id;
    }

    /**
     * Moodle hands out numbers as strings (database rows) or ints (some event paths); the body has ints only.
     *
     * @param mixed $value
     * @return int 0 for anything that is not an integer
     */
    public static function to_int(mixed $value): int {
        if (is_int($value)) {
            return $value;
        }
        if (is_string($value) && preg_match('/^\s*-?\d+\s*$/', $value)) {
            return (int)$value;
        }
        if (is_float($value) && floor($value) === $value) {
            return (int)$value;
        }
        if (is_bool($value)) {
            return (int)$value;
        }
        return 0;
    }
}
