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

namespace local_whatsappnotifier\local;

/**
 * Sends one HTTP POST.
 *
 * An interface so that tests can answer with any status: \curl::mock_response always reports 200.
 *
 * @package    local_whatsappnotifier
 * @copyright  2026 The notifier team
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */
interface transport {

    /**
     * Posts a JSON body.
     *
     * @param string $url
     * @param string $body raw JSON
     * @param array<string, string> $headers extra headers, name => value
     * @return http_result never throws for network problems: they come back as a result without status
     */
    public function post(string $url, string $body, array $headers): http_result;
}
