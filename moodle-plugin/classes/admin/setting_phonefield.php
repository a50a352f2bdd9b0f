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

namespace local_whatsappnotifier\admin;

/**
 * Which user field holds the phone number: phone1, phone2 or a custom profile field.
 *
 * @package    local_whatsappnotifier
 * @copyright  2026 The notifier team
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */
class setting_phonefield extends \admin_setting_configselect {

    /**
     * Constructor.
     *
     * @param string $name
     * @param string $visiblename
     * @param string $description
     */
    public function __construct($name, $visiblename, $description) {
        parent::__construct($name, $visiblename, $description, 'phone1', null);
    }

    /**
     * Lists the choices when they are needed, since custom fields come from the database.
     *
     * @return bool
     */
    public function load_choices() {
        global $DB;

        if (is_array($this->choices)) {
            return true;
        }
        $this->choices = [
            'phone1' => get_string('phone1'),
            'phone2' => get_string('phone2'),
        ];
        $fields = $DB->get_records('user_info_field', null, 'sortorder, id', 'id, shortname, name');
        foreach ($fields as $field) {
            $this->choices['profile_field_' . $field->shortname] = get_string('phonefieldprofile', 'local_whatsappnotifier',
                (object)['name' => format_string($field->name), 'shortname' => $field->shortname]);
        }
        return true;
    }
}
