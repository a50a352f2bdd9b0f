package main

import (
	"bufio"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// No Docker engine runs where the tests do: these tests read the deployment
// files and check what they must hold.

type composeFile struct {
	Services map[string]struct {
		Build       any               `yaml:"build"`
		Image       string            `yaml:"image"`
		Command     []string          `yaml:"command"`
		EnvFile     any               `yaml:"env_file"`
		Environment map[string]string `yaml:"environment"`
		Volumes     []string          `yaml:"volumes"`
		DependsOn   map[string]any    `yaml:"depends_on"`
		Profiles    []string          `yaml:"profiles"`
		Healthcheck map[string]any    `yaml:"healthcheck"`
	} `yaml:"services"`
	Volumes map[string]any `yaml:"volumes"`
}

func readCompose(t *testing.T) composeFile {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "docker-compose.yml"))
	require.NoError(t, err)
	var c composeFile
	require.NoError(t, yaml.Unmarshal(b, &c), "docker-compose.yml must be valid YAML (anchors included)")
	return c
}

func TestComposeRunsNotifierWithPostgresAndRedis(t *testing.T) {
	c := readCompose(t)
	for _, name := range []string{"notifier", "notifier-api", "notifier-worker", "notifier-scheduler", "postgres", "redis"} {
		require.Contains(t, c.Services, name)
	}

	all := c.Services["notifier"]
	assert.Equal(t, []string{"serve", "--role", "all"}, all.Command)
	assert.Empty(t, all.Profiles, "the all-roles notifier runs by default")
	for _, role := range []string{"api", "worker", "scheduler"} {
		s := c.Services["notifier-"+role]
		assert.Equal(t, []string{"serve", "--role", role}, s.Command)
		assert.Equal(t, []string{"split"}, s.Profiles)
	}
	for name, s := range c.Services {
		if !strings.HasPrefix(name, "notifier") {
			continue
		}
		assert.True(t, strings.HasPrefix(s.Environment["DATABASE_URL"], "postgres://"), "%s: DATABASE_URL", name)
		assert.True(t, strings.HasPrefix(s.Environment["REDIS_URL"], "redis://redis:"), "%s: REDIS_URL", name)
		assert.Equal(t, ".env", s.EnvFile, "%s: secrets come from .env", name)
		assert.Contains(t, s.DependsOn, "postgres")
		assert.Contains(t, s.DependsOn, "redis")
	}

	pg := c.Services["postgres"]
	assert.Contains(t, pg.Volumes, "pgdata:/var/lib/postgresql/data", "PostgreSQL keeps its data in a volume")
	redis := c.Services["redis"]
	assert.Subset(t, redis.Command, []string{"--appendonly", "yes"}, "Redis persists with append-only files")
	assert.Contains(t, redis.Volumes, "redisdata:/data")
	assert.Contains(t, c.Volumes, "pgdata")
	assert.Contains(t, c.Volumes, "redisdata")
}

func TestEnvExampleHoldsEveryProductionVariable(t *testing.T) {
	f, err := os.Open(filepath.Join("..", "..", ".env.example"))
	require.NoError(t, err)
	defer f.Close()
	vars := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			vars[k] = v
		}
	}
	assert.Equal(t, "production", vars["NOTIFIER_ENV"])
	for _, k := range []string{"MOODLE_WEBHOOK_SECRET", "NOTIFIER_ADMIN_TOKENS", "MOODLE_URL", "MOODLE_TOKEN",
		"WHATSAPP_TOKEN", "WHATSAPP_PHONE_ID", "WHATSAPP_APP_SECRET", "WHATSAPP_VERIFY_TOKEN", "NOTIFIER_TIMEZONE"} {
		assert.Contains(t, vars, k)
	}
	// Every key must be a variable the notifier reads.
	var read []string
	_, err = LoadConfig(func(k string) string { read = append(read, k); return "" })
	require.NoError(t, err)
	for k := range vars {
		assert.True(t, slices.Contains(read, k), "%s is not a configuration variable", k)
	}
}

func TestDockerfileBuildsAStaticNonRootImage(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "Dockerfile"))
	require.NoError(t, err)
	df := string(b)
	assert.Contains(t, df, "CGO_ENABLED=0", "a static binary")
	assert.Contains(t, df, "USER nonroot", "runs as a non-root user")
	assert.Equal(t, 2, strings.Count(df, "\nFROM ")+boolInt(strings.HasPrefix(df, "FROM ")), "two stages")
}

func TestDockerignoreKeepsSecretsOutOfTheBuild(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", ".dockerignore"))
	require.NoError(t, err)
	lines := strings.Split(string(b), "\n")
	for _, p := range []string{".env", "var/", "*.db"} {
		assert.Contains(t, lines, p, "the build context must not carry %s", p)
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
