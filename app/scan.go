package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/acme/notifier/domain"
)

// ScanKind says who started a scan.
type ScanKind string

const (
	ScanScheduled ScanKind = "scheduled"
	ScanManual    ScanKind = "manual"
)

// ScanStatus is where a scan stands.
type ScanStatus string

const (
	ScanRunning ScanStatus = "running"
	ScanDone    ScanStatus = "done"
	ScanFailed  ScanStatus = "failed"
)

// ScanCounts are a scan's numbers.
type ScanCounts struct {
	Dispatched int `json:"dispatched"` // enrollments the scan covers
	Evaluated  int `json:"evaluated"`  // enrollments evaluated to the end
	Messages   int `json:"messages"`   // MessageLog rows the scan created
	Failed     int `json:"failed"`     // enrollments whose evaluation was dead-lettered
}

// Scan is one pass of the rules over every active enrollment, for a date.
type Scan struct {
	ID         int64
	Kind       ScanKind
	Date       domain.Date
	Status     ScanStatus
	Counts     ScanCounts
	StartedAt  time.Time
	FinishedAt time.Time
}

// ScanItemState is where one enrollment of a scan stands.
type ScanItemState string

const (
	ScanItemPending ScanItemState = "pending"
	ScanItemDone    ScanItemState = "done"
	ScanItemFailed  ScanItemState = "failed"
)

// ScanStore keeps scans and their items: one item per enrollment a scan
// covers, so that counts, completion and recovery read from the database.
type ScanStore interface {
	// CreateScan inserts a running scan. A second scheduled scan for the
	// same date is refused by the database: CreateScan then returns the
	// existing one and false.
	CreateScan(ctx context.Context, kind ScanKind, date domain.Date, now time.Time) (Scan, bool, error)
	// AddScanItems records, in one statement, an item for every enrollment
	// that is not deleted, not suspended and whose course has no end date or
	// ends at or after notEndedBefore; it stores and returns their number.
	// Only the first call for a scan records items: later calls (another
	// replica dispatching the same scan) return false.
	AddScanItems(ctx context.Context, scanID int64, notEndedBefore time.Time) (int, bool, error)
	// UndispatchedScans lists running scans whose items are not recorded yet.
	UndispatchedScans(ctx context.Context) ([]Scan, error)
	// PendingScanItems lists enrollment ids of pending items, ascending,
	// after the id afterEnrollmentID.
	PendingScanItems(ctx context.Context, scanID, afterEnrollmentID int64, limit int) ([]int64, error)
	// FinishScanItem moves a pending item to done or failed with the number
	// of rows it created; it reports false when the item was not pending.
	FinishScanItem(ctx context.Context, scanID, enrollmentID int64, state ScanItemState, messages int) (bool, error)
	// FinishScanItems does what FinishScanItem does for each of items, in
	// one transaction; items no longer pending are left as they are.
	FinishScanItems(ctx context.Context, items []ScanItemResult) error
	// GetScan returns the scan with its counts.
	GetScan(ctx context.Context, id int64) (Scan, error)
	// ListScans lists scans newest first, with ids below beforeID (0: all).
	ListScans(ctx context.Context, beforeID int64, limit int) ([]Scan, error)
	// CompleteScans marks done the running scans that have items recorded
	// and none pending, and returns them.
	CompleteScans(ctx context.Context, now time.Time) ([]Scan, error)
	// RunningScans lists scans still running.
	RunningScans(ctx context.Context) ([]Scan, error)
}

// ScanItemResult is how one item of a scan finished.
type ScanItemResult struct {
	ScanID       int64
	EnrollmentID int64
	State        ScanItemState
	Messages     int
}

// ScanItem is the bus message of one enrollment of a scan.
type ScanItem struct {
	ScanID       int64  `json:"scan_id"`
	EnrollmentID int64  `json:"enrollment_id"`
	Date         string `json:"date"`
}

// ScanHandler starts scans, fans them out on the bus (one message per
// enrollment) and evaluates each enrollment.
type ScanHandler struct {
	scans    ScanStore
	store    Store
	bus      Bus
	eval     *EvaluateHandler
	progress ProgressSource // nil: the last known progress is used
	loc      *time.Location
	now      func() time.Time
	log      *slog.Logger
	cache    *progressCache
	// reads groups the unlocked reads of concurrent items into one
	// statement (see grouper); a nil state is an enrollment that is gone.
	reads    grouper[int64, *EnrollmentState]
	finisher *itemFinisher
	observer ScanObserver // nil: none

	stallMu        sync.Mutex
	stalls         map[int64]scanWatch // running scans by id: when their count of finished items last moved
	lastStallCheck time.Time
}

// scanWatch is what ResumeStalled last saw of a running scan.
type scanWatch struct {
	finished int
	since    time.Time
}

// StallAfter is how long a running scan may go without finishing any item
// before ResumeStalled publishes its pending items again. It is well past
// the bus's own redelivery of messages held by a dead consumer (5 min), so
// it only acts when messages were lost: Redis lost its data, or a server
// crash undid finished items' asynchronous commits.
const StallAfter = 10 * time.Minute

// stallCheckEvery spaces ResumeStalled's checks: each counts the items of
// every running scan, which costs a scan of a million items a tenth of a
// second.
const stallCheckEvery = time.Minute

// NewScanHandler builds the scan use cases; progress may be nil.
func NewScanHandler(a *Application, scans ScanStore, bus Bus, progress ProgressSource) (*ScanHandler, error) {
	if a == nil || scans == nil || bus == nil {
		return nil, errors.New("app: scans need the application, a scan store and a bus")
	}
	e := a.Evaluate
	return &ScanHandler{scans: scans, store: e.store, bus: bus, eval: e, progress: progress,
		loc: e.settings.Location, now: e.now, log: e.log, cache: newProgressCache(),
		reads: grouper[int64, *EnrollmentState]{max: maxReadGroup, timeout: readTimeout,
			run: func(ctx context.Context, ids []int64) ([]*EnrollmentState, error) {
				return readStates(ctx, e.store, ids)
			}},
		finisher: newItemFinisher(scans), stalls: map[int64]scanWatch{}}, nil
}

// maxReadGroup bounds the enrollments of one grouped read; readTimeout
// bounds the read.
const (
	maxReadGroup = 100
	readTimeout  = 10 * time.Second
)

// readStates reads the enrollments' states in one call, in the order of
// ids; nil for an enrollment that is gone.
func readStates(ctx context.Context, store Store, ids []int64) ([]*EnrollmentState, error) {
	states, err := store.ReadEnrollmentStates(ctx, ids...)
	if err != nil {
		return nil, err
	}
	out := make([]*EnrollmentState, len(ids))
	for i, id := range ids {
		if st, ok := states[id]; ok {
			out[i] = &st
		}
	}
	return out, nil
}

// Today is the current date in the company zone.
func (h *ScanHandler) Today() domain.Date { return domain.DateOf(h.now(), h.loc) }

// Start creates a scan for date (zero: today); Dispatch fans it out. For a
// scheduled scan, started is false when one already exists for the date
// (another replica got there first). Start is quick: a web request or a
// command can call it, and any replica running the scheduler dispatches.
func (h *ScanHandler) Start(ctx context.Context, kind ScanKind, date domain.Date) (Scan, bool, error) {
	if date.IsZero() {
		date = h.Today()
	}
	sc, created, err := h.scans.CreateScan(ctx, kind, date, h.now())
	if err != nil {
		return sc, false, fmt.Errorf("start %s scan of %s: %w", kind, date, err)
	}
	if created {
		h.log.InfoContext(ctx, "scan started", "scan_id", sc.ID, "kind", kind, "date", date.String())
	}
	return sc, created, nil
}

// Dispatch records the items of every scan not dispatched yet and publishes
// one message per item.
func (h *ScanHandler) Dispatch(ctx context.Context) error {
	scans, err := h.scans.UndispatchedScans(ctx)
	if err != nil {
		return fmt.Errorf("list undispatched scans: %w", err)
	}
	for _, sc := range scans {
		n, claimed, err := h.scans.AddScanItems(ctx, sc.ID, sc.Date.Start(h.loc))
		if err != nil {
			return fmt.Errorf("record items of scan %d: %w", sc.ID, err)
		}
		if !claimed {
			continue // another replica dispatches it
		}
		h.log.InfoContext(ctx, "scan dispatched", "scan_id", sc.ID, "date", sc.Date.String(), "enrollments", n)
		if err := h.Publish(ctx, sc); err != nil {
			// The items are recorded: Recover publishes them again.
			return err
		}
	}
	return nil
}

// publishBatch is how many items go to the bus per call.
const publishBatch = 500

// Publish puts every pending item of the scan on the bus. Publishing an item
// twice is harmless: evaluation is idempotent and an item finishes once.
func (h *ScanHandler) Publish(ctx context.Context, sc Scan) error {
	date := sc.Date.String()
	ref := strconv.FormatInt(sc.ID, 10)
	var after int64
	for {
		ids, err := h.scans.PendingScanItems(ctx, sc.ID, after, publishBatch)
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		msgs := make([]BusMessage, len(ids))
		for i, id := range ids {
			payload, _ := json.Marshal(ScanItem{ScanID: sc.ID, EnrollmentID: id, Date: date})
			msgs[i] = BusMessage{
				ID:       fmt.Sprintf("scan-%d-%d", sc.ID, id),
				Payload:  payload,
				Metadata: map[string]string{"correlation_id": "scan:" + ref},
			}
		}
		if err := h.bus.Publish(ctx, TopicScanItems, msgs...); err != nil {
			return fmt.Errorf("publish items of scan %d: %w", sc.ID, err)
		}
		after = ids[len(ids)-1]
	}
}

// Evaluate handles one scan item: it evaluates every rule for the scan's
// date on the enrollment, with its progress as Moodle reports it (when
// configured).
//
// One read without a lock gives the progress check what it compares and
// the rules a first look: most enrollments of a scan get no message, and
// those are finished without locking or writing anything but the item.
// Only when some rule would fire, or Moodle's progress differs from the
// stored one, is the enrollment locked: one transaction then stores the
// progress, decides again on what the enrollment holds, and records the
// rows.
func (h *ScanHandler) Evaluate(ctx context.Context, item ScanItem) error {
	date, err := domain.ParseDate(item.Date)
	if err != nil {
		return fmt.Errorf("scan item: %w", err)
	}
	snapshot, err := h.reads.do(ctx, item.EnrollmentID)
	if err != nil {
		return fmt.Errorf("scan item: read enrollment %d: %w", item.EnrollmentID, err)
	}
	if snapshot == nil {
		// The enrollment vanished since the dispatch: nothing to evaluate.
		return h.finisher.finish(ctx, ScanItemResult{ScanID: item.ScanID, EnrollmentID: item.EnrollmentID, State: ScanItemDone})
	}
	st := *snapshot
	cmd := EvaluateEnrollment{
		EnrollmentID: item.EnrollmentID, Occasion: domain.OnScan, Date: date,
		Trigger:  domain.Trigger{Kind: domain.TriggerScan, Ref: strconv.FormatInt(item.ScanID, 10)},
		Snapshot: &st,
	}
	if h.progress != nil {
		p, moved, err := h.moodleProgress(ctx, item, st)
		if err != nil {
			return err
		}
		if moved {
			// Stored under the lock, where the rules decide on it: the
			// snapshot's stale figure decides nothing.
			cmd.Progress, cmd.Snapshot = &p, nil
		}
	}
	res, err := h.eval.Handle(ctx, cmd)
	if errors.Is(err, ErrNotFound) {
		// The enrollment vanished since the dispatch: nothing to evaluate.
		res, err = EvaluateResult{}, nil
	}
	if err != nil {
		return err
	}
	return h.finisher.finish(ctx, ScanItemResult{ScanID: item.ScanID, EnrollmentID: item.EnrollmentID,
		State: ScanItemDone, Messages: len(res.Created)})
}

// Failed records that an item's evaluation was dead-lettered.
func (h *ScanHandler) Failed(ctx context.Context, item ScanItem) error {
	_, err := h.scans.FinishScanItem(ctx, item.ScanID, item.EnrollmentID, ScanItemFailed, 0)
	return err
}

// moodleProgress returns Moodle's progress for the enrollment, and whether
// it differs from st's. Moodle is asked once per scan and course (the
// cache); a student Moodle does not list keeps the stored progress.
func (h *ScanHandler) moodleProgress(ctx context.Context, item ScanItem, st EnrollmentState) (domain.Progress, bool, error) {
	user, course := st.Student.MoodleUserID, st.Course.MoodleCourseID
	if user == 0 {
		return domain.Progress{}, false, nil
	}
	byUser, err := h.cache.get(ctx, item.ScanID, course, func(ctx context.Context) (map[int64]domain.Progress, error) {
		return h.progress.CourseProgress(ctx, course, nil)
	})
	if err != nil {
		return domain.Progress{}, false, fmt.Errorf("progress of course %d from Moodle: %w", course, err)
	}
	p, ok := byUser.of(user)
	if !ok || p.Equal(st.Enrollment.Progress) {
		return domain.Progress{}, false, nil
	}
	return p, true, nil
}

// Complete marks finished scans done and forgets their cached progress.
func (h *ScanHandler) Complete(ctx context.Context) error {
	done, err := h.scans.CompleteScans(ctx, h.now())
	if err != nil {
		return err
	}
	for _, sc := range done {
		h.cache.forget(sc.ID)
		if h.observer != nil {
			h.observer.ScanFinished(sc)
		}
		h.log.InfoContext(ctx, "scan done", "scan_id", sc.ID, "date", sc.Date.String(),
			"dispatched", sc.Counts.Dispatched, "evaluated", sc.Counts.Evaluated,
			"messages", sc.Counts.Messages, "failed", sc.Counts.Failed)
	}
	return nil
}

// Recover publishes again the pending items of running scans: the process
// may have died while dispatching, or the bus may have lost messages.
func (h *ScanHandler) Recover(ctx context.Context) error {
	running, err := h.scans.RunningScans(ctx)
	if err != nil {
		return err
	}
	for _, sc := range running {
		if err := h.Publish(ctx, sc); err != nil {
			return err
		}
	}
	return nil
}

// ResumeStalled publishes again the pending items of every running scan
// that has finished no item for StallAfter (as seen by this process's
// earlier calls; it looks at most once a minute). Publishing an item twice
// is harmless, so replicas that both notice a stall only repeat work.
func (h *ScanHandler) ResumeStalled(ctx context.Context) error {
	h.stallMu.Lock()
	defer h.stallMu.Unlock()
	now := h.now()
	if !h.lastStallCheck.IsZero() && now.Sub(h.lastStallCheck) < stallCheckEvery {
		return nil
	}
	h.lastStallCheck = now
	running, err := h.scans.RunningScans(ctx)
	if err != nil {
		return fmt.Errorf("list running scans: %w", err)
	}
	watched := make(map[int64]scanWatch, len(running))
	var errs []error
	for _, sc := range running {
		sc, err := h.scans.GetScan(ctx, sc.ID) // with the counts of its items
		if err != nil {
			errs = append(errs, err)
			continue
		}
		finished := sc.Counts.Evaluated + sc.Counts.Failed
		w, ok := h.stalls[sc.ID]
		switch {
		case !ok || w.finished != finished:
			w = scanWatch{finished: finished, since: now}
		case now.Sub(w.since) >= StallAfter:
			h.log.WarnContext(ctx, "scan finished no item for a while: publishing its pending items again",
				"scan_id", sc.ID, "since", w.since, "finished", finished, "dispatched", sc.Counts.Dispatched)
			if err := h.Publish(ctx, sc); err != nil {
				errs = append(errs, err)
			}
			w.since = now
		}
		watched[sc.ID] = w
	}
	h.stalls = watched // scans no longer running are forgotten
	return errors.Join(errs...)
}

// Tick is the scheduler's periodic work: start today's scheduled scan when
// it is due (unless off), dispatch new scans, publish again the items of
// stalled ones, and close finished ones.
func (h *ScanHandler) Tick(ctx context.Context, scheduled bool, hour, minute int) error {
	var errs []error
	if scheduled {
		if _, _, err := h.DueScheduled(ctx, hour, minute); err != nil {
			errs = append(errs, err)
		}
	}
	if err := h.Dispatch(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := h.ResumeStalled(ctx); err != nil {
		errs = append(errs, err)
	}
	if err := h.Complete(ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// DueScheduled starts the scheduled scan of today once the local time of day
// reaches hour:minute. The database lets one replica start it.
func (h *ScanHandler) DueScheduled(ctx context.Context, hour, minute int) (Scan, bool, error) {
	now := h.now().In(h.loc)
	today := domain.DateOf(now, h.loc)
	due := time.Date(today.Year, today.Month, today.Day, hour, minute, 0, 0, h.loc)
	if now.Before(due) {
		return Scan{}, false, nil
	}
	return h.Start(ctx, ScanScheduled, today)
}

// Get returns one scan.
func (h *ScanHandler) Get(ctx context.Context, id int64) (Scan, error) {
	return h.scans.GetScan(ctx, id)
}

// List lists scans newest first.
func (h *ScanHandler) List(ctx context.Context, beforeID int64, limit int) ([]Scan, error) {
	return h.scans.ListScans(ctx, beforeID, limit)
}
