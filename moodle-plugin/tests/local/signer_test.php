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
 * Tests for the Standard Webhooks signer.
 *
 * @package    local_whatsappnotifier
 * @category   test
 * @copyright  2026 The notifier team
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 * @covers     \local_whatsappnotifier\local\signer
 */
final class signer_test extends \basic_testcase {

    public function test_signature_matches_the_standard_webhooks_reference(): void {
        // The example of the Standard Webhooks reference libraries: same secret, id, time and payload.
        $secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
        $body = '{"test": 2432232314}';
        $this->assertSame('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
            signer::sign($secret, 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, $body));
    }

    public function test_headers_and_verification(): void {
        $secret = signer::generate_secret();
        $headers = signer::headers($secret, 'abc-1', 1700000000, '{}');
        $this->assertSame(['webhook-id', 'webhook-timestamp', 'webhook-signature'], array_keys($headers));
        $this->assertSame('1700000000', $headers['webhook-timestamp']);
        $this->assertTrue(signer::verify($secret, 'abc-1', 1700000000, '{}', 'v1,other ' . $headers['webhook-signature']));
        $this->assertFalse(signer::verify($secret, 'abc-1', 1700000001, '{}', $headers['webhook-signature']));
        $this->assertFalse(signer::verify(signer::generate_secret(), 'abc-1', 1700000000, '{}', $headers['webhook-signature']));
    }

    /**
     * Secrets and what is wrong with them.
     *
     * @return array
     */
    public static function secret_provider(): array {
        return [
            '24 bytes' => ['whsec_' . base64_encode(str_repeat('a', 24)), null],
            '64 bytes' => ['whsec_' . base64_encode(str_repeat('a', 64)), null],
            'empty' => ['', 'missing'],
            'no prefix' => [base64_encode(str_repeat('a', 32)), 'prefix'],
            'unpadded' => ['whsec_' . rtrim(base64_encode(str_repeat('a', 25)), '='), 'base64'],
            'url-safe alphabet' => ['whsec_' . strtr(base64_encode(str_repeat("\xfb\xff", 16)), '+/', '-_'), 'base64'],
            '23 bytes' => ['whsec_' . base64_encode(str_repeat('a', 23)), 'length'],
            '65 bytes' => ['whsec_' . base64_encode(str_repeat('a', 65)), 'length'],
        ];
    }

    /**
     * @dataProvider secret_provider
     * @param string $secret
     * @param string|null $problem
     */
    public function test_secret_validation(string $secret, ?string $problem): void {
        $this->assertSame($problem, signer::secret_problem($secret));
        $this->assertSame($problem === null, signer::is_valid_secret($secret));
    }

    public function test_signing_with_a_bad_secret_throws(): void {
        $this->expectException(\InvalidArgumentException::class);
        signer::sign('whsec_short', 'id', 1, '{}');
    }
}
