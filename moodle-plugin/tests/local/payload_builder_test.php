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
 * Tests for the payload builder.
 *
 * The shared vectors in the repository's testdata/ check it more thoroughly, without Moodle; these
 * keep the main rules covered inside a Moodle checkout too.
 *
 * @package    local_whatsappnotifier
 * @category   test
 * @copyright  2026 The notifier team
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 * @covers     \local_whatsappnotifier\local\payload_builder
 */
final class payload_builder_test extends \basic_testcase {

    /** @var array Event data of an enrolment, ids as strings the way Moodle mixes them. */
    private const EVENT = [
        'eventname' => '\core\event\user_enrolment_created',
        'objectid' => 8,
        'courseid' => '3',
        'relateduserid' => '3',
        'contextinstanceid' => '3',
        'other' => ['enrol' => 'manual'],
        'timecreated' => 1796312967,
    ];

    public function test_enrolment_payload(): void {
        $user = (object)['id' => '3', 'username' => 'ana', 'firstname' => 'Ana', 'lastname' => 'Ruiz',
            'email' => 'ana@example.com', 'phone1' => '', 'phone2' => ' +34 600 111 222 ', 'lang' => 'es',
            'timezone' => '99'];
        $course = (object)['id' => '3', 'shortname' => 'PRL-01', 'fullname' => 'Prevención', 'startdate' => '1764547200',
            'enddate' => '0'];
        $enrolment = (object)['id' => '8', 'status' => '0', 'timestart' => '0', 'timeend' => '0', 'enrolstatus' => '0'];

        $payload = payload_builder::build('id-1', 'https://moodle.example.com', self::EVENT, $user, ['student', 'student'],
            'phone2', $course, $enrolment, ['scorm_total' => 4, 'scorm_completed' => 2]);

        $this->assertSame(['schema', 'id', 'event', 'occurred_at', 'site', 'user', 'course', 'enrolment', 'progress',
            'moodle'], array_keys($payload));
        $this->assertSame(3, $payload['user']['id']);
        $this->assertSame('+34 600 111 222', $payload['user']['phone']);
        $this->assertSame(['student'], $payload['user']['roles']);
        $this->assertSame(['id' => 3, 'shortname' => 'PRL-01', 'fullname' => 'Prevención', 'startdate' => 1764547200,
            'enddate' => 0], $payload['course']);
        $this->assertSame(['id' => 8, 'status' => 0, 'timestart' => 0, 'timeend' => 0], $payload['enrolment']);
        $this->assertSame(self::EVENT, $payload['moodle']);
        $this->assertStringContainsString('"percent":50.0', payload_builder::encode($payload));
        $this->assertStringContainsString('"fullname":"Prevención"', payload_builder::encode($payload));
    }

    public function test_disabled_method_reports_suspended(): void {
        $payload = payload_builder::build('id-1', 's', self::EVENT, ['id' => 3], [], 'phone1', ['id' => 3],
            ['id' => 8, 'status' => 0, 'enrolstatus' => 1]);
        $this->assertSame(1, $payload['enrolment']['status']);
    }

    public function test_deleted_enrolment_comes_from_the_snapshot(): void {
        $event = ['eventname' => '\core\event\user_enrolment_deleted',
            'other' => ['userenrolment' => ['id' => '2', 'status' => '1', 'timestart' => '5', 'timeend' => '0'],
                'enrol' => 'manual']] + self::EVENT;
        $payload = payload_builder::build('id-1', 's', $event, ['id' => 3], [], 'phone1', ['id' => 3]);
        $this->assertSame(['id' => 2, 'status' => 1, 'timestart' => 5, 'timeend' => 0], $payload['enrolment']);
    }

    public function test_sections_by_event(): void {
        $updated = ['eventname' => '\core\event\user_updated', 'objectid' => '3', 'courseid' => '0'] + self::EVENT;
        $payload = payload_builder::build('id-1', 's', $updated, ['id' => 3]);
        $this->assertArrayNotHasKey('course', $payload);

        $courseupdated = ['eventname' => '\core\event\course_updated', 'relateduserid' => null] + self::EVENT;
        $payload = payload_builder::build('id-1', 's', $courseupdated, null, [], 'phone1', ['id' => 3]);
        $this->assertArrayNotHasKey('user', $payload);
    }

    public function test_progress(): void {
        $this->assertSame(['scorm_total' => 0, 'scorm_completed' => 0, 'percent' => null], payload_builder::progress(0, 0));
        $this->assertSame(['scorm_total' => 3, 'scorm_completed' => 3, 'percent' => 100.0], payload_builder::progress(3, 3));
    }

    public function test_missing_user_is_refused(): void {
        $this->expectException(\InvalidArgumentException::class);
        payload_builder::build('id-1', 's', self::EVENT, null, [], 'phone1', ['id' => 3]);
    }
}
