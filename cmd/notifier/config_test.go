package main

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestConfigDefaults(t *testing.T) {
	c, err := LoadConfig(envOf(nil))
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:8080", c.HTTPAddr)
	assert.Equal(t, "notifier", c.StreamPrefix)
	assert.Equal(t, "./var", c.DataDir)
	assert.Equal(t, "development", c.Env)
	assert.Equal(t, "https://graph.facebook.com/v25.0", c.WhatsApp.APIURL)
	assert.Equal(t, 80, c.WhatsApp.RatePerSecond)
	assert.True(t, c.WhatsApp.DryRun())
	assert.Equal(t, time.UTC, c.Location)
	assert.Equal(t, ScanAt{Hour: 8}, c.ScanAt)
	assert.Equal(t, 168*time.Hour, c.ProgressWindow)
	assert.Equal(t, "ES", c.PhoneRegion)
	assert.Equal(t, "text", c.LogFormat)
	assert.Equal(t, "info", c.LogLevel)
	assert.Equal(t, "all", c.Role)
}

func TestConfigValues(t *testing.T) {
	c, err := LoadConfig(envOf(map[string]string{
		"NOTIFIER_TIMEZONE":        "Europe/Madrid",
		"NOTIFIER_SCAN_AT":         "off",
		"NOTIFIER_PROGRESS_WINDOW": "72h",
		"MOODLE_WEBHOOK_SECRET":    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw, whsec_" + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
		"NOTIFIER_ADMIN_TOKENS":    "a,b",
		"WHATSAPP_TOKEN":           "tok", "WHATSAPP_PHONE_ID": "123", "WHATSAPP_APP_SECRET": "s",
		"MOODLE_URL": "https://moodle.example.com/", "MOODLE_TOKEN": "t",
		"NOTIFIER_PHONE_REGION": "pt",
	}))
	require.NoError(t, err)
	assert.Equal(t, "Europe/Madrid", c.Location.String())
	assert.True(t, c.ScanAt.Off)
	assert.Equal(t, 72*time.Hour, c.ProgressWindow)
	assert.Len(t, c.WebhookSecrets, 2)
	assert.Equal(t, []string{"a", "b"}, c.AdminTokens)
	assert.False(t, c.WhatsApp.DryRun())
	assert.Equal(t, "https://moodle.example.com", c.MoodleURL)
	assert.Equal(t, "PT", c.PhoneRegion)
}

func TestConfigErrorsNameTheVariable(t *testing.T) {
	cases := []struct {
		env     map[string]string
		varName string
	}{
		{map[string]string{"NOTIFIER_HTTP_ADDR": "8080"}, "NOTIFIER_HTTP_ADDR"},
		{map[string]string{"DATABASE_URL": "mysql://x"}, "DATABASE_URL"},
		{map[string]string{"REDIS_URL": "localhost:6379"}, "REDIS_URL"},
		{map[string]string{"NOTIFIER_ENV": "staging"}, "NOTIFIER_ENV"},
		{map[string]string{"MOODLE_WEBHOOK_SECRET": "secret"}, "MOODLE_WEBHOOK_SECRET"},
		{map[string]string{"MOODLE_WEBHOOK_SECRET": "whsec_c2hvcnQ="}, "MOODLE_WEBHOOK_SECRET"},
		{map[string]string{"MOODLE_URL": "https://m.example.com"}, "MOODLE_TOKEN"},
		{map[string]string{"MOODLE_URL": "moodle", "MOODLE_TOKEN": "t"}, "MOODLE_URL"},
		{map[string]string{"WHATSAPP_TOKEN": "t", "WHATSAPP_PHONE_ID": "1"}, "WHATSAPP_APP_SECRET"},
		{map[string]string{"WHATSAPP_TOKEN": "t", "WHATSAPP_APP_SECRET": "s"}, "WHATSAPP_PHONE_ID"},
		{map[string]string{"WHATSAPP_API_URL": "graph"}, "WHATSAPP_API_URL"},
		{map[string]string{"WHATSAPP_RATE_PER_SECOND": "0"}, "WHATSAPP_RATE_PER_SECOND"},
		{map[string]string{"WHATSAPP_RATE_PER_SECOND": "fast"}, "WHATSAPP_RATE_PER_SECOND"},
		{map[string]string{"NOTIFIER_TIMEZONE": "Mars/Olympus"}, "NOTIFIER_TIMEZONE"},
		{map[string]string{"NOTIFIER_SCAN_AT": "25:00"}, "NOTIFIER_SCAN_AT"},
		{map[string]string{"NOTIFIER_PROGRESS_WINDOW": "a week"}, "NOTIFIER_PROGRESS_WINDOW"},
		{map[string]string{"NOTIFIER_PROGRESS_WINDOW": "-1h"}, "NOTIFIER_PROGRESS_WINDOW"},
		{map[string]string{"NOTIFIER_PHONE_REGION": "XX"}, "NOTIFIER_PHONE_REGION"},
		{map[string]string{"NOTIFIER_LOG_FORMAT": "xml"}, "NOTIFIER_LOG_FORMAT"},
		{map[string]string{"NOTIFIER_LOG_LEVEL": "verbose"}, "NOTIFIER_LOG_LEVEL"},
		{map[string]string{"NOTIFIER_ROLE": "db"}, "NOTIFIER_ROLE"},
	}
	for _, c := range cases {
		t.Run(c.varName, func(t *testing.T) {
			_, err := LoadConfig(envOf(c.env))
			var ce *ConfigError
			require.True(t, errors.As(err, &ce), "want a ConfigError, got %v", err)
			assert.Equal(t, c.varName, ce.Var)
			assert.Contains(t, err.Error(), c.varName+": ")
		})
	}
}

func TestProductionRefusesEmbeddedDefaultsAndGeneratedSecrets(t *testing.T) {
	_, err := LoadConfig(envOf(map[string]string{"NOTIFIER_ENV": "production"}))
	require.Error(t, err)
	for _, v := range []string{"DATABASE_URL", "REDIS_URL", "MOODLE_WEBHOOK_SECRET", "NOTIFIER_ADMIN_TOKENS"} {
		assert.Contains(t, err.Error(), v+": must be set when NOTIFIER_ENV=production")
	}

	_, err = LoadConfig(envOf(map[string]string{
		"NOTIFIER_ENV": "production", "DATABASE_URL": "postgres://db/notifier", "REDIS_URL": "redis://r:6379/0",
		"MOODLE_WEBHOOK_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
		"NOTIFIER_ADMIN_TOKENS": "0123456789abcdef0123456789abcdef",
	}))
	require.NoError(t, err)
}
