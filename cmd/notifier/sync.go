package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/acme/notifier/adapters/moodle"
	"github.com/acme/notifier/adapters/whatsapp"
	"github.com/acme/notifier/app"
	"github.com/acme/notifier/ports/httpapi"
)

// courseIDs is the repeatable --course flag; a value may also list ids
// separated by commas.
type courseIDs []int64

func (c *courseIDs) String() string {
	s := make([]string, len(*c))
	for i, id := range *c {
		s[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(s, ",")
}

func (c *courseIDs) Set(v string) error {
	for _, part := range strings.Split(v, ",") {
		id, err := strconv.ParseInt(strings.TrimSpace(part), 10, 64)
		if err != nil || id <= 0 {
			return fmt.Errorf("%q is not a Moodle course id (a positive integer)", part)
		}
		*c = append(*c, id)
	}
	return nil
}

// syncCommand is `notifier sync [--course ID ...] [--wait]`: it imports
// students and enrolments from Moodle, as POST /api/v1/syncs does, for the
// courses named or every visible course that has not ended. The import runs
// in this process and is recorded as a sync (GET /api/v1/syncs/{id}); the
// command prints the sync's id when it starts and its outcome when it ends.
// With --wait it also prints the counts and exits 1 when the sync failed.
func syncCommand(ctx context.Context, cfg Config, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("sync", stderr)
	var courses courseIDs
	fs.Var(&courses, "course", "Moodle course id to import (repeatable, or comma-separated; default: every visible course that has not ended)")
	wait := fs.Bool("wait", false, "block until the sync finishes, print its counts, and fail when it failed")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if cfg.MoodleURL == "" {
		return &ConfigError{Var: "MOODLE_URL", Msg: "is required by notifier sync (with MOODLE_TOKEN): the import reads Moodle"}
	}
	log := newLogger(cfg, stderr)
	rules, err := loadRules(cfg)
	if err != nil {
		return err
	}
	store, _, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	adminStore, ok := any(store).(app.AdminStore)
	if !ok {
		return errors.New("the store does not keep syncs")
	}
	application, err := app.New(app.Settings{Rules: rules, Location: cfg.Location, PhoneRegion: cfg.PhoneRegion},
		app.Deps{Store: store, Sender: whatsapp.DryRun{}, Logger: log})
	if err != nil {
		return err
	}
	client, err := newMoodle(cfg, log)
	if err != nil {
		return err
	}
	admin, err := newAdmin(ctx, application, adminStore, client)
	if err != nil {
		return err
	}
	if n, err := admin.Sync.FailAbandoned(ctx); err != nil {
		log.WarnContext(ctx, "mark abandoned syncs failed", "err", err)
	} else if n > 0 {
		log.WarnContext(ctx, "syncs abandoned by a stopped process marked failed", "count", n)
	}

	sc, err := admin.Sync.Start(ctx, courses)
	if err != nil {
		return syncError(err)
	}
	fmt.Fprintf(stdout, "sync %d started (%s)\n", sc.ID, syncScope(sc))
	admin.Sync.Wait()
	// The sync's own context may have ended (a signal): read it back anyway.
	sc, err = admin.Sync.Get(context.WithoutCancel(ctx), sc.ID)
	if err != nil {
		return err
	}
	c := sc.Counts
	fmt.Fprintf(stdout, "sync %d %s", sc.ID, sc.Status)
	if *wait {
		fmt.Fprintf(stdout, ": %d courses, %d added, %d updated, %d skipped, %d failed",
			c.Courses, c.Added, c.Updated, c.Skipped, c.Failed)
	}
	fmt.Fprintln(stdout)
	if sc.Status == app.SyncFailed {
		fmt.Fprintf(stderr, "notifier: sync %d: %s\n", sc.ID, sc.Error)
		if *wait {
			return fmt.Errorf("sync %d failed", sc.ID)
		}
	}
	return ctx.Err()
}

func syncScope(sc app.Sync) string {
	if len(sc.MoodleCourseIDs) == 0 {
		return "every visible course that has not ended"
	}
	ids := courseIDs(sc.MoodleCourseIDs)
	return "Moodle courses " + ids.String()
}

// syncError names the flag at fault when the sync could not start because
// of it.
func syncError(err error) error {
	var inv *app.InvalidError
	if errors.As(err, &inv) {
		return usageError{fmt.Sprintf("sync: --course: %s", inv.Msg)}
	}
	if errors.Is(err, app.ErrMoodleNotConfigured) {
		return &ConfigError{Var: "MOODLE_URL", Msg: "is required by notifier sync"}
	}
	return err
}

// newAdmin builds the admin use cases: with Moodle when a client is given
// (MOODLE_URL is set), without otherwise (the routes that act in Moodle then
// answer 503). Syncs started in the background run under ctx.
func newAdmin(ctx context.Context, a *app.Application, store app.AdminStore, client *moodle.Client) (*app.Admin, error) {
	deps := app.AdminDeps{Store: store, Background: ctx}
	if client != nil {
		deps.Moodle = moodle.NewDirectory(client)
	}
	return app.NewAdmin(a, deps)
}

// adminRoutes are the admin API's route groups of students, courses,
// enrollments, syncs, statistics and rules (CONTRACT section 5), for
// httpapi.Options.AdminRoutes; httpapi.RegisterOpenAPI goes in
// Options.Routes.
func adminRoutes(a *app.Application, admin *app.Admin) []func(gin.IRoutes) {
	return []func(gin.IRoutes){
		httpapi.StudentRoutes{Admin: admin}.Register,
		httpapi.CourseRoutes{Admin: admin}.Register,
		httpapi.EnrollmentRoutes{Admin: admin}.Register,
		httpapi.SyncRoutes{Admin: admin}.Register,
		httpapi.StatsRoutes{Admin: admin}.Register,
		httpapi.RuleRoutes{Queries: a.Queries}.Register,
	}
}
