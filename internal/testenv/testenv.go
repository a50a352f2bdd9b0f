// Package testenv gives tests the real services they need (PostgreSQL,
// Redis, files from ../shared) and skips when one is absent, unless
// NOTIFIER_REQUIRE_SERVICES=1 turns every such skip into a failure, as CI
// does.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

// Require reports whether missing services must fail the tests.
func Require() bool { return os.Getenv("NOTIFIER_REQUIRE_SERVICES") == "1" }

// Unavailable skips the test, or fails it when services are required.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if Require() {
		t.Fatalf("NOTIFIER_REQUIRE_SERVICES=1 but %s", msg)
	}
	t.Skipf("skipped: %s", msg)
}

// Suffix is a random name part unique to one test.
func Suffix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// PostgresURL creates a database of its own for the test on the server of
// NOTIFIER_TEST_DATABASE_URL and returns its URL; the database is dropped when
// the test ends.
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv("NOTIFIER_TEST_DATABASE_URL")
	if base == "" {
		Unavailable(t, "NOTIFIER_TEST_DATABASE_URL is not set (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		Unavailable(t, "PostgreSQL at NOTIFIER_TEST_DATABASE_URL does not answer: %v", err)
	}
	defer admin.Close(ctx)
	name := "notifier_test_" + Suffix()
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("drop test database %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("NOTIFIER_TEST_DATABASE_URL: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

// Redis is a test's view of the Redis server of NOTIFIER_TEST_REDIS_URL: the
// URL and a key prefix of its own, whose keys are deleted when the test ends.
type Redis struct {
	URL    string
	Prefix string
}

// RedisServer returns the Redis to use and registers the clean-up of every
// key under the test's prefix.
func RedisServer(t testing.TB) Redis {
	t.Helper()
	raw := os.Getenv("NOTIFIER_TEST_REDIS_URL")
	if raw == "" {
		Unavailable(t, "NOTIFIER_TEST_REDIS_URL is not set (e.g. redis://127.0.0.1:6379/0)")
	}
	opt, err := redis.ParseURL(raw)
	if err != nil {
		t.Fatalf("NOTIFIER_TEST_REDIS_URL: %v", err)
	}
	c := redis.NewClient(opt)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		_ = c.Close()
		Unavailable(t, "Redis at NOTIFIER_TEST_REDIS_URL does not answer: %v", err)
	}
	prefix := "notifier-test-" + Suffix()
	t.Cleanup(func() {
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
		if err := iter.Err(); err != nil {
			t.Errorf("clean Redis keys %s*: %v", prefix, err)
		}
	})
	return Redis{URL: raw, Prefix: prefix}
}

// SharedFile returns the path of a file under the project's ../shared folder
// (or under the folder NOTIFIER_SHARED_DIR names), skipping when it is absent.
func SharedFile(t testing.TB, rel string) string {
	t.Helper()
	dir := os.Getenv("NOTIFIER_SHARED_DIR")
	if dir == "" {
		dir = filepath.Join(RepoRoot(), "..", "shared")
	}
	p := filepath.Join(dir, filepath.FromSlash(rel))
	if _, err := os.Stat(p); err != nil {
		Unavailable(t, "%s is absent (set NOTIFIER_SHARED_DIR to the shared folder)", p)
	}
	return p
}

// RepoRoot is the repository's root folder.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return strings.TrimSuffix(filepath.Dir(file), filepath.FromSlash("/internal/testenv"))
}
