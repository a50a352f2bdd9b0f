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
 * SCORM progress as the notifier contract defines it (section 3), read straight from the database.
 *
 * Counted: SCORM activities of the course with completion tracking (course_modules.completion != 0)
 * that are visible; completed: those whose completion state for the user is complete (1) or
 * complete-pass (2). Complete-fail (3) and incomplete (0) do not count. Two queries serve a whole
 * course, however many users: one for the activities, one for the completion states.
 *
 * @package    local_whatsappnotifier
 * @copyright  2026 The notifier team
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */
final class scorm_progress {

    /**
     * Course module ids of the course's tracked, visible SCORM activities.
     *
     * With completion disabled for the site or the course no state is ever recorded, so nothing is
     * tracked even if the activities keep their completion settings.
     *
     * @param \stdClass $course course record with id and enablecompletion
     * @return int[]
     */
    public static function tracked_activities(\stdClass $course): array {
        global $CFG, $DB;

        if (empty($CFG->enablecompletion) || empty($course->enablecompletion)) {
            return [];
        }
        $sql = "SELECT cm.id
                  FROM {course_modules} cm
                  JOIN {modules} m ON m.id = cm.module
                 WHERE cm.course = :courseid
                   AND m.name = :modname
                   AND cm.completion <> :nocompletion
                   AND cm.visible = 1
                   AND cm.deletioninprogress = 0
              ORDER BY cm.id";
        $ids = $DB->get_fieldset_sql($sql, [
            'courseid' => $course->id,
            'modname' => 'scorm',
            'nocompletion' => 0,
        ]);
        return array_map('intval', $ids);
    }

    /**
     * How many of the given activities each user has completed.
     *
     * @param int[] $cmids tracked activities, from tracked_activities()
     * @param int[]|null $userids only these users; null for everyone with a completion
     * @return array<int, int> userid => completed count; users with none are absent
     */
    public static function completed_counts(array $cmids, ?array $userids = null): array {
        global $DB;

        if (!$cmids || ($userids !== null && !$userids)) {
            return [];
        }
        [$cmsql, $params] = $DB->get_in_or_equal($cmids, SQL_PARAMS_NAMED, 'cm');
        [$statesql, $stateparams] = $DB->get_in_or_equal(payload_builder::COMPLETED_STATES, SQL_PARAMS_NAMED, 'state');
        $params += $stateparams;
        $where = "cmc.coursemoduleid {$cmsql} AND cmc.completionstate {$statesql}";
        if ($userids !== null) {
            [$usersql, $userparams] = $DB->get_in_or_equal(array_values($userids), SQL_PARAMS_NAMED, 'user');
            $where .= " AND cmc.userid {$usersql}";
            $params += $userparams;
        }
        $sql = "SELECT cmc.userid, COUNT(1) AS completed
                  FROM {course_modules_completion} cmc
                 WHERE {$where}
              GROUP BY cmc.userid";

        $counts = [];
        foreach ($DB->get_records_sql_menu($sql, $params) as $userid => $completed) {
            $counts[(int)$userid] = (int)$completed;
        }
        return $counts;
    }

    /**
     * One user's numbers in one course.
     *
     * @param \stdClass $course course record with id and enablecompletion
     * @param int $userid
     * @return array{scorm_total: int, scorm_completed: int}
     */
    public static function for_user(\stdClass $course, int $userid): array {
        $cmids = self::tracked_activities($course);
        $counts = self::completed_counts($cmids, [$userid]);
        return ['scorm_total' => count($cmids), 'scorm_completed' => $counts[$userid] ?? 0];
    }
}
