package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// devSecrets are made up once for development and kept in NOTIFIER_DATA_DIR,
// so that Moodle and scripts keep working across restarts.
type devSecrets struct {
	WebhookSecret string `json:"moodle_webhook_secret"`
	AdminToken    string `json:"admin_token"`
}

const devSecretsFile = "dev-secrets.json"

// fillDevSecrets gives an empty MOODLE_WEBHOOK_SECRET or NOTIFIER_ADMIN_TOKENS
// a generated value (development only; production refused them earlier) and
// records which ones it filled.
func fillDevSecrets(c *Config) error {
	if len(c.WebhookSecrets) > 0 && len(c.AdminTokens) > 0 {
		return nil
	}
	s, err := loadOrCreateDevSecrets(filepath.Join(c.DataDir, devSecretsFile))
	if err != nil {
		return err
	}
	if len(c.WebhookSecrets) == 0 {
		c.WebhookSecrets = []string{s.WebhookSecret}
		c.Generated = append(c.Generated, "MOODLE_WEBHOOK_SECRET="+s.WebhookSecret)
	}
	if len(c.AdminTokens) == 0 {
		c.AdminTokens = []string{s.AdminToken}
		c.Generated = append(c.Generated, "NOTIFIER_ADMIN_TOKENS="+s.AdminToken)
	}
	return nil
}

func loadOrCreateDevSecrets(path string) (devSecrets, error) {
	var s devSecrets
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		if err := json.Unmarshal(b, &s); err != nil || checkWebhookSecret(s.WebhookSecret) != nil || s.AdminToken == "" {
			return s, fmt.Errorf("%s is damaged; delete it to generate new development secrets", path)
		}
		return s, nil
	case !errors.Is(err, os.ErrNotExist):
		return s, fmt.Errorf("read development secrets: %w", err)
	}
	s = devSecrets{WebhookSecret: "whsec_" + base64.StdEncoding.EncodeToString(random(32)), AdminToken: hex.EncodeToString(random(32))}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return s, fmt.Errorf("create NOTIFIER_DATA_DIR: %w", err)
	}
	b, _ = json.MarshalIndent(s, "", "  ")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return s, fmt.Errorf("write development secrets: %w", err)
	}
	return s, nil
}

func random(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return b
}
