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

namespace local_whatsappnotifier\task;

use local_whatsappnotifier\local\delivery;

/**
 * Delivers one recorded event to the notifier.
 *
 * Throwing from execute() is how a delivery is retried: Moodle runs the task again with the same
 * custom data, so the same delivery id, after a back-off that doubles from a minute up to a day.
 *
 * @package    local_whatsappnotifier
 * @copyright  2026 The notifier team
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */
class deliver_event extends \core\task\adhoc_task {

    /**
     * A task for one event.
     *
     * @param string $id the delivery id, fixed for every attempt
     * @param array $eventdata $event->get_data()
     * @return self
     */
    public static function for_event(string $id, array $eventdata): self {
        $task = new self();
        $task->set_component('local_whatsappnotifier');
        $task->set_custom_data(['id' => $id, 'event' => $eventdata]);
        return $task;
    }

    /**
     * Name shown to admins in the task lists.
     *
     * @return string
     */
    public function get_name() {
        return get_string('taskdeliverevent', 'local_whatsappnotifier');
    }

    /**
     * Builds, signs and posts the payload.
     */
    public function execute() {
        // Decoded as arrays: the payload keeps the event data exactly as recorded, and objects would
        // lose the difference between {} and [].
        $data = json_decode((string)$this->get_custom_data_as_string(), true);
        if (!is_array($data) || !is_string($data['id'] ?? null) || !is_array($data['event'] ?? null)) {
            mtrace('local_whatsappnotifier: task ' . $this->get_id() . ' has no event data; nothing to send.');
            return;
        }
        delivery::create()->deliver_event($data['id'], $data['event']);
    }
}
