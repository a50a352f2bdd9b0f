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
 * External functions and the pre-built service the notifier uses.
 *
 * @package    local_whatsappnotifier
 * @copyright  2026 The notifier team
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

defined('MOODLE_INTERNAL') || die();

$functions = [
    'local_whatsappnotifier_get_course_progress' => [
        'classname' => 'local_whatsappnotifier\external\get_course_progress',
        'methodname' => 'execute',
        'description' => 'SCORM progress of every enrolled user of a course (or of the users given), in one call.',
        'type' => 'read',
        'capabilities' => 'local/whatsappnotifier:viewprogress, moodle/course:viewparticipants',
        'ajax' => false,
    ],
];

$services = [
    'WhatsApp notifier' => [
        'shortname' => 'local_whatsappnotifier',
        'functions' => [
            'core_completion_get_activities_completion_status',
            'core_course_get_courses_by_field',
            'core_enrol_get_enrolled_users',
            'core_user_create_users',
            'core_user_get_users_by_field',
            'core_webservice_get_site_info',
            'enrol_manual_enrol_users',
            'local_whatsappnotifier_get_course_progress',
        ],
        // Tokens are issued by an admin for one dedicated account, so no extra list of authorised users.
        'restrictedusers' => 0,
        'enabled' => 1,
        'downloadfiles' => 0,
        'uploadfiles' => 0,
    ],
];
