package app

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"time"

	"github.com/acme/notifier/domain"
)

// AdminDeps are what the admin use cases need beyond the Application.
type AdminDeps struct {
	Store AdminStore // required
	// Moodle is nil when Moodle is not configured: the commands that act in
	// Moodle (and syncs) then answer ErrMoodleNotConfigured, the queries
	// still work.
	Moodle Moodle
	// Background is the context syncs run under once their request has
	// ended; nil: context.Background(). Cancelling it stops running syncs,
	// which end failed.
	Background context.Context
	// SyncPageSize is how many enrolled users a sync asks Moodle for at a
	// time; default 200.
	SyncPageSize int
	// SyncConcurrency is how many courses a sync imports at once; default 4.
	SyncConcurrency int
}

// Admin gathers the use cases of the staff admin API (CONTRACT section 5)
// that the Application does not hold: students, enrollments, courses,
// statistics, idempotency and syncs.
type Admin struct {
	CreateStudent *CreateStudentHandler
	UpdateStudent *UpdateStudentHandler
	EnrollStudent *EnrollStudentHandler
	Queries       *AdminQueries
	Idempotency   *Idempotency
	Sync          *SyncHandler
	moodle        Moodle
}

// NewAdmin builds the admin use cases over the application's store,
// evaluation and settings.
func NewAdmin(a *Application, d AdminDeps) (*Admin, error) {
	if a == nil || a.Evaluate == nil || d.Store == nil {
		return nil, errors.New("app: the admin use cases need the application and an admin store")
	}
	if d.Background == nil {
		d.Background = context.Background()
	}
	if d.SyncPageSize <= 0 {
		d.SyncPageSize = 200
	}
	if d.SyncConcurrency <= 0 {
		d.SyncConcurrency = 4
	}
	e := a.Evaluate
	moodle := d.Moodle
	base := adminBase{store: e.store, admin: d.Store, moodle: moodle, settings: e.settings, now: e.now, log: e.log}
	return &Admin{
		CreateStudent: &CreateStudentHandler{adminBase: base},
		UpdateStudent: &UpdateStudentHandler{adminBase: base},
		EnrollStudent: &EnrollStudentHandler{adminBase: base, eval: e},
		Queries:       &AdminQueries{adminBase: base},
		Idempotency:   &Idempotency{store: d.Store, now: e.now, log: e.log},
		Sync: &SyncHandler{adminBase: base, roles: ruleRoles(e.settings.Rules), bg: d.Background,
			pageSize: d.SyncPageSize, concurrency: d.SyncConcurrency},
		moodle: moodle,
	}, nil
}

// MoodleConfigured reports whether the commands that act in Moodle can run.
func (a *Admin) MoodleConfigured() bool { return a.moodle != nil }

// adminBase is what every admin use case holds.
type adminBase struct {
	store    Store
	admin    AdminStore
	moodle   Moodle
	settings Settings
	now      func() time.Time
	log      *slog.Logger
}

func (b adminBase) needMoodle() error {
	if b.moodle == nil {
		return ErrMoodleNotConfigured
	}
	return nil
}

// ruleRoles are the role short names some rule in force messages.
func ruleRoles(rules []domain.Rule) []string {
	var out []string
	for _, r := range rules {
		for _, role := range r.Roles {
			if !slices.Contains(out, role) {
				out = append(out, role)
			}
		}
	}
	return out
}
