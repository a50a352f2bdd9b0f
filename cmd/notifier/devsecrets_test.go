package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDevSecretsAreGeneratedOnceAndKept(t *testing.T) {
	dir := t.TempDir()
	c1 := Config{DataDir: dir}
	require.NoError(t, fillDevSecrets(&c1))
	require.Len(t, c1.WebhookSecrets, 1)
	require.NoError(t, checkWebhookSecret(c1.WebhookSecrets[0]))
	require.Len(t, c1.AdminTokens, 1)
	assert.Len(t, c1.Generated, 2)

	info, err := os.Stat(filepath.Join(dir, devSecretsFile))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "secrets are readable by the owner only")

	c2 := Config{DataDir: dir}
	require.NoError(t, fillDevSecrets(&c2))
	assert.Equal(t, c1.WebhookSecrets, c2.WebhookSecrets, "a restart keeps the same secret")
	assert.Equal(t, c1.AdminTokens, c2.AdminTokens)
}

func TestDevSecretsLeaveConfiguredValuesAlone(t *testing.T) {
	c := Config{DataDir: t.TempDir(), AdminTokens: []string{"mine"}}
	require.NoError(t, fillDevSecrets(&c))
	assert.Equal(t, []string{"mine"}, c.AdminTokens)
	assert.Len(t, c.Generated, 1, "only the webhook secret was generated")
}

func TestDamagedDevSecretsFileIsReported(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, devSecretsFile), []byte("{"), 0o600))
	err := fillDevSecrets(&Config{DataDir: dir})
	require.ErrorContains(t, err, "damaged")
}
