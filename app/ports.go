package app

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/acme/notifier/domain"
)

// ErrNotFound is returned by stores when a row does not exist.
var ErrNotFound = errors.New("not found")

// ErrUnavailable wraps store and bus errors that are worth retrying later
// (connection refused, database locked, timeouts).
var ErrUnavailable = errors.New("temporarily unavailable")

// EnrollmentState is what the rules see of an enrollment, loaded by the store
// under the enrollment's lock.
type EnrollmentState struct {
	Student    domain.Student
	Course     domain.Course
	Enrollment domain.Enrollment
	History    []domain.PriorMessage // earlier rows for this student and course
}

// MessageFilter selects MessageLog rows; zero fields do not filter.
type MessageFilter struct {
	Status         domain.Status
	Rule           string
	StudentID      int64
	CourseID       int64
	MoodleUserID   int64
	MoodleCourseID int64
	Since          time.Time // created at or after
	Until          time.Time // created before
	// BeforeID is the keyset cursor: only rows with a smaller id. Rows are
	// listed newest (highest id) first, so rows inserted while a client pages
	// never shift later pages.
	BeforeID int64
	Limit    int
}

// Store is the persistence port. PostgreSQL and SQLite implement it and pass
// the same contract suite (adapters/storetest).
type Store interface {
	// UpsertStudent inserts or updates the student with s.MoodleUserID
	// (always inserts when it is 0) and returns the stored row. The opt-out
	// is left as stored; ContactChangedAt moves when the phone changes.
	UpsertStudent(ctx context.Context, s domain.Student) (domain.Student, error)
	GetStudent(ctx context.Context, id int64) (domain.Student, error)
	// FindStudentByMoodleID returns the student linked to a Moodle user.
	FindStudentByMoodleID(ctx context.Context, moodleUserID int64) (domain.Student, error)
	// UpdateStudent runs fn on the locked row and saves its changes; phone or
	// opt-out changes move ContactChangedAt.
	UpdateStudent(ctx context.Context, id int64, fn func(*domain.Student) error) (domain.Student, error)

	// UpsertCourse inserts or updates the course with c.MoodleCourseID.
	UpsertCourse(ctx context.Context, c domain.Course) (domain.Course, error)
	GetCourse(ctx context.Context, id int64) (domain.Course, error)

	// UpsertEnrollment inserts or updates the enrollment of e.StudentID in
	// e.CourseID. On update, Imported keeps its stored value, Deleted is
	// cleared, and Progress is kept unless e.Progress is known.
	UpsertEnrollment(ctx context.Context, e domain.Enrollment) (domain.Enrollment, error)
	// UpsertEnrolled upserts s as UpsertStudent does, c as UpsertCourse
	// does, then e as UpsertEnrollment does with e.StudentID and e.CourseID
	// set to the ids of those two rows (the values e carries are ignored),
	// all in one transaction: the same outcome as the three calls in
	// sequence, at the cost of one commit. Both Moodle ids, s.MoodleUserID
	// and c.MoodleCourseID, are required. It returns the stored enrollment.
	UpsertEnrolled(ctx context.Context, s domain.Student, c domain.Course, e domain.Enrollment) (domain.Enrollment, error)
	GetEnrollment(ctx context.Context, id int64) (domain.Enrollment, error)
	// FindEnrollment returns the enrollment of a Moodle user in a Moodle
	// course.
	FindEnrollment(ctx context.Context, moodleUserID, moodleCourseID int64) (domain.Enrollment, error)
	// UpdateEnrollment runs fn on the locked row and saves its changes.
	UpdateEnrollment(ctx context.Context, id int64, fn func(*domain.Enrollment) error) (domain.Enrollment, error)

	// EvaluateLocked locks the enrollment, loads its state and passes it to
	// decide, then inserts the rows decide returns and commits, all in one
	// transaction. A row that a concurrent transaction already inserted for
	// the same once-rule (the partial unique index) is dropped, not an
	// error. It returns the rows inserted, with their ids.
	//
	// progress, when not nil, is the enrollment's progress as Moodle reports
	// it now. When it differs from the stored one (domain.Progress.Equal),
	// it is stored in the same transaction (UpdatedAt moves), and decide
	// sees the enrollment as stored: with that progress and UpdatedAt.
	// When it is equal, nothing about the enrollment is written. When decide
	// or an insert fails, the progress is not stored either.
	EvaluateLocked(ctx context.Context, enrollmentID int64, progress *domain.Progress,
		decide func(EnrollmentState) ([]domain.MessageLog, error)) ([]domain.MessageLog, error)
	// ReadEnrollmentStates reads, for each of the enrollments, what
	// EvaluateLocked would pass to decide, each from one consistent
	// snapshot, without locking or writing anything: cheap, but possibly
	// stale by the time it is used. Only EvaluateLocked may decide what to
	// write. An id without an enrollment is absent from the map.
	ReadEnrollmentStates(ctx context.Context, enrollmentIDs ...int64) (map[int64]EnrollmentState, error)

	GetMessage(ctx context.Context, id int64) (domain.MessageLog, error)
	// UpdateMessage runs fn on the locked row and saves its changes; when fn
	// returns an error nothing is saved and the error is returned.
	UpdateMessage(ctx context.Context, id int64, fn func(*domain.MessageLog) error) (domain.MessageLog, error)
	// ListMessages lists rows newest first.
	ListMessages(ctx context.Context, f MessageFilter) ([]domain.MessageLog, error)
	// DueMessages lists ids of PENDING rows that no sender holds and whose
	// next attempt is due at now, oldest first.
	DueMessages(ctx context.Context, now time.Time, limit int) ([]int64, error)
	// StaleClaims lists ids of PENDING rows a sender claimed before the
	// given instant and never settled: their outcome is unknown.
	StaleClaims(ctx context.Context, claimedBefore time.Time, limit int) ([]int64, error)

	Ping(ctx context.Context) error
	Close() error
}

// SendOutcome is what a send attempt proves.
type SendOutcome int

const (
	// OutcomeSent: WhatsApp accepted the message (or the dry run recorded it).
	OutcomeSent SendOutcome = iota + 1
	// OutcomeRetryLater: WhatsApp proved nothing was sent (throughput
	// limits); the same row may be sent again after RetryAfter.
	OutcomeRetryLater
	// OutcomeFailed: a permanent refusal; never sent again.
	OutcomeFailed
	// OutcomeUnknown: the request may or may not have reached WhatsApp
	// (timeout, connection lost, 5xx); never sent again automatically.
	OutcomeUnknown
)

// SendResult is the sender's account of one attempt.
type SendResult struct {
	Outcome           SendOutcome
	DryRun            bool
	ProviderMessageID string
	Request           json.RawMessage
	Response          json.RawMessage
	ErrorCode         string
	ErrorMessage      string
	RetryAfter        time.Duration
}

// Sender delivers one PENDING row to WhatsApp (or records a dry run).
type Sender interface {
	Send(ctx context.Context, m domain.MessageLog) SendResult
}
