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
 * Settings (notifier contract, section 7) and the test-event page.
 *
 * @package    local_whatsappnotifier
 * @copyright  2026 The notifier team
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */

defined('MOODLE_INTERNAL') || die();

if ($hassiteconfig) {
    $ADMIN->add('localplugins', new admin_category('local_whatsappnotifier_category',
        new lang_string('pluginname', 'local_whatsappnotifier')));

    $settings = new admin_settingpage('local_whatsappnotifier', new lang_string('settings', 'local_whatsappnotifier'));

    if ($ADMIN->fulltree) {
        $testurl = new moodle_url('/local/whatsappnotifier/testevent.php');
        $settings->add(new admin_setting_heading('local_whatsappnotifier/intro', '',
            new lang_string('settingsintro', 'local_whatsappnotifier', $testurl->out(false))));

        $settings->add(new \local_whatsappnotifier\admin\setting_endpoint('local_whatsappnotifier/endpoint',
            new lang_string('endpoint', 'local_whatsappnotifier'),
            new lang_string('endpoint_desc', 'local_whatsappnotifier')));

        $settings->add(new \local_whatsappnotifier\admin\setting_secret('local_whatsappnotifier/secret',
            new lang_string('secret', 'local_whatsappnotifier'),
            new lang_string('secret_desc', 'local_whatsappnotifier'), ''));

        $settings->add(new \local_whatsappnotifier\admin\setting_phonefield('local_whatsappnotifier/phonefield',
            new lang_string('phonefield', 'local_whatsappnotifier'),
            new lang_string('phonefield_desc', 'local_whatsappnotifier')));

        $eventchoices = [];
        foreach (\local_whatsappnotifier\local\payload_builder::EVENTS as $eventname) {
            $eventchoices[$eventname] = new lang_string('event_' . $eventname, 'local_whatsappnotifier');
        }
        $settings->add(new admin_setting_configmulticheckbox('local_whatsappnotifier/events',
            new lang_string('events', 'local_whatsappnotifier'),
            new lang_string('events_desc', 'local_whatsappnotifier'),
            array_fill_keys(array_keys($eventchoices), 1),
            $eventchoices));

        $settings->add(new \local_whatsappnotifier\admin\setting_roles('local_whatsappnotifier/roles',
            new lang_string('roles', 'local_whatsappnotifier'),
            new lang_string('roles_desc', 'local_whatsappnotifier')));
    }

    $ADMIN->add('local_whatsappnotifier_category', $settings);
    $ADMIN->add('local_whatsappnotifier_category', new admin_externalpage('local_whatsappnotifier_testevent',
        new lang_string('testevent', 'local_whatsappnotifier'),
        new moodle_url('/local/whatsappnotifier/testevent.php'),
        'moodle/site:config'));
}
