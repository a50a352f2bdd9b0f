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
 * Standard Webhooks signatures (standardwebhooks.com), as the notifier contract (section 3) uses them.
 *
 * Free of Moodle globals so the shared test vectors can check it without a Moodle site.
 *
 * @package    local_whatsappnotifier
 * @copyright  2026 The notifier team
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */
final class signer {

    /** @var string Prefix of every secret. */
    public const SECRET_PREFIX = 'whsec_';

    /** @var int Fewest key bytes the contract allows. */
    public const MIN_KEY_BYTES = 24;

    /** @var int Most key bytes the contract allows. */
    public const MAX_KEY_BYTES = 64;

    /** @var string Header carrying the delivery id. */
    public const HEADER_ID = 'webhook-id';

    /** @var string Header carrying the signing time. */
    public const HEADER_TIMESTAMP = 'webhook-timestamp';

    /** @var string Header carrying the signatures. */
    public const HEADER_SIGNATURE = 'webhook-signature';

    /**
     * Why a secret is unusable, or null when it is fine.
     *
     * Padding is required and only the standard alphabet is accepted because the receiving library
     * decodes with Go's base64.StdEncoding: anything looser here would pass the settings page and then
     * fail every delivery.
     *
     * @param string $secret
     * @return string|null one of 'missing', 'prefix', 'base64', 'length'
     */
    public static function secret_problem(string $secret): ?string {
        if ($secret === '') {
            return 'missing';
        }
        if (!str_starts_with($secret, self::SECRET_PREFIX)) {
            return 'prefix';
        }
        $encoded = substr($secret, strlen(self::SECRET_PREFIX));
        if ($encoded === '' || strlen($encoded) % 4 !== 0 || !preg_match('~^[A-Za-z0-9+/]+={0,2}$~', $encoded)) {
            return 'base64';
        }
        $key = base64_decode($encoded, true);
        if ($key === false) {
            return 'base64';
        }
        if (strlen($key) < self::MIN_KEY_BYTES || strlen($key) > self::MAX_KEY_BYTES) {
            return 'length';
        }
        return null;
    }

    /**
     * Whether a secret has the contract's form.
     *
     * @param string $secret
     * @return bool
     */
    public static function is_valid_secret(string $secret): bool {
        return self::secret_problem($secret) === null;
    }

    /**
     * The HMAC key: the decoded bytes after the prefix.
     *
     * @param string $secret
     * @return string raw bytes
     * @throws \InvalidArgumentException for a malformed secret
     */
    public static function key(string $secret): string {
        $problem = self::secret_problem($secret);
        if ($problem !== null) {
            throw new \InvalidArgumentException("Invalid webhook secret ({$problem}): expected whsec_ and the base64 of "
                . self::MIN_KEY_BYTES . ' to ' . self::MAX_KEY_BYTES . ' bytes');
        }
        return base64_decode(substr($secret, strlen(self::SECRET_PREFIX)), true);
    }

    /**
     * A fresh random secret of the contract's form.
     *
     * @param int $bytes key length
     * @return string
     */
    public static function generate_secret(int $bytes = 32): string {
        $bytes = max(self::MIN_KEY_BYTES, min(self::MAX_KEY_BYTES, $bytes));
        return self::SECRET_PREFIX . base64_encode(random_bytes($bytes));
    }

    /**
     * Whether a delivery id has the contract's form.
     *
     * @param string $id
     * @return bool
     */
    public static function is_valid_msg_id(string $id): bool {
        return (bool)preg_match('/^[A-Za-z0-9._:-]{1,64}$/D', $id);
    }

    /**
     * The webhook-signature value: "v1," and the base64 of HMAC-SHA256 over "<id>.<timestamp>.<body>".
     *
     * @param string $secret whsec_ secret
     * @param string $msgid the webhook-id
     * @param int $timestamp the webhook-timestamp, Unix seconds
     * @param string $body the raw body, byte for byte as sent
     * @return string
     */
    public static function sign(string $secret, string $msgid, int $timestamp, string $body): string {
        if (!self::is_valid_msg_id($msgid)) {
            throw new \InvalidArgumentException('The delivery id must be 1-64 characters of [A-Za-z0-9._:-]');
        }
        $mac = hash_hmac('sha256', $msgid . '.' . $timestamp . '.' . $body, self::key($secret), true);
        return 'v1,' . base64_encode($mac);
    }

    /**
     * Whether any "v1," signature in a webhook-signature value matches; compared in constant time.
     *
     * @param string $secret whsec_ secret
     * @param string $msgid
     * @param int $timestamp
     * @param string $body
     * @param string $header the webhook-signature value, one or more space-separated signatures
     * @return bool
     */
    public static function verify(string $secret, string $msgid, int $timestamp, string $body, string $header): bool {
        $expected = self::sign($secret, $msgid, $timestamp, $body);
        $found = false;
        foreach (explode(' ', $header) as $candidate) {
            // No early exit, so the time taken does not tell which candidate matched.
            $found = hash_equals($expected, $candidate) || $found;
        }
        return $found;
    }

    /**
     * The three signature headers of one delivery.
     *
     * @param string $secret whsec_ secret
     * @param string $msgid
     * @param int $timestamp
     * @param string $body
     * @return array<string, string> header name => value
     */
    public static function headers(string $secret, string $msgid, int $timestamp, string $body): array {
        return [
            self::HEADER_ID => $msgid,
            self::HEADER_TIMESTAMP => (string)$timestamp,
            self::HEADER_SIGNATURE => self::sign($secret, $msgid, $timestamp, $body),
        ];
    }
}
