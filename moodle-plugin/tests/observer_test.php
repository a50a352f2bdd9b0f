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

namespace local_whatsappnotifier;

use local_whatsappnotifier\task\deliver_event;

/**
 * Tests for the event observers.
 *
 * @package    local_whatsappnotifier
 * @category   test
 * @copyright  2026 The notifier team
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 * @covers     \local_whatsappnotifier\observer
 * @covers     \local_whatsappnotifier\task\deliver_event
 */
final class observer_test extends \advanced_testcase {

    /** @var string[] The Moodle events of the notifier contract. */
    private const EVENTS = [
        '\core\event\user_enrolment_created',
        '\core\event\user_enrolment_updated',
        '\core\event\user_enrolment_deleted',
        '\mod_scorm\event\status_submitted',
        '\core\event\course_module_completion_updated',
        '\core\event\course_completed',
        '\core\event\course_updated',
        '\core\event\user_updated',
    ];

    protected function setUp(): void {
        parent::setUp();
        $this->resetAfterTest();
        set_config('endpoint', 'https://notifier.example.com', 'local_whatsappnotifier');
        set_config('secret', 'whsec_' . base64_encode(str_repeat('k', 32)), 'local_whatsappnotifier');
    }

    /**
     * The custom data of every queued delivery, oldest first.
     *
     * @return array[]
     */
    private function queued(): array {
        $tasks = \core\task\manager::get_adhoc_tasks(deliver_event::class);
        ksort($tasks);
        return array_values(array_map(fn($task) => json_decode($task->get_custom_data_as_string(), true), $tasks));
    }

    public function test_all_contract_events_have_post_commit_observers(): void {
        $observers = \core\event\manager::get_all_observers();
        foreach (self::EVENTS as $eventname) {
            $ours = array_filter($observers[$eventname] ?? [],
                fn($observer) => $observer->callable === '\local_whatsappnotifier\observer::queue');
            $this->assertCount(1, $ours, "observer for {$eventname}");
            $this->assertFalse((bool)reset($ours)->internal, "{$eventname} must be observed after commit");
        }
    }

    public function test_enrolment_queues_the_raw_event_with_a_uuid(): void {
        $course = $this->getDataGenerator()->create_course();
        $user = $this->getDataGenerator()->create_user();
        $this->getDataGenerator()->enrol_user($user->id, $course->id, 'student');

        $queued = $this->queued();
        $this->assertCount(1, $queued);
        $this->assertMatchesRegularExpression('/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/',
            $queued[0]['id']);
        $event = $queued[0]['event'];
        $this->assertSame('\core\event\user_enrolment_created', $event['eventname']);
        $this->assertEquals($user->id, $event['relateduserid']);
        $this->assertEquals($course->id, $event['courseid']);
        $this->assertSame(['enrol' => 'manual'], $event['other']);
    }

    public function test_each_event_gets_its_own_id(): void {
        $course = $this->getDataGenerator()->create_course();
        foreach ([1, 2] as $unused) {
            $this->getDataGenerator()->enrol_user($this->getDataGenerator()->create_user()->id, $course->id, 'student');
        }
        $queued = $this->queued();
        $this->assertCount(2, $queued);
        $this->assertNotSame($queued[0]['id'], $queued[1]['id']);
    }

    public function test_events_left_out_of_the_setting_are_not_queued(): void {
        set_config('events', 'user_enrolment_deleted,course_completed', 'local_whatsappnotifier');
        $course = $this->getDataGenerator()->create_course();
        $user = $this->getDataGenerator()->create_user();
        $this->getDataGenerator()->enrol_user($user->id, $course->id, 'student');
        $this->assertSame([], $this->queued());

        $instance = $this->manual_instance($course->id);
        enrol_get_plugin('manual')->unenrol_user($instance, $user->id);
        $queued = $this->queued();
        $this->assertCount(1, $queued);
        $this->assertSame('\core\event\user_enrolment_deleted', $queued[0]['event']['eventname']);
    }

    public function test_nothing_is_queued_without_an_endpoint(): void {
        set_config('endpoint', '', 'local_whatsappnotifier');
        $course = $this->getDataGenerator()->create_course();
        $this->getDataGenerator()->enrol_user($this->getDataGenerator()->create_user()->id, $course->id, 'student');
        $this->assertSame([], $this->queued());
    }

    public function test_enrolment_update_and_user_and_course_updates_are_queued(): void {
        global $CFG;
        require_once($CFG->dirroot . '/user/lib.php');
        require_once($CFG->dirroot . '/course/lib.php');

        $course = $this->getDataGenerator()->create_course();
        $user = $this->getDataGenerator()->create_user();
        $this->getDataGenerator()->enrol_user($user->id, $course->id, 'student');
        $instance = $this->manual_instance($course->id);

        enrol_get_plugin('manual')->update_user_enrol($instance, $user->id, ENROL_USER_SUSPENDED);
        user_update_user((object)['id' => $user->id, 'phone1' => '+34 600 000 000'], false);
        update_course((object)['id' => $course->id, 'fullname' => 'Renamed']);

        $names = array_map(fn($data) => $data['event']['eventname'], $this->queued());
        $this->assertSame([
            '\core\event\user_enrolment_created',
            '\core\event\user_enrolment_updated',
            '\core\event\user_updated',
            '\core\event\course_updated',
        ], $names);
    }

    public function test_scorm_status_is_queued(): void {
        $this->setAdminUser();
        $course = $this->getDataGenerator()->create_course();
        $scorm = $this->getDataGenerator()->create_module('scorm', ['course' => $course->id]);
        $user = $this->getDataGenerator()->create_user();
        \mod_scorm\event\status_submitted::create([
            'objectid' => 1,
            'context' => \context_module::instance($scorm->cmid),
            'relateduserid' => $user->id,
            'other' => ['attemptid' => 1, 'cmielement' => 'cmi.core.lesson_status', 'cmivalue' => 'completed'],
        ])->trigger();

        $queued = $this->queued();
        $this->assertCount(1, $queued);
        $this->assertSame('\mod_scorm\event\status_submitted', $queued[0]['event']['eventname']);
    }

    public function test_events_outside_the_contract_are_ignored(): void {
        $course = $this->getDataGenerator()->create_course();
        $user = $this->getDataGenerator()->create_user();
        $sink = $this->redirectEvents();
        $this->getDataGenerator()->enrol_user($user->id, $course->id, 'student');
        $events = $sink->get_events();
        $sink->close();

        $roleassigned = array_values(array_filter($events, fn($e) => $e instanceof \core\event\role_assigned));
        $this->assertNotEmpty($roleassigned);
        observer::queue($roleassigned[0]);
        $this->assertSame([], $this->queued());
    }

    public function test_observer_waits_for_the_commit(): void {
        global $DB;

        $course = $this->getDataGenerator()->create_course();
        $user = $this->getDataGenerator()->create_user();
        $transaction = $DB->start_delegated_transaction();
        $this->getDataGenerator()->enrol_user($user->id, $course->id, 'student');
        $this->assertSame([], $this->queued(), 'queued before the transaction committed');
        $transaction->allow_commit();
        $this->assertCount(1, $this->queued());
    }

    /**
     * The manual enrolment instance of a course.
     *
     * @param int $courseid
     * @return \stdClass
     */
    private function manual_instance(int $courseid): \stdClass {
        global $DB;
        return $DB->get_record('enrol', ['courseid' => $courseid, 'enrol' => 'manual'], '*', MUST_EXIST);
    }
}
