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

use local_whatsappnotifier\local\config;

/**
 * Comma-separated role short names whose holders are reported as students.
 *
 * @package    local_whatsappnotifier
 * @copyright  2026 The notifier team
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */
class setting_roles extends \admin_setting_configtext {

    /**
     * Constructor.
     *
     * @param string $name
     * @param string $visiblename
     * @param string $description
     */
    public function __construct($name, $visiblename, $description) {
        parent::__construct($name, $visiblename, $description, config::DEFAULT_ROLES, PARAM_RAW_TRIMMED, 40);
    }

    /**
     * Accepts a comma-separated list of short names (or nothing, meaning every user).
     *
     * @param string $data
     * @return true|string true, or the error to show
     */
    public function validate($data) {
        foreach (config::parse_list((string)$data) as $shortname) {
            if (!preg_match('/^[A-Za-z0-9_-]+$/', $shortname)) {
                return get_string('errorroles', 'local_whatsappnotifier', s($shortname));
            }
        }
        return true;
    }

    /**
     * Stores the list in its canonical form, "a,b,c".
     *
     * @param string $data
     * @return string '' on success, else the error
     */
    public function write_setting($data) {
        $validated = $this->validate($data);
        if ($validated !== true) {
            return $validated;
        }
        return parent::write_setting(implode(',', config::parse_list((string)$data)));
    }
}
