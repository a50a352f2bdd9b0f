// Command notifier turns Moodle events into WhatsApp messages. It is the
// composition root: the only package that knows every concrete type.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// exitDeadline bounds a graceful stop. Container runtimes send SIGKILL 30 s
// after SIGTERM; serve's own grace ends well before, so this only catches a
// part that ignores its context, and says so before the SIGKILL would.
const exitDeadline = 29 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		// A second signal ends the process at once: what it cuts short is
		// stored and comes back after a restart.
		stop()
		time.Sleep(exitDeadline)
		fmt.Fprintf(os.Stderr, "notifier: still stopping %s after the signal; exiting\n", exitDeadline)
		os.Exit(1)
	}()
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// usageError is bad usage or configuration: exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

const usage = `usage: notifier [command] [flags]

commands:
  serve [--role all|api|worker|scheduler]   run the service (the default command)
  migrate                                   apply the database migrations and exit
  scan [--date YYYY-MM-DD] [--wait]         start a scan for a date (default today)
  sync [--course ID ...] [--wait]           import students and enrolments from Moodle (all visible running courses by default)
  webhook send --file EVENT.json [--url URL]  sign a Moodle event with MOODLE_WEBHOOK_SECRET and post it
  dlq list [--limit N]                      list dead letters: id, topic, attempts, first failure, reason
  dlq replay (--id ID ... | --all)          put dead letters back on their topic and remove them
  bench limits|ingest|e2e|scan [flags]      measure the service against the machine's limits (bench help)
  version                                   print the version
  healthcheck                               exit 0 when the local service answers /healthz (for containers)
`

// run executes one command and returns the process exit status: 0 success,
// 2 bad usage or configuration, 1 any other failure.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && args[0] != "" && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	err := dispatch(ctx, cmd, args, getenv, stdout, stderr)
	var ue usageError
	var ce *ConfigError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ue) || errors.As(err, &ce):
		fmt.Fprintf(stderr, "notifier: %v\n", err)
		return 2
	case errors.Is(err, flag.ErrHelp):
		return 0
	default:
		fmt.Fprintf(stderr, "notifier: %v\n", err)
		return 1
	}
}

func dispatch(ctx context.Context, cmd string, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	switch cmd {
	case "version":
		fmt.Fprintf(stdout, "notifier %s\n", version)
		return nil
	case "scan":
		cfg, err := loadConfig(getenv, "")
		if err != nil {
			return err
		}
		return scanCommand(ctx, cfg, args, stdout, stderr)
	case "sync":
		cfg, err := loadConfig(getenv, "")
		if err != nil {
			return err
		}
		return syncCommand(ctx, cfg, args, stdout, stderr)
	case "healthcheck":
		cfg, err := LoadConfig(getenv)
		if err != nil {
			return err
		}
		return healthcheck(ctx, cfg.HTTPAddr)
	case "bench":
		return benchCommand(ctx, getenv, args, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	case "dlq":
		return dlqMain(ctx, getenv, args, stdout, stderr)
	case "serve":
		fs := newFlagSet("serve", stderr)
		role := fs.String("role", "", "all, api, worker or scheduler (default NOTIFIER_ROLE or all)")
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		cfg, err := loadConfig(getenv, *role)
		if err != nil {
			return err
		}
		return serve(ctx, cfg, stdout)
	case "migrate":
		if err := parseFlags(newFlagSet("migrate", stderr), args); err != nil {
			return err
		}
		cfg, err := loadConfig(getenv, "")
		if err != nil {
			return err
		}
		return migrate(ctx, cfg, stdout)
	case "webhook":
		cfg, err := loadConfig(getenv, "")
		if err != nil {
			return err
		}
		return webhookSend(ctx, cfg, args, stdout, stderr)
	default:
		return usageError{fmt.Sprintf("unknown command %q\n%s", cmd, usage)}
	}
}

func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{fmt.Sprintf("%s: %v", fs.Name(), err)}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))}
	}
	return nil
}

// loadConfig reads the environment; a --role flag overrides NOTIFIER_ROLE.
func loadConfig(getenv func(string) string, role string) (Config, error) {
	env := getenv
	if role != "" {
		env = func(k string) string {
			if k == "NOTIFIER_ROLE" {
				return role
			}
			return getenv(k)
		}
	}
	cfg, err := LoadConfig(env)
	if err != nil {
		return cfg, err
	}
	if cfg.Env == "development" {
		if err := fillDevSecrets(&cfg); err != nil {
			return cfg, err
		}
	}
	return cfg, nil
}
