package domain

import (
	"errors"
	"slices"
	"strconv"
	"time"
)

// Evaluation is everything the rules look at for one enrollment on one
// occasion. The store builds it inside the transaction that locks the
// enrollment, so History cannot change until the new rows are written.
type Evaluation struct {
	Occasion   Occasion
	Now        time.Time
	Today      Date // the reference date: the scan's date, or today for events
	Location   *time.Location
	Student    Student
	Course     Course
	Enrollment Enrollment
	// History holds the earlier rows for this student and course.
	History []PriorMessage
}

// Decide returns the rules that fire for the evaluation, deduplication
// included, in the order given.
func Decide(rules []Rule, ev Evaluation) []Rule {
	var fire []Rule
	for _, r := range rules {
		if r.Applies(ev) && !r.Duplicate(ev) {
			fire = append(fire, r)
		}
	}
	return fire
}

// Applies reports whether the rule's conditions hold, ignoring history.
func (r Rule) Applies(ev Evaluation) bool {
	if !slices.Contains(r.On, ev.Occasion) {
		return false
	}
	e := ev.Enrollment
	if !e.ActiveAt(ev.Now) || !e.HasAnyRole(r.Roles) {
		return false
	}
	if r.NewEnrolmentsOnly && e.Imported {
		return false
	}
	if r.Progress != nil && !r.Progress.Contains(e.Progress) {
		return false
	}
	if r.CourseEndInDays != nil {
		if ev.Course.EndDate.IsZero() {
			return false
		}
		if DateOf(ev.Course.EndDate, ev.Location) != ev.Today.AddDays(*r.CourseEndInDays) {
			return false
		}
	}
	return true
}

// Duplicate reports whether history already holds what this rule would send.
// A row that counts (any status but FAILED) blocks a once rule for ever and a
// window rule while it is younger than the window. A FAILED row written
// because the student could not be reached (opted out, bad phone) also blocks
// the same rule until the student's contact details change, so that every
// scan does not record the same refusal again. A FAILED row whose outcome is
// unknown blocks like a sent one.
func (r Rule) Duplicate(ev Evaluation) bool {
	for _, h := range ev.History {
		if !r.sameSeries(h) {
			continue
		}
		if r.Dedup.Mode == DedupWindow && ev.Now.Sub(h.CreatedAt) >= r.Dedup.Window {
			continue
		}
		// A send whose outcome is unknown may have reached the student: a
		// new row would be the automatic repeat that at-most-once forbids.
		if h.Status.CountsForDedup() || h.ErrorCode == ErrCodeOutcomeUnknown {
			return true
		}
		if isLocalRefusal(h.ErrorCode) && !h.CreatedAt.Before(ev.Student.ContactChangedAt) {
			return true
		}
	}
	return false
}

// sameSeries: once rules count per rule, window rules per template.
func (r Rule) sameSeries(h PriorMessage) bool {
	if r.Dedup.Mode == DedupWindow {
		return h.Template == r.Template.Name
	}
	return h.Rule == r.Name
}

func isLocalRefusal(code string) bool {
	return code == ErrCodeOptedOut || code == ErrCodeInvalidPhone
}

// NewMessage builds the row for a rule that fired: PENDING and ready to send,
// or FAILED straight away when the student opted out or has no usable phone
// (nothing is sent to WhatsApp then).
func NewMessage(r Rule, ev Evaluation, trigger Trigger, phoneRegion string) MessageLog {
	m := MessageLog{
		Rule:           r.Name,
		Template:       r.Template.Name,
		Language:       r.Template.LanguageFor(ev.Student.Lang),
		Params:         RenderParams(r.Template.Params, ev),
		Status:         StatusPending,
		StudentID:      ev.Student.ID,
		MoodleUserID:   ev.Student.MoodleUserID,
		CourseID:       ev.Course.ID,
		MoodleCourseID: ev.Course.MoodleCourseID,
		EnrollmentID:   ev.Enrollment.ID,
		Trigger:        trigger,
		CreatedAt:      ev.Now,
	}
	if r.Dedup.Mode == DedupOnce {
		m.OnceKey = r.Name
	}
	if ev.Student.OptedOut {
		m.Fail(ErrCodeOptedOut, "the student opted out of WhatsApp messages", ev.Now)
		return m
	}
	to, err := NormalizePhone(ev.Student.Phone, phoneRegion)
	if err != nil {
		msg := "the student's phone number is not a valid number"
		if errors.Is(err, ErrPhoneMissing) {
			msg = "the student has no phone number"
		}
		m.Fail(ErrCodeInvalidPhone, msg, ev.Now)
		return m
	}
	m.To = to
	return m
}

// RenderParams draws the template's body parameters from the evaluation.
func RenderParams(params []Param, ev Evaluation) []string {
	out := make([]string, len(params))
	p := ev.Enrollment.Progress
	for i, name := range params {
		switch name {
		case ParamStudentFirstName:
			out[i] = ev.Student.FirstName
		case ParamStudentLastName:
			out[i] = ev.Student.LastName
		case ParamStudentFullName:
			out[i] = ev.Student.FullName()
		case ParamStudentUsername:
			out[i] = ev.Student.Username
		case ParamCourseFullName:
			out[i] = ev.Course.FullName
		case ParamCourseShortName:
			out[i] = ev.Course.ShortName
		case ParamCourseStartDate:
			out[i] = formatDate(ev.Course.StartDate, ev.Location)
		case ParamCourseEndDate:
			out[i] = formatDate(ev.Course.EndDate, ev.Location)
		case ParamProgressPercent:
			out[i] = strconv.Itoa(p.WholePercent())
		case ParamProgressCompleted:
			out[i] = strconv.Itoa(p.Completed)
		case ParamProgressTotal:
			out[i] = strconv.Itoa(p.Total)
		}
	}
	return out
}

func formatDate(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return ""
	}
	return DateOf(t, loc).String()
}
