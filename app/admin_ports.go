package app

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/acme/notifier/domain"
)

// Errors of the Moodle port. The adapter wraps every error it returns with
// one of them (or with ErrUnavailable), so that the use cases and the HTTP
// edge decide without knowing the client.
var (
	// ErrMoodleNotConfigured: MOODLE_URL (and MOODLE_TOKEN) are empty, so
	// the features that act in Moodle are off.
	ErrMoodleNotConfigured = errors.New("moodle is not configured (MOODLE_URL and MOODLE_TOKEN are empty)")
	// ErrMoodleNotFound: the user or course named does not exist in Moodle.
	ErrMoodleNotFound = errors.New("not found in Moodle")
	// ErrMoodleRejected: Moodle refused the parameters (an email or
	// username already taken, a weak password, an invalid value).
	ErrMoodleRejected = errors.New("moodle refused the request")
	// ErrMoodleWeakPassword: Moodle's password policy refused the
	// password; it also matches ErrMoodleRejected.
	ErrMoodleWeakPassword = errors.New("moodle's password policy refused the password")
	// ErrMoodleOutcomeUnknown: a write was sent and no valid answer came
	// back; it may or may not have been applied. It also matches
	// ErrUnavailable when Moodle could not be reached.
	ErrMoodleOutcomeUnknown = errors.New("moodle may or may not have applied the change")
	// ErrMoodleFailed: Moodle answered with an error the notifier cannot
	// fix by itself (an invalid token, a missing capability or function,
	// an answer that is not Moodle's).
	ErrMoodleFailed = errors.New("moodle failed")
)

// ErrConflict: the request contradicts what exists (a username Moodle holds
// with another email).
var ErrConflict = errors.New("conflict")

// ErrIdempotencyKeyReused: an Idempotency-Key came back with another request.
var ErrIdempotencyKeyReused = errors.New("the Idempotency-Key was already used with a different request")

// InvalidError names the field of a command that is wrong, in the API's
// words (JSON names). It matches ErrInvalid.
type InvalidError struct {
	Field string
	Msg   string
}

// ErrInvalid is matched by every *InvalidError.
var ErrInvalid = errors.New("invalid request")

func (e *InvalidError) Error() string { return e.Field + ": " + e.Msg }

// Is makes errors.Is(err, ErrInvalid) hold.
func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }

func invalid(field, msg string) error { return &InvalidError{Field: field, Msg: msg} }

// NewMoodleUser is a user to create in Moodle.
type NewMoodleUser struct {
	Username  string
	FirstName string
	LastName  string
	Email     string
	Phone     string
	Lang      string // empty: the site's default
	Password  string // empty: Moodle generates one and mails it
}

// MoodleEnrolRequest is a manual enrolment to make in Moodle, with the
// student role.
type MoodleEnrolRequest struct {
	MoodleUserID   int64
	MoodleCourseID int64
	TimeStart      time.Time // zero: no start limit
	TimeEnd        time.Time // zero: no end limit
}

// MoodleEnrolmentState is what Moodle tells of a user's enrolment in a
// course.
type MoodleEnrolmentState struct {
	Active bool     // active, started and not over
	Roles  []string // role short names in the course
}

// MoodleCourseInfo is a course of the site as Moodle lists it.
type MoodleCourseInfo struct {
	MoodleCourse
	Visible bool
}

// Moodle is what the admin use cases need of Moodle's web services.
// adapters/moodle implements it on the REST client; a nil Moodle means that
// Moodle is not configured. Errors wrap ErrMoodleNotFound,
// ErrMoodleRejected, ErrMoodleOutcomeUnknown, ErrMoodleFailed or
// ErrUnavailable.
type Moodle interface {
	// CreateUser creates the user and returns its Moodle id. It is never
	// repeated by the adapter: an unknown outcome wraps
	// ErrMoodleOutcomeUnknown and the caller looks the username up.
	CreateUser(ctx context.Context, u NewMoodleUser) (int64, error)
	// UserByUsername finds a user by username (ErrMoodleNotFound when
	// none), with phone, language and time zone; Roles stay empty.
	UserByUsername(ctx context.Context, username string) (MoodleUser, error)
	// UserByID finds a user by Moodle id, as UserByUsername.
	UserByID(ctx context.Context, moodleUserID int64) (MoodleUser, error)
	// Enrol makes a manual enrolment with the student role. Enrolling a
	// user the manual method already enrolled updates that enrolment and
	// never adds a second one.
	Enrol(ctx context.Context, e MoodleEnrolRequest) error
	// Enrolment tells whether the user is enrolled in the course by any
	// method (ErrMoodleNotFound when not), whether that lets them in now,
	// and their roles there.
	Enrolment(ctx context.Context, moodleUserID, moodleCourseID int64) (MoodleEnrolmentState, error)
	// Courses returns the courses with these ids (unknown ids are left
	// out), or every course of the site but its front page when ids is
	// empty.
	Courses(ctx context.Context, moodleCourseIDs []int64) ([]MoodleCourseInfo, error)
	// EnrolledUsers returns a page of the users enrolled in the course
	// (suspended and not yet started included), in Moodle user id order,
	// from the offset from, with their roles in the course, phone,
	// language and time zone.
	EnrolledUsers(ctx context.Context, moodleCourseID int64, from, limit int) ([]MoodleUser, error)
	// ActiveUserIDs are the users whose enrolment in the course lets them
	// in now (active, started and not over).
	ActiveUserIDs(ctx context.Context, moodleCourseID int64) (map[int64]bool, error)
	// CourseProgress is the SCORM progress of the course's enrolled users
	// keyed by Moodle user id.
	ProgressSource
}

// PageQuery is a keyset page of a list newest first: rows with an id below
// BeforeID (0: from the newest), at most Limit of them.
type PageQuery struct {
	BeforeID int64
	Limit    int
}

// EnrollmentFilter selects enrollments; zero fields do not filter.
type EnrollmentFilter struct {
	CourseID  int64
	StudentID int64
	PageQuery
}

// EnrollmentRecord is an enrollment with the Moodle ids of its student and
// course, as the admin API lists it.
type EnrollmentRecord struct {
	domain.Enrollment
	MoodleUserID   int64 // 0: the student is not linked to Moodle
	MoodleCourseID int64
}

// MessageCount is how many MessageLog rows of one status and rule were
// created in one quarter of an hour (UTC), Bucket being its start. Every
// time zone's offset is a multiple of 15 minutes, so the application can
// fold quarters into the local days of any zone.
type MessageCount struct {
	Status domain.Status
	Rule   string
	Bucket time.Time
	Count  int
}

// StatsBucket is the width of the store's MessageCount buckets.
const StatsBucket = 15 * time.Minute

// IdempotencyRecord is the answer given to the first request that carried
// an Idempotency-Key: a repeat of the same request gets it again.
type IdempotencyRecord struct {
	Key         string
	RequestHash string // hex SHA-256 of the route and the request's body
	Status      int    // the HTTP status of the answer
	Body        json.RawMessage
	CreatedAt   time.Time
}

// SyncStatus is where a sync stands.
type SyncStatus string

const (
	SyncRunning SyncStatus = "running"
	SyncDone    SyncStatus = "done"
	SyncFailed  SyncStatus = "failed"
)

// SyncCounts are a sync's numbers. The unit is an enrolled user of a
// course: added when the enrollment is new here, updated when the student
// or the enrollment changed, skipped when nothing changed (or the user
// holds none of the roles the rules message), failed when it could not be
// saved.
type SyncCounts struct {
	Courses int `json:"courses"`
	Added   int `json:"added"`
	Updated int `json:"updated"`
	Skipped int `json:"skipped"`
	Failed  int `json:"failed"`
}

// Sync is one import of students and enrolments from Moodle.
type Sync struct {
	ID int64
	// MoodleCourseIDs are the courses asked for; empty: every visible
	// course that has not ended.
	MoodleCourseIDs []int64
	Status          SyncStatus
	Counts          SyncCounts
	Error           string // why it failed (the first errors), empty otherwise
	StartedAt       time.Time
	// HeartbeatAt moves while the sync runs: a running sync whose heartbeat
	// stopped was abandoned by a process that died.
	HeartbeatAt time.Time
	FinishedAt  time.Time
}

// AdminStore is what the admin API needs of the store beyond Store. Both
// adapters implement it and pass adapters/storetest.RunAdmin.
type AdminStore interface {
	// ListStudents lists students newest (highest id) first.
	ListStudents(ctx context.Context, q PageQuery) ([]domain.Student, error)
	// ListCourses lists courses newest first.
	ListCourses(ctx context.Context, q PageQuery) ([]domain.Course, error)
	// FindCourseByMoodleID returns the course of a Moodle course, or
	// ErrNotFound.
	FindCourseByMoodleID(ctx context.Context, moodleCourseID int64) (domain.Course, error)
	// ListEnrollments lists enrollments newest first with the Moodle ids of
	// their student and course.
	ListEnrollments(ctx context.Context, f EnrollmentFilter) ([]EnrollmentRecord, error)
	// GetEnrollmentRecord is one enrollment as ListEnrollments shows it.
	GetEnrollmentRecord(ctx context.Context, id int64) (EnrollmentRecord, error)
	// CountMessages counts the MessageLog rows created in [since, until)
	// by status, rule and StatsBucket.
	CountMessages(ctx context.Context, since, until time.Time) ([]MessageCount, error)

	// GetIdempotencyKey returns the record of key, or ErrNotFound.
	GetIdempotencyKey(ctx context.Context, key string) (IdempotencyRecord, error)
	// SaveIdempotencyKey stores rec unless its key is stored already, and
	// returns the stored record: rec, or the one saved first.
	SaveIdempotencyKey(ctx context.Context, rec IdempotencyRecord) (IdempotencyRecord, error)
	// PurgeIdempotencyKeys deletes the records created before createdBefore
	// (compared as stored, to the microsecond; a record created at that
	// instant is kept) and returns how many. It deletes in batches, each in
	// a short transaction of its own, so that a large backlog never holds
	// locks for long; on an error the count is of what was deleted before.
	PurgeIdempotencyKeys(ctx context.Context, createdBefore time.Time) (int, error)

	// CreateSync inserts a running sync started at now.
	CreateSync(ctx context.Context, moodleCourseIDs []int64, now time.Time) (Sync, error)
	// GetSync returns one sync, or ErrNotFound.
	GetSync(ctx context.Context, id int64) (Sync, error)
	// SaveSyncProgress stores the counts of a running sync and moves its
	// heartbeat; it reports false when the sync is not running.
	SaveSyncProgress(ctx context.Context, id int64, c SyncCounts, now time.Time) (bool, error)
	// FinishSync moves a running sync to done or failed with its final
	// counts; it reports false when the sync was not running.
	FinishSync(ctx context.Context, id int64, status SyncStatus, c SyncCounts, errMsg string, now time.Time) (bool, error)
	// FailAbandonedSyncs marks failed the running syncs whose heartbeat is
	// older than before, and returns how many.
	FailAbandonedSyncs(ctx context.Context, before, now time.Time) (int, error)
}
