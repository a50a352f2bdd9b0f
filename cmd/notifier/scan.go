package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/acme/notifier/app"
	"github.com/acme/notifier/domain"
)

const scanUsage = `usage: notifier scan [--date YYYY-MM-DD] [--wait]
`

// scanCommand starts a manual scan for a date and dispatches it. With Redis
// the running services' workers evaluate it; with the in-process bus no
// other process can reach this one's messages, so the command evaluates the
// scan itself and always waits for it.
func scanCommand(ctx context.Context, cfg Config, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("scan", stderr)
	dateFlag := fs.String("date", "", "reference date YYYY-MM-DD (default: today in NOTIFIER_TIMEZONE)")
	wait := fs.Bool("wait", false, "wait until the scan is done and print its counts")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var date domain.Date
	if *dateFlag != "" {
		d, err := domain.ParseDate(*dateFlag)
		if err != nil {
			return usageError{"scan: --date: " + err.Error()}
		}
		date = d
	}
	inProcess := cfg.RedisURL == ""
	if inProcess {
		cfg.Role = "worker" // this process runs the handlers
	} else {
		cfg.Role = "api" // publish only: never join the consumer groups and leave
	}
	log := newLogger(cfg, stderr)
	s, err := newService(ctx, cfg, log, overrides{})
	if err != nil {
		return err
	}
	defer s.Close()

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	routerDone := make(chan error, 1)
	if inProcess {
		go func() { routerDone <- s.router.Run(runCtx) }()
		select {
		case <-s.router.Running():
		case err := <-routerDone:
			return fmt.Errorf("scan: start handlers: %w", err)
		}
	}
	sc, _, err := s.scans.Start(ctx, app.ScanManual, date)
	if err != nil {
		return err
	}
	if err := s.scans.Dispatch(ctx); err != nil {
		return err
	}
	if !*wait && !inProcess {
		fmt.Fprintf(stdout, "scan %d of %s started\n", sc.ID, sc.Date)
		return nil
	}
	if !*wait {
		fmt.Fprintln(stderr, "no REDIS_URL: this command evaluates the scan itself and waits for it")
	}
	done, err := waitScan(ctx, s.scans, sc.ID)
	if err != nil {
		return err
	}
	c := done.Counts
	fmt.Fprintf(stdout, "scan %d of %s %s: dispatched %d, evaluated %d, messages %d, failed %d\n",
		done.ID, done.Date, done.Status, c.Dispatched, c.Evaluated, c.Messages, c.Failed)
	if inProcess {
		stop()
		if err := <-routerDone; err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
	}
	return nil
}

// waitScan closes finished scans and polls until scan id is no longer
// running.
func waitScan(ctx context.Context, scans *app.ScanHandler, id int64) (app.Scan, error) {
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		if err := scans.Complete(ctx); err != nil {
			return app.Scan{}, err
		}
		sc, err := scans.Get(ctx, id)
		if err != nil {
			return app.Scan{}, err
		}
		if sc.Status != app.ScanRunning {
			return sc, nil
		}
		select {
		case <-ctx.Done():
			return sc, fmt.Errorf("scan %d still running: %w", id, ctx.Err())
		case <-t.C:
		}
	}
}
