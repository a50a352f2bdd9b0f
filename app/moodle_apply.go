package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/acme/notifier/domain"
)

func (u MoodleUser) student() domain.Student {
	return domain.Student{MoodleUserID: u.ID, Username: u.Username, FirstName: u.FirstName, LastName: u.LastName,
		Email: u.Email, Phone: u.Phone, Lang: u.Lang, Timezone: u.Timezone}
}

func (c MoodleCourse) course() domain.Course {
	return domain.Course{MoodleCourseID: c.ID, ShortName: c.ShortName, FullName: c.FullName,
		StartDate: c.StartDate, EndDate: c.EndDate}
}

// ApplyMoodleEvent brings the event's facts into the store and evaluates the
// rules it may trigger. It is idempotent: applying an event twice leaves the
// same state and, thanks to the rules' deduplication, the same rows.
func (h *EvaluateHandler) ApplyMoodleEvent(ctx context.Context, ev MoodleEvent) (EvaluateResult, error) {
	trigger := domain.Trigger{Kind: domain.TriggerMoodleEvent, Ref: ev.ID}
	switch ev.Name {
	case EventCourseUpdated:
		if ev.Course == nil {
			return EvaluateResult{}, nil
		}
		_, err := h.store.UpsertCourse(ctx, ev.Course.course())
		return EvaluateResult{}, wrapEvent(ev, err)
	case EventUserUpdated:
		return EvaluateResult{}, wrapEvent(ev, h.updateKnownStudent(ctx, *ev.User))
	case EventEnrolmentDeleted:
		return EvaluateResult{}, wrapEvent(ev, h.deleteEnrollment(ctx, ev))
	case EventEnrolmentCreated, EventEnrolmentUpdated:
		e, err := h.upsertEnrollment(ctx, ev, false)
		if err != nil {
			return EvaluateResult{}, wrapEvent(ev, err)
		}
		return h.Handle(ctx, EvaluateEnrollment{EnrollmentID: e.ID, Occasion: domain.OnEnrolment, Trigger: trigger})
	case EventScormStatusSubmitted, EventModuleCompletion, EventCourseCompleted:
		// An enrollment first seen through a progress event began before the
		// notifier knew of it: it is imported, so it gets no welcome.
		e, err := h.upsertEnrollment(ctx, ev, true)
		if err != nil {
			return EvaluateResult{}, wrapEvent(ev, err)
		}
		return h.Handle(ctx, EvaluateEnrollment{EnrollmentID: e.ID, Occasion: domain.OnProgress, Trigger: trigger})
	}
	return EvaluateResult{}, nil
}

func wrapEvent(ev MoodleEvent, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("apply %s event %s: %w", ev.Name, ev.ID, err)
}

// upsertEnrollment writes the event's student, course and enrollment in one
// store transaction.
func (h *EvaluateHandler) upsertEnrollment(ctx context.Context, ev MoodleEvent, imported bool) (domain.Enrollment, error) {
	if ev.User == nil || ev.Course == nil {
		return domain.Enrollment{}, errors.New("the event has no user or no course")
	}
	e := domain.Enrollment{Roles: ev.User.Roles, Imported: imported}
	if en := ev.Enrolment; en != nil {
		e.MoodleEnrolmentID, e.Status, e.TimeStart, e.TimeEnd = en.ID, en.Status, en.TimeStart, en.TimeEnd
	}
	if ev.Progress != nil {
		e.Progress = *ev.Progress
	}
	return h.store.UpsertEnrolled(ctx, ev.User.student(), ev.Course.course(), e)
}

func (h *EvaluateHandler) updateKnownStudent(ctx context.Context, u MoodleUser) error {
	s, err := h.store.FindStudentByMoodleID(ctx, u.ID)
	if errors.Is(err, ErrNotFound) {
		return nil // not one of ours: nothing to update
	}
	if err != nil {
		return err
	}
	_, err = h.store.UpdateStudent(ctx, s.ID, func(s *domain.Student) error {
		s.Username, s.FirstName, s.LastName, s.Email = u.Username, u.FirstName, u.LastName, u.Email
		s.Phone, s.Lang, s.Timezone = u.Phone, u.Lang, u.Timezone
		return nil
	})
	return err
}

func (h *EvaluateHandler) deleteEnrollment(ctx context.Context, ev MoodleEvent) error {
	if ev.User == nil || ev.Course == nil {
		return errors.New("the event has no user or no course")
	}
	e, err := h.store.FindEnrollment(ctx, ev.User.ID, ev.Course.ID)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	_, err = h.store.UpdateEnrollment(ctx, e.ID, func(e *domain.Enrollment) error {
		e.Deleted = true
		return nil
	})
	return err
}

// MoodleEventProcessor handles stored Moodle events taken from the bus.
type MoodleEventProcessor struct {
	eval    *EvaluateHandler
	inbound InboundStore
	// marks records concurrent handlers' "processed" in one statement (see
	// grouper); each handler still returns only once its event is marked.
	marks grouper[string, struct{}]
}

// maxMarkGroup bounds the events one statement marks processed.
const maxMarkGroup = 500

// markTimeout bounds one grouped mark.
const markTimeout = 10 * time.Second

// NewMoodleEventProcessor builds the processor of Moodle events.
func NewMoodleEventProcessor(a *Application, inbound InboundStore) (*MoodleEventProcessor, error) {
	if a == nil || inbound == nil {
		return nil, errors.New("app: the event processor needs the application and the inbound store")
	}
	p := &MoodleEventProcessor{eval: a.Evaluate, inbound: inbound}
	p.marks = grouper[string, struct{}]{max: maxMarkGroup, timeout: markTimeout,
		run: func(ctx context.Context, ids []string) ([]struct{}, error) {
			return make([]struct{}, len(ids)), inbound.MarkInboundProcessed(ctx, p.eval.now(), ids...)
		}}
	return p, nil
}

// Process applies the event unless it was processed already, then marks it
// processed. Applying twice is harmless (a redelivery racing the mark), so
// the check is only a shortcut; the database's deduplication is the guard.
func (p *MoodleEventProcessor) Process(ctx context.Context, ev MoodleEvent) error {
	stored, err := p.inbound.GetInbound(ctx, ev.ID)
	switch {
	case errors.Is(err, ErrNotFound):
		// Published but not stored cannot happen through the webhook; a
		// replayed or hand-made message is still worth applying.
	case err != nil:
		return fmt.Errorf("read inbound event %s: %w", ev.ID, err)
	case stored.State == InboundProcessed || stored.State == InboundIgnored:
		return nil
	}
	if _, err := p.eval.ApplyMoodleEvent(ctx, ev); err != nil {
		if merr := p.inbound.MarkInboundAttempt(ctx, ev.ID, err.Error()); merr != nil && !errors.Is(merr, ErrNotFound) {
			p.eval.log.WarnContext(ctx, "record failed attempt", "event_id", ev.ID, "err", merr)
		}
		return err
	}
	if _, err := p.marks.do(ctx, ev.ID); err != nil {
		return fmt.Errorf("mark event %s processed: %w", ev.ID, err)
	}
	return nil
}
