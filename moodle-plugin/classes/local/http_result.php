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
 * What came back from one delivery attempt, and what it means for retrying.
 *
 * Only the HTTP status decides: Moodle's curl class reports a URL blocked by its security settings
 * with no status, errno 0 and the text "The URL is blocked." where the body would be, so an empty
 * error is no proof that anything was sent.
 *
 * @package    local_whatsappnotifier
 * @copyright  2026 The notifier team
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */
final class http_result {

    /** @var int[] 4xx answers that say "try again later" rather than "this delivery is wrong". */
    public const RETRYABLE_4XX = [408, 425, 429];

    /** @var int Longest excerpt of a body kept for logs and messages. */
    public const EXCERPT_BYTES = 500;

    /**
     * Constructor.
     *
     * @param int|null $status HTTP status, null when no answer was received (network error, blocked URL)
     * @param string $body response body, or the curl class's error text when there was no answer
     * @param string $error transport error text, '' when none
     * @param int $errno curl errno, 0 when none
     */
    public function __construct(
        public readonly ?int $status,
        public readonly string $body,
        public readonly string $error = '',
        public readonly int $errno = 0,
    ) {
    }

    /**
     * Whether the notifier took the delivery (any 2xx).
     *
     * @return bool
     */
    public function is_success(): bool {
        return $this->status !== null && $this->status >= 200 && $this->status <= 299;
    }

    /**
     * Whether the notifier refused the delivery itself, so sending it again would be refused again.
     *
     * @return bool
     */
    public function is_permanent_failure(): bool {
        return $this->status !== null && $this->status >= 400 && $this->status <= 499
            && !in_array($this->status, self::RETRYABLE_4XX, true);
    }

    /**
     * Whether the delivery should be attempted again later: no answer, 1xx/3xx, 408/425/429, 5xx.
     *
     * @return bool
     */
    public function should_retry(): bool {
        return !$this->is_success() && !$this->is_permanent_failure();
    }

    /**
     * The start of the body, on one line, for logs.
     *
     * @return string
     */
    public function body_excerpt(): string {
        $text = preg_replace('/\s+/', ' ', $this->body) ?? '';
        if (strlen($text) > self::EXCERPT_BYTES) {
            // Back off to a character boundary so the log line stays valid UTF-8.
            $cut = substr($text, 0, self::EXCERPT_BYTES);
            for ($i = 0; $i < 3 && $cut !== '' && !preg_match('//u', $cut); $i++) {
                $cut = substr($cut, 0, -1);
            }
            $text = $cut . '...';
        }
        return trim($text);
    }

    /**
     * One line that says what happened, for mtrace and exception messages.
     *
     * @return string
     */
    public function describe(): string {
        if ($this->status === null || $this->status === 0) {
            $why = $this->error !== '' ? $this->error : $this->body_excerpt();
            return 'no HTTP answer' . ($this->errno ? " (curl errno {$this->errno})" : '') . ($why !== '' ? ": {$why}" : '');
        }
        $excerpt = $this->body_excerpt();
        return "HTTP {$this->status}" . ($excerpt !== '' ? ": {$excerpt}" : '');
    }
}
