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

use local_whatsappnotifier\local\signer;

/**
 * The shared whsec_ secret, masked on screen and in the config log.
 *
 * @package    local_whatsappnotifier
 * @copyright  2026 The notifier team
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */
class setting_secret extends \admin_setting_configpasswordunmask {

    /**
     * Accepts an empty value or a secret of the contract's form.
     *
     * Checked here because a malformed secret would otherwise only show up as failed deliveries.
     *
     * @param string $data
     * @return true|string true, or the error to show
     */
    public function validate($data) {
        $data = trim((string)$data);
        if ($data === '') {
            return true;
        }
        $problem = signer::secret_problem($data);
        return $problem === null ? true : get_string('errorsecret' . $problem, 'local_whatsappnotifier');
    }

    /**
     * Stores the secret without surrounding spaces, which pasting often adds.
     *
     * @param string $data
     * @return string '' on success, else the error
     */
    public function write_setting($data) {
        return parent::write_setting(trim((string)$data));
    }
}
