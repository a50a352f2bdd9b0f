package domain

import (
	"slices"
	"time"
)

// Student is a Moodle user the notifier may message.
type Student struct {
	ID           int64
	MoodleUserID int64 // 0 when the student exists only here
	Username     string
	FirstName    string
	LastName     string
	Email        string
	Phone        string // as Moodle or staff wrote it; normalised when a message is built
	Lang         string // Moodle language code, e.g. "es" or "pt_br"
	Timezone     string
	OptedOut     bool
	// ContactChangedAt moves whenever the phone or the opt-out changes, so a
	// rule that could not reach the student may try again after a fix.
	ContactChangedAt time.Time
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// FullName is the first and last name joined by a space.
func (s Student) FullName() string {
	switch {
	case s.FirstName == "":
		return s.LastName
	case s.LastName == "":
		return s.FirstName
	}
	return s.FirstName + " " + s.LastName
}

// Course is a Moodle course.
type Course struct {
	ID             int64
	MoodleCourseID int64
	ShortName      string
	FullName       string
	StartDate      time.Time // zero: unknown
	EndDate        time.Time // zero: the course has no end date
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// HasEnded reports whether the course's end date is before the local day ref.
func (c Course) HasEnded(ref Date, loc *time.Location) bool {
	return !c.EndDate.IsZero() && DateOf(c.EndDate, loc).Before(ref)
}

// EnrolmentStatus mirrors Moodle's user_enrolments.status.
type EnrolmentStatus int

const (
	EnrolmentActive    EnrolmentStatus = 0
	EnrolmentSuspended EnrolmentStatus = 1
)

// Enrollment links a student to a course. There is at most one per student
// and course, whatever enrolment methods Moodle holds for them.
type Enrollment struct {
	ID                int64
	StudentID         int64
	CourseID          int64
	MoodleEnrolmentID int64
	Status            EnrolmentStatus
	TimeStart         time.Time // zero: no start limit
	TimeEnd           time.Time // zero: no end limit
	Roles             []string  // role short names in the course context
	Progress          Progress
	// Imported marks an enrollment that began before the notifier knew of it
	// (brought in by a sync): rules restricted to new enrolments skip it.
	Imported  bool
	Deleted   bool
	CreatedAt time.Time
	UpdatedAt time.Time
}

// ActiveAt reports whether the enrolment lets the student in at instant t:
// not deleted, not suspended, started and not yet over.
func (e Enrollment) ActiveAt(t time.Time) bool {
	if e.Deleted || e.Status != EnrolmentActive {
		return false
	}
	if !e.TimeStart.IsZero() && t.Before(e.TimeStart) {
		return false
	}
	return e.TimeEnd.IsZero() || t.Before(e.TimeEnd)
}

// HasAnyRole reports whether the enrollment carries one of roles.
func (e Enrollment) HasAnyRole(roles []string) bool {
	for _, r := range e.Roles {
		if slices.Contains(roles, r) {
			return true
		}
	}
	return false
}
