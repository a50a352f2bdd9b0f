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
 * Tests for the plugin's admin settings.
 *
 * @package    local_whatsappnotifier
 * @category   test
 * @copyright  2026 The notifier team
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 * @covers     \local_whatsappnotifier\admin\setting_secret
 * @covers     \local_whatsappnotifier\admin\setting_endpoint
 * @covers     \local_whatsappnotifier\admin\setting_roles
 * @covers     \local_whatsappnotifier\local\config
 */
final class settings_test extends \advanced_testcase {

    protected function setUp(): void {
        global $CFG;
        require_once($CFG->libdir . '/adminlib.php');
        parent::setUp();
        $this->resetAfterTest();
    }

    public function test_secret_must_have_the_contract_form(): void {
        $setting = new setting_secret('local_whatsappnotifier/secret', 'Secret', '', '');
        $this->assertTrue($setting->validate(''));
        $this->assertTrue($setting->validate('whsec_' . base64_encode(random_bytes(32))));
        $this->assertIsString($setting->validate('whsec_short'));
        $this->assertIsString($setting->validate(base64_encode(random_bytes(32))));

        $this->assertNotSame('', $setting->write_setting('secret-without-prefix'));
        $this->assertEmpty(get_config('local_whatsappnotifier', 'secret'));
        $good = 'whsec_' . base64_encode(random_bytes(40));
        $this->assertSame('', $setting->write_setting(" {$good} "));
        $this->assertSame($good, get_config('local_whatsappnotifier', 'secret'));
    }

    public function test_endpoint_is_an_http_url_stored_without_trailing_slash(): void {
        $setting = new setting_endpoint('local_whatsappnotifier/endpoint', 'Endpoint', '');
        $this->assertTrue($setting->validate(''));
        $this->assertTrue($setting->validate('http://127.0.0.1:8080'));
        $this->assertIsString($setting->validate('ftp://notifier.example.com'));
        $this->assertIsString($setting->validate('notifier.example.com'));
        $this->assertIsString($setting->validate('https://notifier.example.com/?x=1'));

        $this->assertSame('', $setting->write_setting('https://notifier.example.com/base/'));
        $this->assertSame('https://notifier.example.com/base', get_config('local_whatsappnotifier', 'endpoint'));
        $this->assertSame('https://notifier.example.com/base/webhooks/moodle',
            \local_whatsappnotifier\local\config::load()->webhook_url());
    }

    public function test_roles_are_stored_as_a_clean_list(): void {
        $setting = new setting_roles('local_whatsappnotifier/roles', 'Roles', '');
        $this->assertIsString($setting->validate('student, bad role'));
        $this->assertSame('', $setting->write_setting(' student , alumno,,student '));
        $this->assertSame('student,alumno', get_config('local_whatsappnotifier', 'roles'));
        $this->assertSame(['student', 'alumno'], \local_whatsappnotifier\local\config::load()->roles);
    }

    public function test_defaults_send_every_event_for_students(): void {
        $config = \local_whatsappnotifier\local\config::load();
        $this->assertCount(8, $config->events);
        $this->assertSame(['student'], $config->roles);
        $this->assertSame('phone1', $config->phonefield);
        $this->assertFalse($config->is_enabled());
    }
}
