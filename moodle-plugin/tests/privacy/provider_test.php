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
use core_privacy\local\metadata\types\external_location;

/**
 * Tests for the privacy provider.
 *
 * @package    local_whatsappnotifier
 * @category   test
 * @copyright  2026 The notifier team
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 * @covers     \local_whatsappnotifier\privacy\provider
 */
final class provider_test extends \core_privacy\tests\provider_testcase {

    public function test_metadata_declares_every_field_sent(): void {
        $collection = provider::get_metadata(new collection('local_whatsappnotifier'));
        $items = $collection->get_collection();
        $this->assertCount(1, $items);
        $location = reset($items);
        $this->assertInstanceOf(external_location::class, $location);
        $this->assertSame('whatsappnotifier', $location->get_name());
        $fields = array_keys($location->get_privacy_fields());
        foreach (['userid', 'username', 'firstname', 'lastname', 'email', 'phone', 'lang', 'timezone', 'roles',
                'courseid', 'enrolment', 'progress', 'eventdata'] as $field) {
            $this->assertContains($field, $fields);
        }
    }

    public function test_nothing_is_stored_locally(): void {
        $this->resetAfterTest();
        $user = $this->getDataGenerator()->create_user();
        $this->assertSame([], provider::get_contexts_for_userid($user->id)->get_contextids());
    }
}
