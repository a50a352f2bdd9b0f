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
 * The notifier's base URL.
 *
 * @package    local_whatsappnotifier
 * @copyright  2026 The notifier team
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */
class setting_endpoint extends \admin_setting_configtext {

    /**
     * Constructor.
     *
     * @param string $name
     * @param string $visiblename
     * @param string $description
     */
    public function __construct($name, $visiblename, $description) {
        parent::__construct($name, $visiblename, $description, '', PARAM_RAW_TRIMMED, 60);
    }

    /**
     * Accepts an empty value (the plugin stays idle) or an absolute http(s) URL without query or fragment.
     *
     * @param string $data
     * @return true|string true, or the error to show
     */
    public function validate($data) {
        $data = trim((string)$data);
        if ($data === '') {
            return true;
        }
        $parts = parse_url($data);
        if ($parts === false || empty($parts['host']) || !in_array(strtolower($parts['scheme'] ?? ''), ['http', 'https'], true)
                || isset($parts['query']) || isset($parts['fragment'])) {
            return get_string('errorendpoint', 'local_whatsappnotifier');
        }
        return true;
    }

    /**
     * Stores the URL without a trailing slash, since the webhook path is appended to it.
     *
     * @param string $data
     * @return string '' on success, else the error
     */
    public function write_setting($data) {
        return parent::write_setting(rtrim(trim((string)$data), '/'));
    }
}
