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

/**
 * Tests for local_whatsappnotifier_get_course_progress.
 *
 * @package    local_whatsappnotifier
 * @category   test
 * @copyright  2026 The notifier team
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 * @covers     \local_whatsappnotifier\external\get_course_progress
 * @covers     \local_whatsappnotifier\local\scorm_progress
 */
final class get_course_progress_test extends \advanced_testcase {

    protected function setUp(): void {
        global $CFG;
        require_once($CFG->libdir . '/completionlib.php');
        parent::setUp();
        $this->resetAfterTest();
        $CFG->enablecompletion = 1;
    }

    /**
     * Calls the function as the web service layer would, checking the answer against its description.
     *
     * @param int $courseid
     * @param int[] $userids
     * @return array
     */
    private function call(int $courseid, array $userids = []): array {
        $result = get_course_progress::execute($courseid, $userids);
        return get_course_progress::clean_returnvalue(get_course_progress::execute_returns(), $result);
    }

    /**
     * Writes a completion state directly.
     *
     * @param int $cmid
     * @param int $userid
     * @param int $state
     */
    private function set_completion(int $cmid, int $userid, int $state): void {
        global $DB;
        $record = ['coursemoduleid' => $cmid, 'userid' => $userid, 'completionstate' => $state, 'timemodified' => time()];
        if (array_key_exists('viewed', $DB->get_columns('course_modules_completion'))) {
            $record['viewed'] = 0;
        }
        $DB->insert_record('course_modules_completion', (object)$record);
    }

    /**
     * The lab102 shape: three tracked SCORMs, an untracked one, a page, three students and a teacher.
     *
     * @return array [course, students keyed 1..3, teacher]
     */
    private function lab_course(): array {
        $this->setAdminUser();
        $generator = $this->getDataGenerator();
        $course = $generator->create_course(['enablecompletion' => 1]);
        $tracked = [];
        foreach (['A', 'B', 'C'] as $name) {
            $tracked[$name] = (int)$generator->create_module('scorm', ['course' => $course->id, 'name' => "SCORM {$name}",
                'completion' => COMPLETION_TRACKING_MANUAL])->cmid;
        }
        $untracked = (int)$generator->create_module('scorm', ['course' => $course->id,
            'completion' => COMPLETION_TRACKING_NONE])->cmid;
        $hidden = (int)$generator->create_module('scorm', ['course' => $course->id, 'visible' => 0,
            'completion' => COMPLETION_TRACKING_MANUAL])->cmid;
        $page = (int)$generator->create_module('page', ['course' => $course->id,
            'completion' => COMPLETION_TRACKING_MANUAL])->cmid;

        $students = [];
        foreach ([1, 2, 3] as $n) {
            $students[$n] = $generator->create_and_enrol($course, 'student');
        }
        $teacher = $generator->create_and_enrol($course, 'editingteacher');

        // Student 1 completed A and passed B; student 2 completed A and failed B; student 3 has nothing.
        $this->set_completion($tracked['A'], $students[1]->id, COMPLETION_COMPLETE);
        $this->set_completion($tracked['B'], $students[1]->id, COMPLETION_COMPLETE_PASS);
        $this->set_completion($untracked, $students[1]->id, COMPLETION_COMPLETE);
        $this->set_completion($hidden, $students[1]->id, COMPLETION_COMPLETE);
        $this->set_completion($page, $students[1]->id, COMPLETION_COMPLETE);
        $this->set_completion($tracked['A'], $students[2]->id, COMPLETION_COMPLETE);
        $this->set_completion($tracked['B'], $students[2]->id, COMPLETION_COMPLETE_FAIL);
        $this->set_completion($tracked['C'], $students[2]->id, COMPLETION_INCOMPLETE);
        return [$course, $students, $teacher];
    }

    public function test_whole_course_in_one_call(): void {
        [$course, $students, $teacher] = $this->lab_course();

        $result = $this->call($course->id);
        $this->assertSame((int)$course->id, $result['courseid']);
        $this->assertSame(3, $result['scorm_total']);
        $this->assertSame([], $result['warnings']);
        $byuser = array_column($result['users'], null, 'userid');
        $this->assertCount(4, $byuser);
        $this->assertSame(2, $byuser[$students[1]->id]['scorm_completed']);
        $this->assertEqualsWithDelta(200 / 3, $byuser[$students[1]->id]['percent'], 1e-9);
        $this->assertSame(1, $byuser[$students[2]->id]['scorm_completed']);
        $this->assertEqualsWithDelta(100 / 3, $byuser[$students[2]->id]['percent'], 1e-9);
        $this->assertSame(0, $byuser[$students[3]->id]['scorm_completed']);
        $this->assertEquals(0.0, $byuser[$students[3]->id]['percent']);
        $this->assertSame(3, $byuser[$teacher->id]['scorm_total']);
    }

    public function test_selected_users_and_warnings_for_strangers(): void {
        [$course, $students] = $this->lab_course();
        $stranger = $this->getDataGenerator()->create_user();

        $result = $this->call($course->id, [$students[2]->id, $stranger->id]);
        $this->assertCount(1, $result['users']);
        $this->assertSame((int)$students[2]->id, $result['users'][0]['userid']);
        $this->assertCount(1, $result['warnings']);
        $this->assertSame('notenrolled', $result['warnings'][0]['warningcode']);
        $this->assertSame((int)$stranger->id, $result['warnings'][0]['itemid']);
    }

    public function test_a_course_without_scorm_has_null_percent(): void {
        $this->setAdminUser();
        $course = $this->getDataGenerator()->create_course(['enablecompletion' => 1]);
        $student = $this->getDataGenerator()->create_and_enrol($course, 'student');

        $result = $this->call($course->id);
        $this->assertSame(0, $result['scorm_total']);
        $this->assertSame([['userid' => (int)$student->id, 'scorm_total' => 0, 'scorm_completed' => 0, 'percent' => null]],
            $result['users']);
    }

    public function test_completion_disabled_in_the_course_tracks_nothing(): void {
        global $DB;
        [$course, $students] = $this->lab_course();
        $DB->set_field('course', 'enablecompletion', 0, ['id' => $course->id]);

        $result = $this->call($course->id, [$students[1]->id]);
        $this->assertSame(0, $result['scorm_total']);
        $this->assertNull($result['users'][0]['percent']);
    }

    public function test_service_account_with_the_capabilities(): void {
        global $DB;
        [$course, $students] = $this->lab_course();
        $account = $this->getDataGenerator()->create_user();
        $roleid = $this->getDataGenerator()->create_role(['shortname' => 'notifierservice']);
        $system = \context_system::instance();
        foreach (['moodle/course:view', 'moodle/course:viewparticipants', 'local/whatsappnotifier:viewprogress'] as $cap) {
            assign_capability($cap, CAP_ALLOW, $roleid, $system->id);
        }
        role_assign($roleid, $account->id, $system->id);
        $this->setUser($account);

        $result = $this->call($course->id, [$students[1]->id]);
        $this->assertSame(2, $result['users'][0]['scorm_completed']);

        unassign_capability('local/whatsappnotifier:viewprogress', $roleid, $system->id);
        accesslib_clear_all_caches_for_unit_testing();
        $this->expectException(\required_capability_exception::class);
        $this->call($course->id);
    }

    public function test_students_cannot_read_progress(): void {
        [$course, $students] = $this->lab_course();
        $this->setUser($students[1]);
        $this->expectException(\required_capability_exception::class);
        $this->call($course->id);
    }
}
