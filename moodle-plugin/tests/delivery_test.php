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

use local_whatsappnotifier\local\curl_transport;
use local_whatsappnotifier\local\delivery;
use local_whatsappnotifier\local\http_result;
use local_whatsappnotifier\local\signer;
use local_whatsappnotifier\local\transport;
use local_whatsappnotifier\task\deliver_event;

/**
 * Tests for the ad-hoc task that builds, signs and posts payloads.
 *
 * @package    local_whatsappnotifier
 * @category   test
 * @copyright  2026 The notifier team
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 * @covers     \local_whatsappnotifier\task\deliver_event
 * @covers     \local_whatsappnotifier\local\delivery
 * @covers     \local_whatsappnotifier\local\payload_factory
 * @covers     \local_whatsappnotifier\local\scorm_progress
 * @covers     \local_whatsappnotifier\local\curl_transport
 */
final class delivery_test extends \advanced_testcase {

    /** @var string Secret of every test. */
    private const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';

    /** @var object|null The fake transport of the running test. */
    private ?object $transport = null;

    protected function setUp(): void {
        global $CFG;
        require_once($CFG->libdir . '/completionlib.php');
        parent::setUp();
        $this->resetAfterTest();
        $CFG->enablecompletion = 1;
        set_config('endpoint', 'https://notifier.example.com/', 'local_whatsappnotifier');
        set_config('secret', self::SECRET, 'local_whatsappnotifier');
        $this->answer_with(new http_result(202, '{"status":"accepted"}'));
    }

    protected function tearDown(): void {
        delivery::set_transport_for_testing(null);
        $this->transport = null;
        parent::tearDown();
    }

    /**
     * Makes deliveries go to a fake that records requests and gives these answers, then 202s.
     *
     * @param http_result ...$answers
     */
    private function answer_with(http_result ...$answers): void {
        $this->transport = new class($answers) implements transport {
            /** @var array[] Requests received. */
            public array $requests = [];

            /**
             * Constructor.
             *
             * @param http_result[] $answers
             */
            public function __construct(private array $answers) {
            }

            /**
             * Records the request and gives the next answer.
             *
             * @param string $url
             * @param string $body
             * @param array $headers
             * @return http_result
             */
            public function post(string $url, string $body, array $headers): http_result {
                $this->requests[] = ['url' => $url, 'body' => $body, 'headers' => $headers];
                return array_shift($this->answers) ?? new http_result(202, '{"status":"accepted"}');
            }
        };
        delivery::set_transport_for_testing($this->transport);
    }

    /**
     * Runs the queued deliveries as cron would, and returns what they printed.
     *
     * @return string
     */
    private function run_deliveries(): string {
        ob_start();
        try {
            $this->runAdhocTasks(deliver_event::class);
        } finally {
            $output = ob_get_clean();
        }
        return $output;
    }

    /**
     * The decoded bodies posted so far, after checking each one's signature and id.
     *
     * @return array[]
     */
    private function posted(): array {
        $bodies = [];
        foreach ($this->transport->requests as $request) {
            $this->assertSame('https://notifier.example.com/webhooks/moodle', $request['url']);
            $headers = $request['headers'];
            $this->assertTrue(signer::verify(self::SECRET, $headers['webhook-id'], (int)$headers['webhook-timestamp'],
                $request['body'], $headers['webhook-signature']), 'signature');
            $this->assertEqualsWithDelta(time(), (int)$headers['webhook-timestamp'], 60);
            $body = json_decode($request['body'], true, 512, JSON_THROW_ON_ERROR);
            $this->assertSame($headers['webhook-id'], $body['id']);
            $this->assertSame(1, $body['schema']);
            $bodies[] = $body;
        }
        return $bodies;
    }

    /**
     * The one queued delivery.
     *
     * @return deliver_event
     */
    private function queued_task(): deliver_event {
        $tasks = \core\task\manager::get_adhoc_tasks(deliver_event::class);
        $this->assertCount(1, $tasks);
        return reset($tasks);
    }

    /**
     * A course with completion, three tracked visible SCORMs, an untracked one, a hidden tracked one and a page.
     *
     * @return array [course, cmids keyed a, b, c, untracked, hidden, page]
     */
    private function course_with_scorms(): array {
        $this->setAdminUser();
        $generator = $this->getDataGenerator();
        $course = $generator->create_course(['enablecompletion' => 1, 'startdate' => 1764547200, 'enddate' => 1767225600,
            'shortname' => 'PRL-01', 'fullname' => 'Prevención de riesgos']);
        $cmids = [];
        foreach (['a' => [1, 1], 'b' => [1, 1], 'c' => [1, 1], 'untracked' => [0, 1], 'hidden' => [1, 0]] as $key => $opts) {
            $cmids[$key] = (int)$generator->create_module('scorm', ['course' => $course->id,
                'completion' => $opts[0] ? COMPLETION_TRACKING_MANUAL : COMPLETION_TRACKING_NONE, 'visible' => $opts[1]])->cmid;
        }
        $cmids['page'] = (int)$generator->create_module('page', ['course' => $course->id,
            'completion' => COMPLETION_TRACKING_MANUAL])->cmid;
        $this->setUser(null);
        return [$course, $cmids];
    }

    /**
     * Writes a completion state directly, as completion_info would after an attempt.
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

    public function test_enrolment_payload_with_roles_phone_dates_enrolment_and_progress(): void {
        global $CFG, $DB;

        [$course, $cmids] = $this->course_with_scorms();
        $user = $this->getDataGenerator()->create_user(['firstname' => 'Ana', 'lastname' => 'Ruiz', 'phone1' => '+34 600 111 222',
            'lang' => 'en', 'timezone' => 'Europe/Madrid']);
        $this->set_completion($cmids['a'], $user->id, COMPLETION_COMPLETE);
        $this->set_completion($cmids['b'], $user->id, COMPLETION_COMPLETE_PASS);
        $this->set_completion($cmids['c'], $user->id, COMPLETION_COMPLETE_FAIL);
        $this->set_completion($cmids['untracked'], $user->id, COMPLETION_COMPLETE);
        $this->set_completion($cmids['hidden'], $user->id, COMPLETION_COMPLETE);
        $this->set_completion($cmids['page'], $user->id, COMPLETION_COMPLETE);
        $this->getDataGenerator()->enrol_user($user->id, $course->id, 'student');
        $queuedid = json_decode($this->queued_task()->get_custom_data_as_string())->id;

        $this->assertMatchesRegularExpression('/delivered: HTTP 202/', $this->run_deliveries());
        $bodies = $this->posted();
        $this->assertCount(1, $bodies);
        $body = $bodies[0];
        $ue = $DB->get_record_sql('SELECT ue.* FROM {user_enrolments} ue JOIN {enrol} e ON e.id = ue.enrolid
            WHERE ue.userid = ? AND e.courseid = ?', [$user->id, $course->id]);

        $this->assertSame($queuedid, $body['id']);
        $this->assertSame('user_enrolment_created', $body['event']);
        $this->assertSame($CFG->wwwroot, $body['site']);
        $this->assertSame([
            'id' => (int)$user->id, 'username' => $user->username, 'firstname' => 'Ana', 'lastname' => 'Ruiz',
            'email' => $user->email, 'phone' => '+34 600 111 222', 'lang' => 'en', 'timezone' => 'Europe/Madrid',
            'roles' => ['student'],
        ], $body['user']);
        $this->assertSame(['id' => (int)$course->id, 'shortname' => 'PRL-01', 'fullname' => 'Prevención de riesgos',
            'startdate' => 1764547200, 'enddate' => 1767225600], $body['course']);
        $this->assertSame(['id' => (int)$ue->id, 'status' => 0, 'timestart' => (int)$ue->timestart, 'timeend' => 0],
            $body['enrolment']);
        // Complete and complete-pass count; complete-fail, untracked, hidden and non-SCORM do not.
        $this->assertSame(3, $body['progress']['scorm_total']);
        $this->assertSame(2, $body['progress']['scorm_completed']);
        $this->assertEqualsWithDelta(200 / 3, $body['progress']['percent'], 1e-9);
        $this->assertSame('\core\event\user_enrolment_created', $body['moodle']['eventname']);
    }

    public function test_roles_are_read_when_the_task_runs(): void {
        global $DB;

        $course = $this->getDataGenerator()->create_course();
        $user = $this->getDataGenerator()->create_user();
        $instance = $DB->get_record('enrol', ['courseid' => $course->id, 'enrol' => 'manual'], '*', MUST_EXIST);
        // Like enrolments through the PHP API: the event fires before any role is assigned.
        enrol_get_plugin('manual')->enrol_user($instance, $user->id, null);
        role_assign($DB->get_field('role', 'id', ['shortname' => 'student']), $user->id, \context_course::instance($course->id));

        $this->run_deliveries();
        $bodies = $this->posted();
        $this->assertCount(1, $bodies);
        $this->assertSame(['student'], $bodies[0]['user']['roles']);
        // No SCORM in the course: the contract's null percentage.
        $this->assertSame(['scorm_total' => 0, 'scorm_completed' => 0, 'percent' => null], $bodies[0]['progress']);
    }

    public function test_users_without_a_reported_role_are_not_sent(): void {
        $course = $this->getDataGenerator()->create_course();
        $this->getDataGenerator()->enrol_user($this->getDataGenerator()->create_user()->id, $course->id, 'editingteacher');

        $this->assertMatchesRegularExpression('/holds none of the reported roles/', $this->run_deliveries());
        $this->assertSame([], $this->transport->requests);

        set_config('roles', 'student,editingteacher', 'local_whatsappnotifier');
        $this->getDataGenerator()->enrol_user($this->getDataGenerator()->create_user()->id, $course->id, 'editingteacher');
        $this->run_deliveries();
        $this->assertCount(1, $this->posted());
    }

    public function test_suspended_enrolment_is_reported_as_suspended(): void {
        $course = $this->getDataGenerator()->create_course();
        $user = $this->getDataGenerator()->create_user();
        $this->getDataGenerator()->enrol_user($user->id, $course->id, 'student', 'manual', time() + DAYSECS, 0,
            ENROL_USER_SUSPENDED);

        $this->run_deliveries();
        $enrolment = $this->posted()[0]['enrolment'];
        $this->assertSame(1, $enrolment['status']);
        $this->assertGreaterThan(time(), $enrolment['timestart']);
    }

    public function test_deleted_enrolment_is_built_from_the_event(): void {
        global $DB;

        $course = $this->getDataGenerator()->create_course();
        $user = $this->getDataGenerator()->create_user();
        $this->getDataGenerator()->enrol_user($user->id, $course->id, 'student');
        $this->run_deliveries();
        $ueid = (int)$this->posted()[0]['enrolment']['id'];

        $instance = $DB->get_record('enrol', ['courseid' => $course->id, 'enrol' => 'manual'], '*', MUST_EXIST);
        enrol_get_plugin('manual')->unenrol_user($instance, $user->id);
        $this->assertFalse($DB->record_exists('user_enrolments', ['id' => $ueid]));
        $this->run_deliveries();

        $bodies = $this->posted();
        $this->assertCount(2, $bodies);
        $this->assertSame('user_enrolment_deleted', $bodies[1]['event']);
        $this->assertSame((int)$user->id, $bodies[1]['user']['id']);
        $this->assertSame((int)$course->id, $bodies[1]['course']['id']);
        $this->assertSame($ueid, $bodies[1]['enrolment']['id']);
        $this->assertSame(0, $bodies[1]['enrolment']['status']);
        $this->assertArrayNotHasKey('progress', $bodies[1]);
    }

    public function test_user_updated_has_no_course_and_reads_a_profile_field(): void {
        global $CFG, $DB;
        require_once($CFG->dirroot . '/user/lib.php');

        $fieldid = $DB->insert_record('user_info_field', (object)['shortname' => 'whatsapp', 'name' => 'WhatsApp',
            'datatype' => 'text', 'categoryid' => 1]);
        set_config('phonefield', 'profile_field_whatsapp', 'local_whatsappnotifier');
        $course = $this->getDataGenerator()->create_course();
        $user = $this->getDataGenerator()->create_user();
        $DB->insert_record('user_info_data', (object)['userid' => $user->id, 'fieldid' => $fieldid, 'data' => '+34 611 222 333']);
        $this->getDataGenerator()->enrol_user($user->id, $course->id, 'student');
        $this->run_deliveries();

        user_update_user((object)['id' => $user->id, 'firstname' => 'Zoë'], false);
        $this->run_deliveries();

        $body = $this->posted()[1];
        $this->assertSame('user_updated', $body['event']);
        $this->assertArrayNotHasKey('course', $body);
        $this->assertArrayNotHasKey('enrolment', $body);
        $this->assertSame('Zoë', $body['user']['firstname']);
        $this->assertSame('+34 611 222 333', $body['user']['phone']);
        $this->assertSame([], $body['user']['roles']);
    }

    public function test_course_updated_has_no_user(): void {
        global $CFG;
        require_once($CFG->dirroot . '/course/lib.php');

        $course = $this->getDataGenerator()->create_course();
        $enddate = (int)$course->startdate + 30 * DAYSECS;
        update_course((object)['id' => $course->id, 'fullname' => 'Nuevo nombre', 'enddate' => $enddate]);
        $this->run_deliveries();

        $body = $this->posted()[0];
        $this->assertSame('course_updated', $body['event']);
        $this->assertArrayNotHasKey('user', $body);
        $this->assertSame('Nuevo nombre', $body['course']['fullname']);
        $this->assertSame($enddate, $body['course']['enddate']);
    }

    /**
     * Answers and whether each makes Moodle retry.
     *
     * @return array
     */
    public static function answers_provider(): array {
        return [
            'accepted' => [202, '{"status":"accepted"}', false],
            'duplicate' => [200, '{"status":"duplicate"}', false],
            'schema error, logged' => [422, '{"title":"Unprocessable"}', false],
            'bad signature, logged' => [401, '{"title":"Unauthorized"}', false],
            'server error' => [500, 'oops', true],
            'store busy' => [503, '{"title":"Unavailable"}', true],
            'too many requests' => [429, '', true],
            'request timeout' => [408, '', true],
            'too early' => [425, '', true],
            'no answer' => [null, '', true],
            'blocked URL' => [null, 'The URL is blocked.', true],
        ];
    }

    /**
     * @dataProvider answers_provider
     * @param int|null $status
     * @param string $body
     * @param bool $retried
     */
    public function test_answers_decide_retries(?int $status, string $body, bool $retried): void {
        $course = $this->getDataGenerator()->create_course();
        $this->getDataGenerator()->enrol_user($this->getDataGenerator()->create_user()->id, $course->id, 'student');
        $task = $this->queued_task();
        $this->answer_with(new http_result($status, $body));

        ob_start();
        try {
            $task->execute();
            $this->assertFalse($retried, 'expected an exception that makes Moodle retry');
        } catch (\moodle_exception $e) {
            $this->assertTrue($retried, 'unexpected retry: ' . $e->getMessage());
        } finally {
            $output = ob_get_clean();
        }
        if ($status !== null && $status >= 400 && !$retried) {
            $this->assertMatchesRegularExpression('/refused, not retried: HTTP ' . $status . '/', $output);
        }
        $this->assertCount(1, $this->transport->requests);
    }

    public function test_a_retry_reuses_the_delivery_id(): void {
        $course = $this->getDataGenerator()->create_course();
        $this->getDataGenerator()->enrol_user($this->getDataGenerator()->create_user()->id, $course->id, 'student');
        $task = $this->queued_task();
        $this->answer_with(new http_result(503, ''), new http_result(202, '{}'));

        ob_start();
        try {
            $task->execute();
            $this->fail('a 503 must be retried');
        } catch (\moodle_exception $e) {
            $this->assertSame('errordeliveryretry', $e->errorcode);
        }
        $task->execute();
        ob_end_clean();

        [$first, $second] = $this->transport->requests;
        $this->assertSame($first['headers']['webhook-id'], $second['headers']['webhook-id']);
        $this->assertSame($first['body'], $second['body']);
    }

    public function test_a_malformed_secret_is_retried_until_fixed(): void {
        $course = $this->getDataGenerator()->create_course();
        $this->getDataGenerator()->enrol_user($this->getDataGenerator()->create_user()->id, $course->id, 'student');
        $task = $this->queued_task();
        set_config('secret', 'whsec_tooshort', 'local_whatsappnotifier');

        ob_start();
        try {
            $task->execute();
            $this->fail('a malformed secret must make the task fail');
        } catch (\moodle_exception $e) {
            $this->assertSame('errorsecretlength', $e->errorcode);
        } finally {
            ob_end_clean();
        }
        $this->assertSame([], $this->transport->requests);
    }

    public function test_curl_transport_judges_by_status(): void {
        \curl::mock_response('{"id":"x","status":"accepted"}');
        $result = (new curl_transport())->post('https://notifier.example.com/webhooks/moodle', '{}', ['webhook-id' => 'x']);
        $this->assertSame(200, $result->status);
        $this->assertTrue($result->is_success());
    }

    public function test_a_blocked_url_is_not_a_success(): void {
        set_config('curlsecurityblockedhosts', "127.0.0.0/8\nlocalhost");
        set_config('curlsecurityallowedport', "443\n80");

        $result = (new curl_transport())->post('http://127.0.0.1:8080/webhooks/moodle', '{}', []);
        $this->assertNull($result->status);
        $this->assertSame(0, $result->errno);
        $this->assertStringContainsString(get_string('curlsecurityurlblocked', 'admin'), $result->body);
        $this->assertTrue($result->should_retry());
    }
}
