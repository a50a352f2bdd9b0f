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
 * Gathers what a recorded event's payload needs from the database, as it is when the task runs.
 *
 * Reading at run time rather than in the observer is what lets a delivery see the role that Moodle
 * assigns just after user_enrolment_created (enrolments made through the PHP API fire the event
 * before the role exists, even for post-commit observers).
 *
 * @package    local_whatsappnotifier
 * @copyright  2026 The notifier team
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */
final class payload_factory {

    /** @var string Columns of the user record that can reach the payload. */
    private const USER_FIELDS = 'id, username, firstname, lastname, email, phone1, phone2, lang, timezone, deleted';

    /** @var string Columns of the course record that can reach the payload. */
    private const COURSE_FIELDS = 'id, shortname, fullname, startdate, enddate, enablecompletion';

    /**
     * Constructor.
     *
     * @param config $config
     */
    public function __construct(private readonly config $config) {
    }

    /**
     * Builds the payload of a recorded event.
     *
     * @param string $id the delivery id recorded with the event
     * @param array $eventdata the recorded $event->get_data()
     * @return array
     * @throws not_deliverable when the event cannot or must not be sent, now or later
     */
    public function build(string $id, array $eventdata): array {
        global $CFG;

        $event = payload_builder::contract_event_name((string)($eventdata['eventname'] ?? ''));
        if ($event === null) {
            throw new not_deliverable('not an event of the notifier contract');
        }

        $course = null;
        if ($event !== 'user_updated') {
            $courseid = payload_builder::event_course_id($eventdata);
            $course = $courseid ? $this->course($courseid) : null;
            if (!$course) {
                throw new not_deliverable('the course ' . ($courseid ?? '?') . ' no longer exists');
            }
        }

        $user = null;
        $roles = [];
        if ($event !== 'course_updated') {
            $userid = payload_builder::event_user_id($eventdata);
            $user = $userid ? $this->user($userid) : null;
            if (!$user) {
                throw new not_deliverable('the user ' . ($userid ?? '?') . ' no longer exists');
            }
            // Deleting a user unenrols them first; those deletions still matter to the notifier.
            if (!empty($user->deleted) && $event !== 'user_enrolment_deleted') {
                throw new not_deliverable("the user {$userid} has been deleted");
            }
            if ($course) {
                $roles = $this->course_roles($userid, (int)$course->id);
            }
            if (!$this->is_reported($event, $userid, $roles)) {
                throw new not_deliverable("the user {$userid} holds none of the reported roles ("
                    . implode(',', $this->config->roles) . ')');
            }
        }

        $enrolment = null;
        $progress = null;
        switch ($event) {
            case 'user_enrolment_created':
            case 'user_enrolment_updated':
                $enrolment = $this->enrolment_by_id(payload_builder::to_int($eventdata['objectid'] ?? null));
                if (!$enrolment) {
                    // It was deleted before this ran; the deletion has its own event, sent after this one.
                    throw new not_deliverable('the enrolment ' . ($eventdata['objectid'] ?? '?') . ' no longer exists');
                }
                $progress = scorm_progress::for_user($course, (int)$user->id);
                break;
            case 'scorm_status_submitted':
            case 'course_module_completion_updated':
            case 'course_completed':
                $enrolment = $this->course_enrolment((int)$user->id, (int)$course->id);
                $progress = scorm_progress::for_user($course, (int)$user->id);
                break;
        }

        return payload_builder::build($id, $CFG->wwwroot, $eventdata, $user, $roles, $this->config->phonefield,
            $course, $enrolment, $progress);
    }

    /**
     * The user record, with the configured custom profile field loaded as profile_field_<shortname>.
     *
     * @param int $userid
     * @return \stdClass|null
     */
    private function user(int $userid): ?\stdClass {
        global $DB;

        $user = $DB->get_record('user', ['id' => $userid], self::USER_FIELDS);
        if (!$user) {
            return null;
        }
        $shortname = $this->config->profile_field_shortname();
        if ($shortname !== null) {
            $sql = "SELECT d.data
                      FROM {user_info_data} d
                      JOIN {user_info_field} f ON f.id = d.fieldid
                     WHERE d.userid = :userid AND f.shortname = :shortname";
            $value = $DB->get_field_sql($sql, ['userid' => $userid, 'shortname' => $shortname]);
            $user->{$this->config->phonefield} = $value === false ? '' : (string)$value;
        }
        return $user;
    }

    /**
     * The course record.
     *
     * @param int $courseid
     * @return \stdClass|null
     */
    private function course(int $courseid): ?\stdClass {
        global $DB;
        return $DB->get_record('course', ['id' => $courseid], self::COURSE_FIELDS) ?: null;
    }

    /**
     * The user's role short names assigned in the course context.
     *
     * Only the course context itself, as core_enrol_get_enrolled_users reports them, so the notifier
     * sees the same roles from webhooks and from its own imports.
     *
     * @param int $userid
     * @param int $courseid
     * @return string[]
     */
    private function course_roles(int $userid, int $courseid): array {
        $context = \context_course::instance($courseid, IGNORE_MISSING);
        if (!$context) {
            return [];
        }
        $shortnames = [];
        foreach (get_user_roles($context, $userid, false) as $assignment) {
            $shortnames[] = (string)$assignment->shortname;
        }
        return array_values(array_unique($shortnames));
    }

    /**
     * Whether events about this user go to the notifier at all.
     *
     * Users without a reported role are left out so that, for example, teachers' phone numbers never
     * leave the site. Deletions are always sent: unenrolling removes the role before the task runs.
     *
     * @param string $event
     * @param int $userid
     * @param string[] $roles the user's roles in the event's course
     * @return bool
     */
    private function is_reported(string $event, int $userid, array $roles): bool {
        global $DB;

        if (!$this->config->roles || $event === 'user_enrolment_deleted') {
            return true;
        }
        if ($event !== 'user_updated') {
            return (bool)array_intersect($roles, $this->config->roles);
        }
        // A profile change has no course: it matters when the user is a student in any course.
        [$rolesql, $params] = $DB->get_in_or_equal($this->config->roles, SQL_PARAMS_NAMED, 'role');
        $sql = "SELECT 1
                  FROM {role_assignments} ra
                  JOIN {role} r ON r.id = ra.roleid
                  JOIN {context} ctx ON ctx.id = ra.contextid
                 WHERE ra.userid = :userid
                   AND ctx.contextlevel = :courselevel
                   AND r.shortname {$rolesql}";
        return $DB->record_exists_sql($sql, $params + ['userid' => $userid, 'courselevel' => CONTEXT_COURSE]);
    }

    /**
     * A user enrolment with its method's status.
     *
     * @param int $id user_enrolments.id
     * @return \stdClass|null
     */
    private function enrolment_by_id(int $id): ?\stdClass {
        global $DB;

        if ($id <= 0) {
            return null;
        }
        $sql = "SELECT ue.id, ue.status, ue.timestart, ue.timeend, e.status AS enrolstatus
                  FROM {user_enrolments} ue
                  JOIN {enrol} e ON e.id = ue.enrolid
                 WHERE ue.id = :id";
        return $DB->get_record_sql($sql, ['id' => $id]) ?: null;
    }

    /**
     * The user's enrolment in a course, for events that do not name one.
     *
     * A user can be enrolled through several methods; the active one is the one that gives access.
     *
     * @param int $userid
     * @param int $courseid
     * @return \stdClass|null
     */
    private function course_enrolment(int $userid, int $courseid): ?\stdClass {
        global $DB;

        $sql = "SELECT ue.id, ue.status, ue.timestart, ue.timeend, e.status AS enrolstatus
                  FROM {user_enrolments} ue
                  JOIN {enrol} e ON e.id = ue.enrolid
                 WHERE ue.userid = :userid AND e.courseid = :courseid
              ORDER BY ue.id";
        $enrolments = array_values($DB->get_records_sql($sql, ['userid' => $userid, 'courseid' => $courseid]));
        foreach ($enrolments as $enrolment) {
            if ((int)$enrolment->status === ENROL_USER_ACTIVE && (int)$enrolment->enrolstatus === ENROL_INSTANCE_ENABLED) {
                return $enrolment;
            }
        }
        return $enrolments[0] ?? null;
    }
}
