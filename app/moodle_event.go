package app

import (
	"time"

	"github.com/acme/notifier/domain"
)

// Moodle event names (CONTRACT section 3).
const (
	EventEnrolmentCreated     = "user_enrolment_created"
	EventEnrolmentUpdated     = "user_enrolment_updated"
	EventEnrolmentDeleted     = "user_enrolment_deleted"
	EventScormStatusSubmitted = "scorm_status_submitted"
	EventModuleCompletion     = "course_module_completion_updated"
	EventCourseCompleted      = "course_completed"
	EventCourseUpdated        = "course_updated"
	EventUserUpdated          = "user_updated"
)

// KnownEvent reports whether the notifier acts on events of this name.
func KnownEvent(name string) bool {
	switch name {
	case EventEnrolmentCreated, EventEnrolmentUpdated, EventEnrolmentDeleted, EventScormStatusSubmitted,
		EventModuleCompletion, EventCourseCompleted, EventCourseUpdated, EventUserUpdated:
		return true
	}
	return false
}

// MoodleEvent is a validated Moodle webhook (schema 1).
type MoodleEvent struct {
	ID         string
	Name       string
	OccurredAt time.Time
	User       *MoodleUser
	Course     *MoodleCourse
	Enrolment  *MoodleEnrolment
	Progress   *domain.Progress
}

// MoodleUser is the event's user block.
type MoodleUser struct {
	ID        int64
	Username  string
	FirstName string
	LastName  string
	Email     string
	Phone     string
	Lang      string
	Timezone  string
	Roles     []string
}

// MoodleCourse is the event's course block.
type MoodleCourse struct {
	ID        int64
	ShortName string
	FullName  string
	StartDate time.Time
	EndDate   time.Time // zero: no end date
}

// MoodleEnrolment is the event's enrolment block.
type MoodleEnrolment struct {
	ID        int64
	Status    domain.EnrolmentStatus
	TimeStart time.Time
	TimeEnd   time.Time
}
