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

namespace local_whatsappnotifier;

use local_whatsappnotifier\local\config;
use local_whatsappnotifier\local\payload_builder;
use local_whatsappnotifier\task\deliver_event;

/**
 * Event observers.
 *
 * Moodle swallows an observer's exception and never calls it again, so the observer does the least
 * that can fail: it records the event with a fresh delivery id in an ad-hoc task, which Moodle
 * retries until it succeeds. Everything else happens in the task.
 *
 * @package    local_whatsappnotifier
 * @copyright  2026 The notifier team
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */
class observer {

    /**
     * Queues the delivery of a contract event.
     *
     * @param \core\event\base $event
     */
    public static function queue(\core\event\base $event): void {
        try {
            $data = $event->get_data();
            $name = payload_builder::contract_event_name((string)($data['eventname'] ?? ''));
            if ($name === null) {
                return;
            }
            $config = config::load();
            if (!$config->is_enabled() || !$config->sends($name)) {
                return;
            }
            // The front page is a course to Moodle, not to the notifier.
            if ($name !== 'user_updated' && payload_builder::event_course_id($data) === (int)SITEID) {
                return;
            }
            \core\task\manager::queue_adhoc_task(deliver_event::for_event(\core\uuid::generate(), $data));
        } catch (\Throwable $e) {
            debugging('local_whatsappnotifier: could not queue ' . get_class($event) . ': ' . $e->getMessage(),
                DEBUG_NORMAL);
        }
    }
}
