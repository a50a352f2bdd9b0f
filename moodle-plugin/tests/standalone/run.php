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

/**
 * Checks the payload builder and the signer without Moodle, against the shared webhook test vectors.
 *
 * Usage: php tests/standalone/run.php [path/to/webhook-vectors.json]
 * The last line of output is "N passed, N failed"; the exit status is 1 when anything failed.
 *
 * @package    local_whatsappnotifier
 * @copyright  2026 The notifier team
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

// Only the Moodle-free classes are loaded; anything else they touched would fail here at once.
define('MOODLE_INTERNAL', true);
if (PHP_SAPI !== 'cli') {
    die("Run from the command line.\n");
}

require_once(__DIR__ . '/../../classes/local/signer.php');
require_once(__DIR__ . '/../../classes/local/payload_builder.php');
require_once(__DIR__ . '/../../classes/local/http_result.php');

use local_whatsappnotifier\local\http_result;
use local_whatsappnotifier\local\payload_builder;
use local_whatsappnotifier\local\signer;

$passed = 0;
$failed = 0;

/**
 * Records one check.
 *
 * @param string $name
 * @param bool $ok
 * @param string $detail shown on failure
 */
function check(string $name, bool $ok, string $detail = ''): void {
    global $passed, $failed;
    if ($ok) {
        $passed++;
        echo "ok   {$name}\n";
    } else {
        $failed++;
        echo "FAIL {$name}" . ($detail !== '' ? "\n     {$detail}" : '') . "\n";
    }
}

/**
 * Whether a callable throws \InvalidArgumentException.
 *
 * @param callable $fn
 * @return bool
 */
function throws_invalid_argument(callable $fn): bool {
    try {
        $fn();
    } catch (\InvalidArgumentException $e) {
        return true;
    }
    return false;
}

/**
 * Builds a vector's body from its input, the way the plugin does.
 *
 * @param array $vector
 * @return string
 */
function build_body(array $vector): string {
    $in = $vector['input'];
    if (($in['builder'] ?? 'event') === 'test') {
        $payload = payload_builder::build_test($vector['msg_id'], $in['site'], (int)$in['time'], (int)$in['userid']);
    } else {
        $payload = payload_builder::build($vector['msg_id'], $in['site'], $in['event'], $in['user'], $in['roles'] ?? [],
            $in['phonefield'] ?? 'phone1', $in['course'], $in['enrolment'], $in['progress']);
    }
    return payload_builder::encode($payload);
}

// The shared vectors.
$path = $argv[1] ?? __DIR__ . '/../../../testdata/webhook-vectors.json';
$json = @file_get_contents($path);
$vectors = $json === false ? null : json_decode($json, true);
check("vectors file {$path} is a JSON array", is_array($vectors) && array_is_list($vectors) && count($vectors) > 0);

foreach (is_array($vectors) ? $vectors : [] as $i => $vector) {
    $name = "vector {$i} (" . ($vector['name'] ?? '?') . ')';
    foreach (['name', 'secret', 'msg_id', 'timestamp', 'body', 'signature', 'input'] as $key) {
        if (!array_key_exists($key, $vector)) {
            check("{$name}: has {$key}", false);
            continue 2;
        }
    }
    try {
        $body = build_body($vector);
        check("{$name}: builder output equals body", $body === $vector['body'],
            "got:  {$body}\n     want: {$vector['body']}");
    } catch (\Throwable $e) {
        check("{$name}: builder output equals body", false, get_class($e) . ': ' . $e->getMessage());
    }

    check("{$name}: secret is valid", signer::is_valid_secret($vector['secret']));
    $signature = signer::sign($vector['secret'], $vector['msg_id'], (int)$vector['timestamp'], $vector['body']);
    check("{$name}: signature", $signature === $vector['signature'], "got {$signature}, want {$vector['signature']}");
    check("{$name}: verifies", signer::verify($vector['secret'], $vector['msg_id'], (int)$vector['timestamp'],
        $vector['body'], 'v1,bm90IHRoaXMgb25l ' . $vector['signature']));
    check("{$name}: a changed body does not verify", !signer::verify($vector['secret'], $vector['msg_id'],
        (int)$vector['timestamp'], $vector['body'] . ' ', $vector['signature']));
    check("{$name}: another timestamp does not verify", !signer::verify($vector['secret'], $vector['msg_id'],
        (int)$vector['timestamp'] + 1, $vector['body'], $vector['signature']));

    $headers = signer::headers($vector['secret'], $vector['msg_id'], (int)$vector['timestamp'], $vector['body']);
    check("{$name}: headers", $headers === [
        'webhook-id' => $vector['msg_id'],
        'webhook-timestamp' => (string)$vector['timestamp'],
        'webhook-signature' => $vector['signature'],
    ]);

    $decoded = json_decode($vector['body'], true);
    check("{$name}: body id is the webhook-id", is_array($decoded) && ($decoded['id'] ?? null) === $vector['msg_id']
        && ($decoded['schema'] ?? null) === 1);
}

// The example every Standard Webhooks reference library tests itself with.
check('signature matches the Standard Webhooks reference example', signer::sign('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
    'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}') === 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');

// Secrets.
$key32 = base64_encode(str_repeat("\x01", 32));
$cases = [
    ['whsec_' . base64_encode(str_repeat('a', 24)), null],
    ['whsec_' . $key32, null],
    ['whsec_' . base64_encode(str_repeat("\xff", 64)), null],
    ['', 'missing'],
    [$key32, 'prefix'],
    ['WHSEC_' . $key32, 'prefix'],
    ['whsec_', 'base64'],
    ['whsec_' . rtrim(base64_encode(str_repeat('b', 25)), '='), 'base64'],
    ['whsec_' . strtr(base64_encode(str_repeat("\xfb\xff", 16)), '+/', '-_'), 'base64'],
    ['whsec_' . $key32 . ' ', 'base64'],
    ['whsec_' . base64_encode(str_repeat('c', 23)), 'length'],
    ['whsec_' . base64_encode(str_repeat('d', 65)), 'length'],
];
foreach ($cases as [$secret, $want]) {
    $got = signer::secret_problem($secret);
    check('secret ' . json_encode($secret) . ' -> ' . ($want ?? 'valid'), $got === $want, 'got ' . ($got ?? 'valid'));
}
check('generated secrets are valid', signer::is_valid_secret(signer::generate_secret())
    && signer::is_valid_secret(signer::generate_secret(24)) && signer::is_valid_secret(signer::generate_secret(64)));
check('signing with a malformed secret throws', throws_invalid_argument(fn() => signer::sign('whsec_x', 'id', 1, '{}')));

// Delivery ids.
foreach (['0f8fad5b-d9cb-469f-a165-70867728950e' => true, 'a' => true, str_repeat('a', 64) => true,
        'user_updated:5:1.x' => true, '' => false, str_repeat('a', 65) => false, 'has space' => false,
        "id\n" => false, 'ñ' => false] as $id => $want) {
    check('msg id ' . json_encode((string)$id) . ($want ? ' accepted' : ' refused'),
        signer::is_valid_msg_id((string)$id) === $want);
}

// What an answer means.
$answers = [
    [200, 'success'], [202, 'success'], [204, 'success'],
    [400, 'permanent'], [401, 'permanent'], [404, 'permanent'], [413, 'permanent'], [422, 'permanent'],
    [408, 'retry'], [425, 'retry'], [429, 'retry'], [500, 'retry'], [502, 'retry'], [503, 'retry'],
    [301, 'retry'], [101, 'retry'], [null, 'retry'],
];
foreach ($answers as [$status, $want]) {
    $r = new http_result($status, '');
    $got = $r->is_success() ? 'success' : ($r->is_permanent_failure() ? 'permanent' : 'retry');
    check('HTTP ' . ($status ?? 'none') . " -> {$want}", $got === $want && $r->should_retry() === ($want === 'retry'),
        "got {$got}");
}
$blocked = new http_result(null, 'The URL is blocked.', 'The URL is blocked.', 0);
check('a blocked URL (no status, errno 0) is retried, not success', !$blocked->is_success() && $blocked->should_retry());
check('a blocked URL is described', str_contains($blocked->describe(), 'The URL is blocked.'));
$long = new http_result(500, str_repeat('é', 400));
check('long bodies are cut on a character boundary', strlen($long->body_excerpt()) <= http_result::EXCERPT_BYTES + 3
    && preg_match('//u', $long->body_excerpt()) === 1);

// Progress and its encoding.
check('no tracked SCORM: total 0, percent null', payload_builder::progress(0, 0)
    === ['scorm_total' => 0, 'scorm_completed' => 0, 'percent' => null]);
check('2 of 4 encodes as 50.0', payload_builder::encode(payload_builder::progress(4, 2))
    === '{"scorm_total":4,"scorm_completed":2,"percent":50.0}');
check('completed never exceeds total', payload_builder::progress(2, 5)['percent'] === 100.0);
$precision = ini_get('serialize_precision');
ini_set('serialize_precision', '17');
$encoded = payload_builder::encode(payload_builder::progress(3, 2));
$restored = ini_get('serialize_precision');
ini_set('serialize_precision', (string)$precision);
check('encoding ignores php.ini serialize_precision',
    $encoded === '{"scorm_total":3,"scorm_completed":2,"percent":66.66666666666667}', $encoded);
check('encoding restores serialize_precision', $restored === '17');

// Event names and ids.
check('every Moodle event maps to its contract name', count(payload_builder::EVENTS) === 8
    && payload_builder::contract_event_name('\\mod_scorm\\event\\status_submitted') === 'scorm_status_submitted'
    && payload_builder::contract_event_name('core\\event\\user_updated') === 'user_updated'
    && payload_builder::contract_event_name('\\core\\event\\role_assigned') === null);
check('user of user_updated falls back to objectid', payload_builder::event_user_id(
    ['eventname' => '\\core\\event\\user_updated', 'objectid' => '9', 'relateduserid' => null]) === 9);
check('course_updated has no user', payload_builder::event_user_id(
    ['eventname' => '\\core\\event\\course_updated', 'relateduserid' => '3']) === null);
check('user_updated has no course', payload_builder::event_course_id(
    ['eventname' => '\\core\\event\\user_updated', 'courseid' => '0']) === null);
check('course of course_updated', payload_builder::event_course_id(
    ['eventname' => '\\core\\event\\course_updated', 'courseid' => '7', 'objectid' => 7]) === 7);
check('ints from strings, ints, whole floats; 0 otherwise', payload_builder::to_int('42') === 42
    && payload_builder::to_int(42) === 42 && payload_builder::to_int(42.0) === 42 && payload_builder::to_int('4x') === 0
    && payload_builder::to_int(null) === 0 && payload_builder::to_int([]) === 0);
check('snapshot read from a JSON-encoded "other" as the log stores it', payload_builder::enrolment_snapshot(
    ['other' => '{"userenrolment":{"id":"2","status":"1"}}'])['status'] === '1');

// Payloads that must not be built.
$enrolled = ['eventname' => '\\core\\event\\user_enrolment_created', 'objectid' => 1, 'courseid' => '2',
    'relateduserid' => '3', 'timecreated' => 1];
$user = ['id' => 3, 'username' => 'u'];
$course = ['id' => 2, 'shortname' => 'c'];
check('an enrolment event without user is refused', throws_invalid_argument(
    fn() => payload_builder::build('x', 's', $enrolled, null, [], 'phone1', $course)));
check('an enrolment event without course is refused', throws_invalid_argument(
    fn() => payload_builder::build('x', 's', $enrolled, $user)));
check('a user without a positive id is refused', throws_invalid_argument(
    fn() => payload_builder::build('x', 's', $enrolled, ['id' => '0'], [], 'phone1', $course)));
check('an unknown event is refused', throws_invalid_argument(
    fn() => payload_builder::build('x', 's', ['eventname' => '\\core\\event\\role_assigned'] + $enrolled, $user, [],
        'phone1', $course)));
check('a malformed delivery id is refused', throws_invalid_argument(
    fn() => payload_builder::build('bad id', 's', $enrolled, $user, [], 'phone1', $course)));
$payload = payload_builder::build('x', 's', $enrolled, $user + ['phone2' => '+1 555'], ['student'], 'phone2', $course,
    null, null);
check('optional sections are omitted, phone comes from the chosen field', !isset($payload['enrolment'])
    && !isset($payload['progress']) && $payload['user']['phone'] === '+1 555');
$deleted = ['eventname' => '\\core\\event\\user_enrolment_deleted', 'other' => null] + $enrolled;
check('a deletion without snapshot has no enrolment', !isset(payload_builder::build('x', 's', $deleted, $user, [],
    'phone1', $course)['enrolment']));

echo "{$passed} passed, {$failed} failed\n";
exit($failed === 0 ? 0 : 1);
