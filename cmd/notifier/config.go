package main

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/acme/notifier/domain"
)

// Config is the whole configuration (CONTRACT section 2), read once at
// start-up from the environment.
type Config struct {
	HTTPAddr       string
	DatabaseURL    string
	RedisURL       string
	StreamPrefix   string
	DataDir        string
	Env            string
	WebhookSecrets []string
	MoodleURL      string
	MoodleToken    string
	WhatsApp       WhatsAppConfig
	AdminTokens    []string
	Location       *time.Location
	ScanAt         ScanAt
	ProgressWindow time.Duration
	PhoneRegion    string
	RulesFile      string
	LogFormat      string
	LogLevel       string
	Role           string

	// Generated lists the secrets made up for development because their
	// variable was empty (printed once at start).
	Generated []string
}

// WhatsAppConfig is the Cloud API part of the configuration.
type WhatsAppConfig struct {
	Token         string
	PhoneID       string
	APIURL        string
	AppSecret     string
	VerifyToken   string
	RatePerSecond int
}

// DryRun reports whether sends are only recorded.
func (w WhatsAppConfig) DryRun() bool { return w.Token == "" }

// ScanAt is the local time of the daily scan, or Off.
type ScanAt struct {
	Off    bool
	Hour   int
	Minute int
}

func (s ScanAt) String() string {
	if s.Off {
		return "off"
	}
	return fmt.Sprintf("%02d:%02d", s.Hour, s.Minute)
}

// ConfigError names the variable at fault.
type ConfigError struct {
	Var string
	Msg string
}

func (e *ConfigError) Error() string { return e.Var + ": " + e.Msg }

// Roles a process can take.
var roles = []string{"all", "api", "worker", "scheduler"}

// LoadConfig reads and validates the configuration. getenv is os.Getenv in
// production and a map lookup in tests. Every problem is reported, each
// naming its variable.
func LoadConfig(getenv func(string) string) (Config, error) {
	p := parser{getenv: getenv}
	c := Config{
		HTTPAddr:       p.str("NOTIFIER_HTTP_ADDR", "127.0.0.1:8080"),
		DatabaseURL:    p.str("DATABASE_URL", ""),
		RedisURL:       p.str("REDIS_URL", ""),
		StreamPrefix:   p.str("NOTIFIER_STREAM_PREFIX", "notifier"),
		DataDir:        p.str("NOTIFIER_DATA_DIR", "./var"),
		Env:            p.oneOf("NOTIFIER_ENV", "development", "development", "production"),
		WebhookSecrets: p.list("MOODLE_WEBHOOK_SECRET"),
		MoodleURL:      strings.TrimRight(p.str("MOODLE_URL", ""), "/"),
		MoodleToken:    p.str("MOODLE_TOKEN", ""),
		WhatsApp: WhatsAppConfig{
			Token:         p.str("WHATSAPP_TOKEN", ""),
			PhoneID:       p.str("WHATSAPP_PHONE_ID", ""),
			APIURL:        strings.TrimRight(p.str("WHATSAPP_API_URL", "https://graph.facebook.com/v25.0"), "/"),
			AppSecret:     p.str("WHATSAPP_APP_SECRET", ""),
			VerifyToken:   p.str("WHATSAPP_VERIFY_TOKEN", ""),
			RatePerSecond: p.intRange("WHATSAPP_RATE_PER_SECOND", 80, 1, 1000),
		},
		AdminTokens:    p.list("NOTIFIER_ADMIN_TOKENS"),
		Location:       p.location("NOTIFIER_TIMEZONE", "UTC"),
		ScanAt:         p.scanAt("NOTIFIER_SCAN_AT", "08:00"),
		ProgressWindow: p.duration("NOTIFIER_PROGRESS_WINDOW", 168*time.Hour),
		PhoneRegion:    strings.ToUpper(p.str("NOTIFIER_PHONE_REGION", "ES")),
		RulesFile:      p.str("NOTIFIER_RULES_FILE", ""),
		LogFormat:      p.oneOf("NOTIFIER_LOG_FORMAT", "text", "text", "json"),
		LogLevel:       p.oneOf("NOTIFIER_LOG_LEVEL", "info", "debug", "info", "warn", "error"),
		Role:           p.oneOf("NOTIFIER_ROLE", "all", roles...),
	}
	p.check(c)
	return c, errors.Join(p.errs...)
}

type parser struct {
	getenv func(string) string
	errs   []error
}

func (p *parser) fail(name, format string, args ...any) {
	p.errs = append(p.errs, &ConfigError{Var: name, Msg: fmt.Sprintf(format, args...)})
}

func (p *parser) str(name, def string) string {
	if v := strings.TrimSpace(p.getenv(name)); v != "" {
		return v
	}
	return def
}

func (p *parser) list(name string) []string {
	var out []string
	for _, v := range strings.Split(p.getenv(name), ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func (p *parser) oneOf(name, def string, allowed ...string) string {
	v := strings.ToLower(p.str(name, def))
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	p.fail(name, "%q is not one of %s", v, strings.Join(allowed, ", "))
	return def
}

func (p *parser) intRange(name string, def, lo, hi int) int {
	raw := p.str(name, "")
	if raw == "" {
		return def
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < lo || n > hi {
		p.fail(name, "%q is not a whole number between %d and %d", raw, lo, hi)
		return def
	}
	return n
}

func (p *parser) duration(name string, def time.Duration) time.Duration {
	raw := p.str(name, "")
	if raw == "" {
		return def
	}
	d, err := time.ParseDuration(raw)
	if err != nil || d <= 0 {
		p.fail(name, "%q is not a positive duration such as 168h or 72h30m", raw)
		return def
	}
	return d
}

func (p *parser) location(name, def string) *time.Location {
	raw := p.str(name, def)
	loc, err := time.LoadLocation(raw)
	if err != nil {
		p.fail(name, "%q is not an IANA time zone such as Europe/Madrid", raw)
		return time.UTC
	}
	return loc
}

func (p *parser) scanAt(name, def string) ScanAt {
	raw := strings.ToLower(p.str(name, def))
	if raw == "off" {
		return ScanAt{Off: true}
	}
	t, err := time.Parse("15:04", raw)
	if err != nil {
		p.fail(name, "%q is not a time HH:MM (24 h) or off", raw)
		return ScanAt{Hour: 8}
	}
	return ScanAt{Hour: t.Hour(), Minute: t.Minute()}
}

// check validates what needs more than one variable or a closer look.
func (p *parser) check(c Config) {
	if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		p.fail("NOTIFIER_HTTP_ADDR", "%q is not host:port", c.HTTPAddr)
	}
	if c.DatabaseURL != "" && !hasScheme(c.DatabaseURL, "postgres", "postgresql") {
		p.fail("DATABASE_URL", "must be a postgres:// URL (or empty for the embedded store)")
	}
	if c.RedisURL != "" && !hasScheme(c.RedisURL, "redis", "rediss") {
		p.fail("REDIS_URL", "must be a redis:// or rediss:// URL (or empty for the in-process bus)")
	}
	if strings.ContainsAny(c.StreamPrefix, " \t{}") {
		p.fail("NOTIFIER_STREAM_PREFIX", "must not contain spaces or braces")
	}
	for i, s := range c.WebhookSecrets {
		if err := checkWebhookSecret(s); err != nil {
			p.fail("MOODLE_WEBHOOK_SECRET", "secret %d: %v", i+1, err)
		}
	}
	if c.MoodleURL != "" {
		if !hasScheme(c.MoodleURL, "http", "https") {
			p.fail("MOODLE_URL", "must be an http:// or https:// URL")
		}
		if c.MoodleToken == "" {
			p.fail("MOODLE_TOKEN", "is required when MOODLE_URL is set")
		}
	}
	if !hasScheme(c.WhatsApp.APIURL, "http", "https") {
		p.fail("WHATSAPP_API_URL", "must be an http:// or https:// URL")
	}
	if c.WhatsApp.Token != "" {
		if c.WhatsApp.PhoneID == "" {
			p.fail("WHATSAPP_PHONE_ID", "is required when WHATSAPP_TOKEN is set")
		}
		if c.WhatsApp.AppSecret == "" {
			p.fail("WHATSAPP_APP_SECRET", "is required when WHATSAPP_TOKEN is set (it verifies Meta's webhooks)")
		}
	}
	if !domain.ValidRegion(c.PhoneRegion) {
		p.fail("NOTIFIER_PHONE_REGION", "%q is not a two-letter region code such as ES", c.PhoneRegion)
	}
	if c.Env == "production" {
		p.checkProduction(c)
	}
}

func (p *parser) checkProduction(c Config) {
	const why = "must be set when NOTIFIER_ENV=production"
	if c.DatabaseURL == "" {
		p.fail("DATABASE_URL", "%s (the embedded SQLite store is for development)", why)
	}
	if c.RedisURL == "" {
		p.fail("REDIS_URL", "%s (the in-process bus is for development)", why)
	}
	if len(c.WebhookSecrets) == 0 {
		p.fail("MOODLE_WEBHOOK_SECRET", "%s (generated secrets are for development)", why)
	}
	if len(c.AdminTokens) == 0 {
		p.fail("NOTIFIER_ADMIN_TOKENS", "%s (generated tokens are for development)", why)
	}
	for _, t := range c.AdminTokens {
		if len(t) < 32 {
			p.fail("NOTIFIER_ADMIN_TOKENS", "every token must be at least 32 characters in production")
			break
		}
	}
}

// checkWebhookSecret accepts whsec_<base64 of 24 to 64 bytes> (CONTRACT 3).
func checkWebhookSecret(s string) error {
	raw, ok := strings.CutPrefix(s, "whsec_")
	if !ok {
		return errors.New("must start with whsec_")
	}
	key, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		return errors.New("the part after whsec_ is not standard base64")
	}
	if len(key) < 24 || len(key) > 64 {
		return fmt.Errorf("decodes to %d bytes, want 24 to 64", len(key))
	}
	return nil
}

func hasScheme(raw string, schemes ...string) bool {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return false
	}
	for _, s := range schemes {
		if u.Scheme == s {
			return true
		}
	}
	return false
}
