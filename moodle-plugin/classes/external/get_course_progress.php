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

namespace local_whatsappnotifier\external;

defined('MOODLE_INTERNAL') || die();

// Moodle 4.2 moved the external API to core_external; 4.1 has only the global classes of
// lib/externallib.php, and 4.2+ warns when those old names are used. Local aliases give one code
// path for both without touching either namespace.
if (class_exists(\core_external\external_api::class)) {
    foreach (['external_api', 'external_function_parameters', 'external_multiple_structure',
            'external_single_structure', 'external_value', 'external_warnings'] as $compatclass) {
        class_alias('core_external\\' . $compatclass, __NAMESPACE__ . '\\' . $compatclass);
    }
} else {
    global $CFG;
    require_once($CFG->libdir . '/externallib.php');
    foreach (['external_api', 'external_function_parameters', 'external_multiple_structure',
            'external_single_structure', 'external_value', 'external_warnings'] as $compatclass) {
        class_alias($compatclass, __NAMESPACE__ . '\\' . $compatclass);
    }
}
unset($compatclass);

use local_whatsappnotifier\local\payload_builder;
use local_whatsappnotifier\local\scorm_progress;

/**
 * local_whatsappnotifier_get_course_progress: SCORM progress of a course's enrolled users in one call.
 *
 * The core way costs one core_completion_get_activities_completion_status call per user; the
 * notifier's daily scan would make thousands. This answers a whole course with three queries.
 *
 * @package    local_whatsappnotifier
 * @copyright  2026 The notifier team
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */
class get_course_progress extends external_api {

    /**
     * Parameters.
     *
     * @return external_function_parameters
     */
    public static function execute_parameters(): external_function_parameters {
        return new external_function_parameters([
            'courseid' => new external_value(PARAM_INT, 'Course id'),
            'userids' => new external_multiple_structure(
                new external_value(PARAM_INT, 'User id'),
                'Only these users; every enrolled user when empty',
                VALUE_DEFAULT,
                []
            ),
        ]);
    }

    /**
     * Progress of the course's enrolled users.
     *
     * @param int $courseid
     * @param int[] $userids
     * @return array
     */
    public static function execute(int $courseid, array $userids = []): array {
        $params = self::validate_parameters(self::execute_parameters(), ['courseid' => $courseid, 'userids' => $userids]);

        $course = get_course($params['courseid']);
        $context = \context_course::instance($course->id);
        self::validate_context($context);
        require_capability('local/whatsappnotifier:viewprogress', $context);
        require_capability('moodle/course:viewparticipants', $context);

        // Suspended enrolments are included: the notifier decides what a suspension means.
        $enrolled = array_map('intval', array_keys(get_enrolled_users($context, '', 0, 'u.id', 'u.id')));
        $warnings = [];
        if ($params['userids']) {
            $wanted = array_values(array_unique(array_map('intval', $params['userids'])));
            foreach (array_diff($wanted, $enrolled) as $userid) {
                $warnings[] = [
                    'item' => 'user',
                    'itemid' => $userid,
                    'warningcode' => 'notenrolled',
                    'message' => 'The user is not enrolled in the course',
                ];
            }
            $userlist = array_values(array_intersect($wanted, $enrolled));
        } else {
            $userlist = $enrolled;
        }

        $cmids = scorm_progress::tracked_activities($course);
        $total = count($cmids);
        // Counting for the whole course and filtering here keeps the query free of a user list that
        // could run to thousands of parameters.
        $counts = $userlist ? scorm_progress::completed_counts($cmids) : [];

        $users = [];
        foreach ($userlist as $userid) {
            $users[] = ['userid' => $userid] + payload_builder::progress($total, $counts[$userid] ?? 0);
        }

        return [
            'courseid' => (int)$course->id,
            'scorm_total' => $total,
            'users' => $users,
            'warnings' => $warnings,
        ];
    }

    /**
     * Return description.
     *
     * @return external_single_structure
     */
    public static function execute_returns(): external_single_structure {
        return new external_single_structure([
            'courseid' => new external_value(PARAM_INT, 'Course id'),
            'scorm_total' => new external_value(PARAM_INT, 'Tracked, visible SCORM activities of the course'),
            'users' => new external_multiple_structure(
                new external_single_structure([
                    'userid' => new external_value(PARAM_INT, 'User id'),
                    'scorm_total' => new external_value(PARAM_INT, 'Tracked, visible SCORM activities of the course'),
                    'scorm_completed' => new external_value(PARAM_INT, 'Of those, completed or passed by the user'),
                    'percent' => new external_value(PARAM_FLOAT,
                        'scorm_completed * 100 / scorm_total; null when the course has no tracked SCORM activity',
                        VALUE_REQUIRED, null, NULL_ALLOWED),
                ])
            ),
            'warnings' => new external_warnings(),
        ]);
    }
}
