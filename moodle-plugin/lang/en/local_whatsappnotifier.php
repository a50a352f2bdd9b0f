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
 * Strings for local_whatsappnotifier (en).
 *
 * @package    local_whatsappnotifier
 * @copyright  2026 The notifier team
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

defined('MOODLE_INTERNAL') || die();

$string['endpoint'] = 'Notifier URL';
$string['endpoint_desc'] = 'Base URL of the notifier service, for example https://notifier.example.com. Events are posted to this URL followed by /webhooks/moodle. Leave empty to send nothing. A notifier on 127.0.0.1, a private network or a port other than 80 and 443 is blocked by Moodle until the HTTP security settings allow it (see the plugin README).';
$string['errordeliveryretry'] = 'Delivery of {$a->event} to {$a->url} failed and will be retried: {$a->result}';
$string['errorendpoint'] = 'Enter an absolute http:// or https:// URL without query string or fragment.';
$string['errornoendpoint'] = 'No notifier URL is configured.';
$string['errorroles'] = 'Not a role short name: {$a}';
$string['errorsecretbase64'] = 'After whsec_ the secret must be standard base64 with padding (A-Z, a-z, 0-9, +, / and =).';
$string['errorsecretlength'] = 'The secret must decode to 24 to 64 bytes.';
$string['errorsecretmissing'] = 'No signing secret is configured.';
$string['errorsecretprefix'] = 'The secret must start with whsec_.';
$string['event_course_completed'] = 'Course completed (course_completed)';
$string['event_course_module_completion_updated'] = 'Activity completion updated (course_module_completion_updated)';
$string['event_course_updated'] = 'Course updated (course_updated)';
$string['event_scorm_status_submitted'] = 'SCORM status submitted (scorm_status_submitted)';
$string['event_user_enrolment_created'] = 'User enrolled (user_enrolment_created)';
$string['event_user_enrolment_deleted'] = 'User unenrolled (user_enrolment_deleted)';
$string['event_user_enrolment_updated'] = 'User enrolment updated (user_enrolment_updated)';
$string['event_user_updated'] = 'User profile updated (user_updated)';
$string['events'] = 'Events to send';
$string['events_desc'] = 'Only the events ticked here are sent to the notifier.';
$string['phonefield'] = 'Phone field';
$string['phonefield_desc'] = 'The user field that holds the WhatsApp number: Phone, Mobile phone or a custom profile field.';
$string['phonefieldprofile'] = 'Custom profile field: {$a->name} ({$a->shortname})';
$string['pluginname'] = 'WhatsApp notifier';
$string['privacy:metadata:whatsappnotifier'] = 'Enrolment, SCORM and completion events are sent to the WhatsApp notifier service configured by the administrator, which uses them to send WhatsApp messages to students.';
$string['privacy:metadata:whatsappnotifier:courseid'] = 'The course the event belongs to, with its names and dates.';
$string['privacy:metadata:whatsappnotifier:email'] = 'The user\'s email address.';
$string['privacy:metadata:whatsappnotifier:enrolment'] = 'The user\'s enrolment in the course: its status, start and end.';
$string['privacy:metadata:whatsappnotifier:eventdata'] = 'The Moodle event as recorded: ids of the user who acted and the user affected, the course and the activity, and the event time.';
$string['privacy:metadata:whatsappnotifier:firstname'] = 'The user\'s first name.';
$string['privacy:metadata:whatsappnotifier:lang'] = 'The user\'s preferred language.';
$string['privacy:metadata:whatsappnotifier:lastname'] = 'The user\'s last name.';
$string['privacy:metadata:whatsappnotifier:phone'] = 'The user\'s phone number, from the configured phone field.';
$string['privacy:metadata:whatsappnotifier:progress'] = 'The user\'s SCORM progress in the course: activities completed out of those tracked.';
$string['privacy:metadata:whatsappnotifier:roles'] = 'The user\'s roles in the course.';
$string['privacy:metadata:whatsappnotifier:timezone'] = 'The user\'s timezone.';
$string['privacy:metadata:whatsappnotifier:userid'] = 'The user\'s id.';
$string['privacy:metadata:whatsappnotifier:username'] = 'The user\'s username.';
$string['roles'] = 'Student roles';
$string['roles_desc'] = 'Comma-separated role short names reported as students, for example "student". Events about users who hold none of these roles in the course are not sent, so the numbers of teachers and managers never leave the site; a profile update is sent when the user holds one of them in any course. Unenrolments are always sent. Leave empty to send events about every user.';
$string['secret'] = 'Signing secret';
$string['secret_desc'] = 'The secret shared with the notifier (its MOODLE_WEBHOOK_SECRET): whsec_ followed by the base64 of 24 to 64 random bytes. Every delivery is signed with it (Standard Webhooks).';
$string['settings'] = 'WhatsApp notifier settings';
$string['settingsintro'] = 'Sends enrolment, SCORM and completion events to the WhatsApp notifier service, signed with the shared secret. After saving, check the connection with the <a href="{$a}">test event page</a>.';
$string['taskdeliverevent'] = 'Deliver an event to the WhatsApp notifier';
$string['testevent'] = 'Send a test event';
$string['testevent_desc'] = 'Sends a signed test event (event name "test_event") to the notifier now and shows its answer. The notifier checks the signature, records the event and answers 202 "ignored" without messaging anyone.';
$string['testeventblocked'] = 'Moodle blocked the request before sending it. To reach a notifier on 127.0.0.1, a private host or another port, change the <a href="{$a}">HTTP security settings</a>: remove the notifier\'s addresses from "cURL blocked hosts list" (for 127.0.0.1 remove both 127.0.0.0/8 and localhost) and add its port to "cURL allowed ports list".';
$string['testeventbody'] = 'Response body';
$string['testeventerror'] = 'Transport error';
$string['testeventnoanswer'] = 'No answer from the notifier: {$a}';
$string['testeventok'] = 'The notifier accepted the test event (HTTP {$a}).';
$string['testeventrefused'] = 'The notifier answered HTTP {$a}. A 401 means the secret or the clock differs from the notifier\'s.';
$string['testeventsend'] = 'Send test event';
$string['testeventstatus'] = 'HTTP status';
$string['testeventtarget'] = 'Deliveries go to: {$a}';
$string['whatsappnotifier:viewprogress'] = 'View the SCORM progress of every enrolled user (WhatsApp notifier)';
