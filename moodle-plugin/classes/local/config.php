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
 * The plugin's settings (notifier contract, section 7), read once and normalised.
 *
 * Values can be written with admin/cli/cfg.php, which skips the settings page's validation, so
 * everything is re-checked here rather than trusted.
 *
 * @package    local_whatsappnotifier
 * @copyright  2026 The notifier team
 * @license    https://www.gnu.org/copyleft/gpl.html GNU GPL v3 or later
 */
final class config {

    /** @var string Frankenstyle name, also the config_plugins plugin name. */
    public const COMPONENT = 'local_whatsappnotifier';

    /** @var string Path appended to the endpoint. */
    public const WEBHOOK_PATH = '/webhooks/moodle';

    /** @var string Default phone field. */
    public const DEFAULT_PHONEFIELD = 'phone1';

    /** @var string Default reported roles. */
    public const DEFAULT_ROLES = 'student';

    /**
     * Constructor.
     *
     * @param string $endpoint notifier base URL without trailing slash, '' when not set
     * @param string $secret whsec_ secret, '' when not set
     * @param string $phonefield phone1, phone2 or profile_field_<shortname>
     * @param string[] $events contract event names to send
     * @param string[] $roles role short names reported as students; empty means every user
     */
    public function __construct(
        public readonly string $endpoint,
        public readonly string $secret,
        public readonly string $phonefield,
        public readonly array $events,
        public readonly array $roles,
    ) {
    }

    /**
     * Reads the settings.
     *
     * @return self
     */
    public static function load(): self {
        $raw = (array)get_config(self::COMPONENT);

        $phonefield = trim((string)($raw['phonefield'] ?? ''));
        if (!self::is_valid_phonefield($phonefield)) {
            $phonefield = self::DEFAULT_PHONEFIELD;
        }

        // A missing value means the settings were never saved: the contract's default is every event.
        $events = array_key_exists('events', $raw) ? self::parse_list((string)$raw['events'])
            : array_values(payload_builder::EVENTS);
        $events = array_values(array_intersect($events, payload_builder::EVENTS));

        $roles = self::parse_list((string)($raw['roles'] ?? self::DEFAULT_ROLES));

        return new self(
            rtrim(trim((string)($raw['endpoint'] ?? '')), '/'),
            trim((string)($raw['secret'] ?? '')),
            $phonefield,
            $events,
            $roles,
        );
    }

    /**
     * Splits a comma-separated setting into its distinct, non-empty items.
     *
     * @param string $value
     * @return string[]
     */
    public static function parse_list(string $value): array {
        $items = array_filter(array_map('trim', explode(',', $value)), fn(string $item): bool => $item !== '');
        return array_values(array_unique($items));
    }

    /**
     * Whether a phone field name is one the plugin understands.
     *
     * @param string $field
     * @return bool
     */
    public static function is_valid_phonefield(string $field): bool {
        return $field === 'phone1' || $field === 'phone2' || (bool)preg_match('/^profile_field_[A-Za-z0-9_]+$/', $field);
    }

    /**
     * Whether deliveries can be made at all; with no endpoint the plugin stays idle.
     *
     * @return bool
     */
    public function is_enabled(): bool {
        return $this->endpoint !== '';
    }

    /**
     * Whether an event is one of those to send.
     *
     * @param string $event contract event name
     * @return bool
     */
    public function sends(string $event): bool {
        return in_array($event, $this->events, true);
    }

    /**
     * Where deliveries go.
     *
     * @return string
     */
    public function webhook_url(): string {
        return $this->endpoint . self::WEBHOOK_PATH;
    }

    /**
     * The custom profile field's short name when the phone comes from one.
     *
     * @return string|null
     */
    public function profile_field_shortname(): ?string {
        return str_starts_with($this->phonefield, 'profile_field_')
            ? substr($this->phonefield, strlen('profile_field_')) : null;
    }
}
