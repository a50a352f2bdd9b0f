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
 * Posts through Moodle's \curl class, so the site's proxy and outbound security settings apply.
 *
 * @package    local_whatsappnotifier
 * @copyright  2026 The notifier team
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */
class curl_transport implements transport {

    /** @var int Seconds allowed for the whole request; the notifier answers after a single insert. */
    public const TIMEOUT = 30;

    /** @var int Seconds allowed to connect. */
    public const CONNECT_TIMEOUT = 10;

    /**
     * Posts a JSON body.
     *
     * @param string $url
     * @param string $body
     * @param array<string, string> $headers
     * @return http_result
     */
    public function post(string $url, string $body, array $headers): http_result {
        global $CFG;
        require_once($CFG->libdir . '/filelib.php');

        $curl = new \curl();
        $lines = ['Content-Type: application/json', 'Accept: application/json'];
        foreach ($headers as $name => $value) {
            $lines[] = $name . ': ' . $value;
        }
        $curl->setHeader($lines);

        $response = $curl->post($url, $body, [
            'CURLOPT_TIMEOUT' => self::TIMEOUT,
            'CURLOPT_CONNECTTIMEOUT' => self::CONNECT_TIMEOUT,
        ]);

        $info = $curl->get_info();
        $status = is_array($info) ? (int)($info['http_code'] ?? 0) : 0;
        return new http_result(
            $status > 0 ? $status : null,
            is_string($response) ? $response : '',
            (string)($curl->error ?? ''),
            (int)$curl->get_errno(),
        );
    }
}
