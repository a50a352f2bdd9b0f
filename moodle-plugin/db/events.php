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
 * Event observers.
 *
 * All post-commit ('internal' => false): an event whose transaction rolls back must not reach the
 * notifier, and the data the task reads must already be committed.
 *
 * @package    local_whatsappnotifier
 * @copyright  2026 The notifier team
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

defined('MOODLE_INTERNAL') || die();

$observers = [
    [
        'eventname' => '\core\event\user_enrolment_created',
        'callback' => '\local_whatsappnotifier\observer::queue',
        'internal' => false,
    ],
    [
        'eventname' => '\core\event\user_enrolment_updated',
        'callback' => '\local_whatsappnotifier\observer::queue',
        'internal' => false,
    ],
    [
        'eventname' => '\core\event\user_enrolment_deleted',
        'callback' => '\local_whatsappnotifier\observer::queue',
        'internal' => false,
    ],
    [
        'eventname' => '\mod_scorm\event\status_submitted',
        'callback' => '\local_whatsappnotifier\observer::queue',
        'internal' => false,
    ],
    [
        'eventname' => '\core\event\course_module_completion_updated',
        'callback' => '\local_whatsappnotifier\observer::queue',
        'internal' => false,
    ],
    [
        'eventname' => '\core\event\course_completed',
        'callback' => '\local_whatsappnotifier\observer::queue',
        'internal' => false,
    ],
    [
        'eventname' => '\core\event\course_updated',
        'callback' => '\local_whatsappnotifier\observer::queue',
        'internal' => false,
    ],
    [
        'eventname' => '\core\event\user_updated',
        'callback' => '\local_whatsappnotifier\observer::queue',
        'internal' => false,
    ],
];
