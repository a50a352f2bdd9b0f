package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/acme/notifier/app"
	"github.com/acme/notifier/ports/httpapi"
)

const dlqUsage = `usage:
  notifier dlq list [--limit N]              list dead letters, oldest first (default 50)
  notifier dlq replay (--id ID ... | --all)  put dead letters back on their topic and remove them
`

// dlqCommand runs `notifier dlq list|replay`.
func dlqCommand(ctx context.Context, cfg Config, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{"dlq: a subcommand is required\n" + dlqUsage}
	}
	switch args[0] {
	case "list":
		return dlqList(ctx, cfg, args[1:], stdout, stderr)
	case "replay":
		return dlqReplay(ctx, cfg, args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, dlqUsage)
		return nil
	default:
		return usageError{fmt.Sprintf("dlq: unknown subcommand %q\n%s", args[0], dlqUsage)}
	}
}

func dlqList(ctx context.Context, cfg Config, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("dlq list", stderr)
	limit := fs.Int("limit", 50, "how many dead letters to list, oldest first")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *limit < 1 {
		return usageError{fmt.Sprintf("dlq list: --limit %d: want 1 or more", *limit)}
	}
	store, closeStore, err := openDeadLetterStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer closeStore()

	var rows []app.DeadLetter
	after := int64(0)
	for len(rows) < *limit {
		want := min(*limit-len(rows), app.MaxDeadLetterPage)
		page, err := store.ListDeadLetters(ctx, after, want)
		if err != nil {
			return err
		}
		rows = append(rows, page...)
		if len(page) < want {
			break
		}
		after = page[len(page)-1].ID
	}
	total, err := store.CountDeadLetters(ctx)
	if err != nil {
		return err
	}
	if len(rows) == 0 {
		fmt.Fprintln(stdout, "no dead letters")
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTOPIC\tATTEMPTS\tFIRST FAILED\tREASON")
	for _, d := range rows {
		fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%s\n", d.ID, d.Topic, d.Attempts,
			d.FirstFailedAt.UTC().Format(time.RFC3339), oneLine(d.Reason, 100))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if total > len(rows) {
		fmt.Fprintf(stdout, "%d of %d dead letters shown (--limit)\n", len(rows), total)
	}
	return nil
}

// oneLine is the first line of s, cut to n runes.
func oneLine(s string, n int) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// idList is a repeatable --id flag; "--id 1,2" works too.
type idList []int64

func (l *idList) String() string { return fmt.Sprint([]int64(*l)) }

func (l *idList) Set(v string) error {
	for part := range strings.SplitSeq(v, ",") {
		id, err := strconv.ParseInt(strings.TrimSpace(part), 10, 64)
		if err != nil || id <= 0 {
			return fmt.Errorf("%q is not a dead letter id", part)
		}
		*l = append(*l, id)
	}
	return nil
}

func dlqReplay(ctx context.Context, cfg Config, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("dlq replay", stderr)
	var ids idList
	fs.Var(&ids, "id", "a dead letter to replay (repeat for several)")
	all := fs.Bool("all", false, "replay every dead letter there is now")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case *all && len(ids) > 0:
		return usageError{"dlq replay: give --id or --all, not both\n" + dlqUsage}
	case !*all && len(ids) == 0:
		return usageError{"dlq replay: give --id ID (repeatable) or --all\n" + dlqUsage}
	}

	var (
		res app.ReplayResult
		err error
	)
	if cfg.RedisURL == "" {
		// The in-process bus lives inside the running service: only it can
		// hand the messages to its handlers.
		res, err = replayThroughService(ctx, cfg, ids, *all)
	} else {
		res, err = replayHere(ctx, cfg, ids, *all, stderr)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "replayed %d dead letter(s)", len(res.Moved))
	if len(res.Moved) > 0 {
		fmt.Fprintf(stdout, ": %s", joinIDs(res.Moved))
	}
	fmt.Fprintln(stdout)
	for _, f := range res.Failed {
		fmt.Fprintf(stdout, "not replayed %d: %s\n", f.ID, f.Reason)
	}
	if len(res.Failed) > 0 {
		return fmt.Errorf("dlq replay: %d dead letter(s) not replayed", len(res.Failed))
	}
	return nil
}

func replayHere(ctx context.Context, cfg Config, ids []int64, all bool, stderr io.Writer) (app.ReplayResult, error) {
	store, closeStore, err := openDeadLetterStore(ctx, cfg)
	if err != nil {
		return app.ReplayResult{}, err
	}
	defer closeStore()
	log := newLogger(cfg, stderr)
	b, _, err := openBus(ctx, cfg, log)
	if err != nil {
		return app.ReplayResult{}, err
	}
	defer b.Close()
	dls, err := app.NewDeadLetters(app.DeadLettersDeps{Store: store, Bus: b, Logger: log})
	if err != nil {
		return app.ReplayResult{}, err
	}
	if all {
		return dls.ReplayAll(ctx)
	}
	return dls.Replay(ctx, ids)
}

// replayThroughService asks the local service's admin API to replay: with
// the in-process bus, a message published by this process would reach no
// handler.
func replayThroughService(ctx context.Context, cfg Config, ids []int64, all bool) (app.ReplayResult, error) {
	host, port, err := net.SplitHostPort(cfg.HTTPAddr)
	if err != nil {
		return app.ReplayResult{}, &ConfigError{Var: "NOTIFIER_HTTP_ADDR", Msg: err.Error()}
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	if len(cfg.AdminTokens) == 0 {
		return app.ReplayResult{}, &ConfigError{Var: "NOTIFIER_ADMIN_TOKENS",
			Msg: "a token is required to ask the running service to replay (the bus is in-process)"}
	}
	body := map[string]any{"all": true}
	if !all {
		body = map[string]any{"ids": ids}
	}
	raw, _ := json.Marshal(body)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	url := "http://" + net.JoinHostPort(host, port) + "/api/v1/dead-letters/replay"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(raw))
	if err != nil {
		return app.ReplayResult{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+cfg.AdminTokens[0])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return app.ReplayResult{}, fmt.Errorf("dlq replay: without REDIS_URL the bus lives inside the running service, "+
			"which did not answer at %s (start `notifier serve`, or set REDIS_URL): %w", url, err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if resp.StatusCode != http.StatusOK {
		var p httpapi.Problem
		if json.Unmarshal(answer, &p) == nil && p.Detail != "" {
			return app.ReplayResult{}, fmt.Errorf("dlq replay: the service answered %s: %s", resp.Status, p.Detail)
		}
		return app.ReplayResult{}, fmt.Errorf("dlq replay: the service answered %s", resp.Status)
	}
	var v httpapi.ReplayView
	if err := json.Unmarshal(answer, &v); err != nil {
		return app.ReplayResult{}, fmt.Errorf("dlq replay: the service's answer: %w", err)
	}
	res := app.ReplayResult{Moved: v.MovedIDs}
	for _, f := range v.Failures {
		res.Failed = append(res.Failed, app.ReplayFailure{ID: f.ID, Reason: f.Reason})
	}
	return res, nil
}

// openDeadLetterStore opens the store (as serve does) as a dead-letter
// store.
func openDeadLetterStore(ctx context.Context, cfg Config) (app.DeadLetterStore, func(), error) {
	store, _, err := openStore(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	dls, ok := store.(app.DeadLetterStore)
	if !ok {
		_ = store.Close()
		return nil, nil, errors.New("dlq: this store keeps no dead letters")
	}
	return dls, func() { _ = store.Close() }, nil
}

func joinIDs(ids []int64) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(parts, ", ")
}

// dlqMain reads the configuration and runs `notifier dlq`.
func dlqMain(ctx context.Context, getenv func(string) string, args []string, stdout, stderr io.Writer) error {
	cfg, err := loadConfig(getenv, "")
	if err != nil {
		return err
	}
	return dlqCommand(ctx, cfg, args, stdout, stderr)
}
