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
 * Signs and posts payloads to the notifier, and decides what an answer means.
 *
 * @package    local_whatsappnotifier
 * @copyright  2026 The notifier team
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */
final class delivery {

    /** @var transport|null Replaces the curl transport in unit tests. */
    private static ?transport $testtransport = null;

    /**
     * Constructor.
     *
     * @param config $config
     * @param transport $transport
     */
    public function __construct(
        private readonly config $config,
        private readonly transport $transport,
    ) {
    }

    /**
     * A delivery with the site's settings.
     *
     * @return self
     */
    public static function create(): self {
        return new self(config::load(), self::$testtransport ?? new curl_transport());
    }

    /**
     * Makes create() use another transport; unit tests only.
     *
     * @param transport|null $transport null restores the curl transport
     */
    public static function set_transport_for_testing(?transport $transport): void {
        if (!defined('PHPUNIT_TEST') || !PHPUNIT_TEST) {
            throw new \coding_exception('set_transport_for_testing() is only for unit tests');
        }
        self::$testtransport = $transport;
    }

    /**
     * Delivers one recorded event.
     *
     * @param string $id the delivery id recorded with the event; every attempt reuses it
     * @param array $eventdata the recorded $event->get_data()
     * @return http_result|null the notifier's answer, or null when nothing was sent
     * @throws \moodle_exception when the delivery should be attempted again
     */
    public function deliver_event(string $id, array $eventdata): ?http_result {
        $eventname = (string)($eventdata['eventname'] ?? '?');
        if (!$this->config->is_enabled()) {
            mtrace("local_whatsappnotifier: {$eventname} {$id} not sent: no endpoint is configured.");
            return null;
        }
        try {
            $payload = (new payload_factory($this->config))->build($id, $eventdata);
        } catch (not_deliverable | \InvalidArgumentException $e) {
            // Retrying cannot change the data, so the task ends here rather than failing for ever.
            mtrace("local_whatsappnotifier: {$eventname} {$id} not sent: {$e->getMessage()}.");
            return null;
        }

        $result = $this->post($id, payload_builder::encode($payload));
        $what = "{$payload['event']} {$id}";
        if ($result->is_success()) {
            mtrace("local_whatsappnotifier: {$what} delivered: {$result->describe()}");
            return $result;
        }
        if ($result->is_permanent_failure()) {
            // The notifier judged this delivery itself; the same bytes would be refused again.
            mtrace("local_whatsappnotifier: {$what} refused, not retried: {$result->describe()}");
            return $result;
        }
        throw new \moodle_exception('errordeliveryretry', config::COMPONENT, '', (object)[
            'event' => $what,
            'url' => $this->config->webhook_url(),
            'result' => $result->describe(),
        ]);
    }

    /**
     * Sends the settings page's test event now and returns the answer, whatever it is.
     *
     * @param int $userid the admin sending it
     * @return http_result
     */
    public function send_test(int $userid): http_result {
        global $CFG;

        $id = \core\uuid::generate();
        $body = payload_builder::encode(payload_builder::build_test($id, $CFG->wwwroot, time(), $userid));
        return $this->post($id, $body);
    }

    /**
     * Signs a body at the current time and posts it.
     *
     * Signed per attempt, not when queued: the notifier refuses timestamps more than 300 s away, and a
     * retry can come hours later.
     *
     * @param string $id
     * @param string $body
     * @return http_result
     * @throws \moodle_exception when the settings cannot produce a signed request
     */
    public function post(string $id, string $body): http_result {
        if (!$this->config->is_enabled()) {
            throw new \moodle_exception('errornoendpoint', config::COMPONENT);
        }
        $problem = signer::secret_problem($this->config->secret);
        if ($problem !== null) {
            // Retried: the fix is in the settings, and once it is made the queued events go out.
            throw new \moodle_exception('errorsecret' . $problem, config::COMPONENT);
        }
        $headers = signer::headers($this->config->secret, $id, time(), $body);
        return $this->transport->post($this->config->webhook_url(), $body, $headers);
    }
}
