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

namespace local_whatsappnotifier\privacy;

use core_privacy\local\metadata\collection;
use core_privacy\local\request\approved_contextlist;
use core_privacy\local\request\approved_userlist;
use core_privacy\local\request\contextlist;
use core_privacy\local\request\userlist;

/**
 * Privacy provider.
 *
 * The plugin keeps nothing of its own: events wait in Moodle's ad-hoc task queue only until they are
 * delivered. What it sends is kept by the notifier, outside Moodle, so there is nothing here to
 * export or delete; the metadata tells admins exactly what leaves the site.
 *
 * @package    local_whatsappnotifier
 * @copyright  2026 The notifier team
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */
class provider implements
        \core_privacy\local\metadata\provider,
        \core_privacy\local\request\plugin\provider,
        \core_privacy\local\request\core_userlist_provider {

    /**
     * Describes the data sent to the notifier.
     *
     * @param collection $collection
     * @return collection
     */
    public static function get_metadata(collection $collection): collection {
        $collection->add_external_location_link('whatsappnotifier', [
            'userid' => 'privacy:metadata:whatsappnotifier:userid',
            'username' => 'privacy:metadata:whatsappnotifier:username',
            'firstname' => 'privacy:metadata:whatsappnotifier:firstname',
            'lastname' => 'privacy:metadata:whatsappnotifier:lastname',
            'email' => 'privacy:metadata:whatsappnotifier:email',
            'phone' => 'privacy:metadata:whatsappnotifier:phone',
            'lang' => 'privacy:metadata:whatsappnotifier:lang',
            'timezone' => 'privacy:metadata:whatsappnotifier:timezone',
            'roles' => 'privacy:metadata:whatsappnotifier:roles',
            'courseid' => 'privacy:metadata:whatsappnotifier:courseid',
            'enrolment' => 'privacy:metadata:whatsappnotifier:enrolment',
            'progress' => 'privacy:metadata:whatsappnotifier:progress',
            'eventdata' => 'privacy:metadata:whatsappnotifier:eventdata',
        ], 'privacy:metadata:whatsappnotifier');
        return $collection;
    }

    /**
     * No context holds data of this plugin.
     *
     * @param int $userid
     * @return contextlist
     */
    public static function get_contexts_for_userid(int $userid): contextlist {
        return new contextlist();
    }

    /**
     * No user has data of this plugin in any context.
     *
     * @param userlist $userlist
     */
    public static function get_users_in_context(userlist $userlist) {
    }

    /**
     * Nothing to export: the data lives at the notifier.
     *
     * @param approved_contextlist $contextlist
     */
    public static function export_user_data(approved_contextlist $contextlist) {
    }

    /**
     * Nothing to delete here.
     *
     * @param \context $context
     */
    public static function delete_data_for_all_users_in_context(\context $context) {
    }

    /**
     * Nothing to delete here.
     *
     * @param approved_contextlist $contextlist
     */
    public static function delete_data_for_user(approved_contextlist $contextlist) {
    }

    /**
     * Nothing to delete here.
     *
     * @param approved_userlist $userlist
     */
    public static function delete_data_for_users(approved_userlist $userlist) {
    }
}
