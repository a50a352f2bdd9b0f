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
 * Sends a signed test event to the notifier now and shows its answer.
 *
 * @package    local_whatsappnotifier
 * @copyright  2026 The notifier team
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

require_once(__DIR__ . '/../../config.php');
require_once($CFG->libdir . '/adminlib.php');

use local_whatsappnotifier\local\config;
use local_whatsappnotifier\local\delivery;
use local_whatsappnotifier\local\signer;

admin_externalpage_setup('local_whatsappnotifier_testevent');

$pageurl = new moodle_url('/local/whatsappnotifier/testevent.php');
$settingsurl = new moodle_url('/admin/settings.php', ['section' => 'local_whatsappnotifier']);
$config = config::load();

$result = null;
$error = null;
if (optional_param('send', 0, PARAM_BOOL) && confirm_sesskey()) {
    try {
        $result = delivery::create()->send_test((int)$USER->id);
    } catch (moodle_exception $e) {
        $error = $e->getMessage();
    }
}

echo $OUTPUT->header();
echo $OUTPUT->heading(get_string('testevent', 'local_whatsappnotifier'));
echo html_writer::tag('p', get_string('testevent_desc', 'local_whatsappnotifier'));

$problems = [];
if (!$config->is_enabled()) {
    $problems[] = get_string('errornoendpoint', 'local_whatsappnotifier');
}
$secretproblem = signer::secret_problem($config->secret);
if ($secretproblem !== null) {
    $problems[] = get_string('errorsecret' . $secretproblem, 'local_whatsappnotifier');
}
foreach ($problems as $problem) {
    echo $OUTPUT->notification($problem, \core\output\notification::NOTIFY_WARNING);
}

echo html_writer::tag('p', get_string('testeventtarget', 'local_whatsappnotifier',
    s($config->is_enabled() ? $config->webhook_url() : '-')));

if ($error !== null) {
    echo $OUTPUT->notification(s($error), \core\output\notification::NOTIFY_ERROR);
}

if ($result !== null) {
    if ($result->is_success()) {
        echo $OUTPUT->notification(get_string('testeventok', 'local_whatsappnotifier', $result->status),
            \core\output\notification::NOTIFY_SUCCESS);
    } else if ($result->status === null) {
        echo $OUTPUT->notification(get_string('testeventnoanswer', 'local_whatsappnotifier', s($result->describe())),
            \core\output\notification::NOTIFY_ERROR);
        if (trim($result->body) === 'The URL is blocked.' || trim($result->error) === 'The URL is blocked.') {
            $securityurl = new moodle_url('/admin/settings.php', ['section' => 'httpsecurity']);
            echo $OUTPUT->notification(get_string('testeventblocked', 'local_whatsappnotifier', $securityurl->out(false)),
                \core\output\notification::NOTIFY_INFO);
        }
    } else {
        echo $OUTPUT->notification(get_string('testeventrefused', 'local_whatsappnotifier', $result->status),
            \core\output\notification::NOTIFY_ERROR);
    }

    $rows = [
        [get_string('testeventstatus', 'local_whatsappnotifier'), $result->status === null ? '-' : (string)$result->status],
        [get_string('testeventbody', 'local_whatsappnotifier'), html_writer::tag('pre', s($result->body))],
    ];
    if ($result->error !== '' || $result->errno !== 0) {
        $rows[] = [get_string('testeventerror', 'local_whatsappnotifier'), s(trim($result->error . ' (' . $result->errno . ')'))];
    }
    $table = new html_table();
    $table->attributes['class'] = 'generaltable';
    $table->data = $rows;
    echo html_writer::table($table);
}

echo $OUTPUT->single_button(new moodle_url($pageurl, ['send' => 1, 'sesskey' => sesskey()]),
    get_string('testeventsend', 'local_whatsappnotifier'), 'post');
echo html_writer::tag('p', html_writer::link($settingsurl, get_string('settings', 'local_whatsappnotifier')));

echo $OUTPUT->footer();
