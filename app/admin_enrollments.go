package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/acme/notifier/domain"
)

// studentRole is the role short name of the role a manual enrolment gives
// (Moodle's student role).
const studentRole = "student"

// EnrollStudent enrols a student in a course in Moodle and here (POST
// /enrollments). Exactly one of StudentID and MoodleUserID names the
// student.
type EnrollStudent struct {
	StudentID      int64
	MoodleUserID   int64
	MoodleCourseID int64
	TimeStart      time.Time // zero: no start limit
	TimeEnd        time.Time // zero: no end limit
	// Ref traces the welcome it may send back to the request: the
	// Idempotency-Key or the request id. The trigger is "admin:<Ref>".
	Ref string
}

// EnrollmentResult is the enrollment a command left, and whether it
// enrolled the user in Moodle (false: the enrolment existed already).
type EnrollmentResult struct {
	Enrollment EnrollmentRecord
	Created    bool
}

// EnrollStudentHandler acts in Moodle first, then here, then evaluates the
// rules on the enrolment (the welcome) once the local write committed.
// Every step can be repeated after any failure:
//   - an enrollment that exists here (not deleted) is answered as it is,
//     without touching Moodle, and evaluated again (the rules' deduplication
//     makes that harmless, and it completes an evaluation that a crash cut
//     short);
//   - otherwise Moodle is asked whether the user is enrolled already (a
//     repeat after a failed local write, or an enrolment made in Moodle):
//     then nothing is done there, so an existing enrolment is never
//     enrolled twice, nor its dates or suspension changed;
//   - the local writes are upserts on the Moodle ids.
type EnrollStudentHandler struct {
	adminBase
	eval *EvaluateHandler
}

// Handle runs the command.
func (h *EnrollStudentHandler) Handle(ctx context.Context, cmd EnrollStudent) (EnrollmentResult, error) {
	if err := h.needMoodle(); err != nil {
		return EnrollmentResult{}, err
	}
	if err := cmd.validate(); err != nil {
		return EnrollmentResult{}, err
	}
	st, err := h.student(ctx, cmd)
	if err != nil {
		return EnrollmentResult{}, err
	}
	if st.ID != 0 {
		e, err := h.store.FindEnrollment(ctx, st.MoodleUserID, cmd.MoodleCourseID)
		switch {
		case err == nil && !e.Deleted:
			return h.finish(ctx, cmd, e.ID, false)
		case err != nil && !errors.Is(err, ErrNotFound):
			return EnrollmentResult{}, fmt.Errorf("find enrollment: %w", err)
		}
	}
	course, err := h.course(ctx, cmd.MoodleCourseID)
	if err != nil {
		return EnrollmentResult{}, err
	}

	// Moodle first.
	enrolment := domain.Enrollment{Status: domain.EnrolmentActive, TimeStart: cmd.TimeStart, TimeEnd: cmd.TimeEnd,
		Roles: []string{studentRole}}
	created := false
	state, err := h.moodle.Enrolment(ctx, st.MoodleUserID, cmd.MoodleCourseID)
	switch {
	case err == nil:
		// Enrolled already: take what Moodle says, change nothing there.
		// Moodle does not tell the dates; those asked for explain an
		// enrolment that is not active yet (a repeat of this very request),
		// anything else is a suspension.
		enrolment.Roles = slices.Clone(state.Roles)
		if !state.Active && enrolment.ActiveAt(h.now()) {
			enrolment.Status = domain.EnrolmentSuspended
		}
	case errors.Is(err, ErrMoodleNotFound):
		err := h.moodle.Enrol(ctx, MoodleEnrolRequest{MoodleUserID: st.MoodleUserID, MoodleCourseID: cmd.MoodleCourseID,
			TimeStart: cmd.TimeStart, TimeEnd: cmd.TimeEnd})
		if errors.Is(err, ErrMoodleNotFound) {
			return EnrollmentResult{}, invalid(cmd.userField(), "no such user in Moodle")
		}
		if errors.Is(err, ErrMoodleOutcomeUnknown) {
			// The answer was lost: Moodle tells whether the enrolment was made.
			if _, lerr := h.moodle.Enrolment(ctx, st.MoodleUserID, cmd.MoodleCourseID); lerr == nil {
				h.log.InfoContext(ctx, "Moodle enrolment found after an unknown outcome",
					"moodle_user_id", st.MoodleUserID, "moodle_course_id", cmd.MoodleCourseID, "err", err)
				err = nil
			}
		}
		if err != nil {
			return EnrollmentResult{}, fmt.Errorf("enrol Moodle user %d in Moodle course %d: %w",
				st.MoodleUserID, cmd.MoodleCourseID, err)
		}
		created = true
	default:
		return EnrollmentResult{}, fmt.Errorf("read the enrolment of Moodle user %d in Moodle course %d: %w",
			st.MoodleUserID, cmd.MoodleCourseID, err)
	}

	// Then here.
	if st.ID == 0 {
		if st, err = h.store.UpsertStudent(ctx, st); err != nil {
			return EnrollmentResult{}, fmt.Errorf("save student of Moodle user %d: %w", st.MoodleUserID, err)
		}
	}
	c, err := h.store.UpsertCourse(ctx, course.course())
	if err != nil {
		return EnrollmentResult{}, fmt.Errorf("save Moodle course %d: %w", cmd.MoodleCourseID, err)
	}
	enrolment.StudentID, enrolment.CourseID = st.ID, c.ID
	// The progress is worth showing at once; without it, the next scan or
	// event brings it.
	if p, err := h.moodle.CourseProgress(ctx, cmd.MoodleCourseID, []int64{st.MoodleUserID}); err == nil {
		if v, ok := p[st.MoodleUserID]; ok {
			enrolment.Progress = v
		}
	} else {
		h.log.WarnContext(ctx, "read the progress of a new enrolment", "moodle_user_id", st.MoodleUserID,
			"moodle_course_id", cmd.MoodleCourseID, "err", err)
	}
	e, err := h.store.UpsertEnrollment(ctx, enrolment)
	if err != nil {
		return EnrollmentResult{}, fmt.Errorf("save enrollment of student %d in course %d: %w", st.ID, c.ID, err)
	}
	h.log.InfoContext(ctx, "enrollment saved", "enrollment_id", e.ID, "student_id", st.ID, "course_id", c.ID,
		"enrolled_in_moodle", created)
	return h.finish(ctx, cmd, e.ID, created)
}

// finish evaluates the enrollment after its commit and reads it back.
func (h *EnrollStudentHandler) finish(ctx context.Context, cmd EnrollStudent, id int64, created bool) (EnrollmentResult, error) {
	trigger := domain.Trigger{Kind: domain.TriggerManual, Ref: "admin:" + cmd.Ref}
	if _, err := h.eval.Handle(ctx, EvaluateEnrollment{EnrollmentID: id, Occasion: domain.OnEnrolment, Trigger: trigger}); err != nil {
		// The enrolment stands; the daily scan evaluates the welcome too.
		h.log.WarnContext(ctx, "evaluate an admin enrolment", "enrollment_id", id, "err", err)
	}
	rec, err := h.admin.GetEnrollmentRecord(ctx, id)
	if err != nil {
		return EnrollmentResult{}, fmt.Errorf("read enrollment %d: %w", id, err)
	}
	return EnrollmentResult{Enrollment: rec, Created: created}, nil
}

// student is the student the command names: stored here, or (not saved
// yet, ID 0) read from Moodle.
func (h *EnrollStudentHandler) student(ctx context.Context, cmd EnrollStudent) (domain.Student, error) {
	if cmd.StudentID != 0 {
		st, err := h.store.GetStudent(ctx, cmd.StudentID)
		switch {
		case errors.Is(err, ErrNotFound):
			return domain.Student{}, invalid("student_id", "no such student")
		case err != nil:
			return domain.Student{}, fmt.Errorf("read student %d: %w", cmd.StudentID, err)
		case st.MoodleUserID == 0:
			return domain.Student{}, invalid("student_id", "the student is not linked to a Moodle user")
		}
		return st, nil
	}
	st, err := h.store.FindStudentByMoodleID(ctx, cmd.MoodleUserID)
	if err == nil {
		return st, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return domain.Student{}, fmt.Errorf("find student of Moodle user %d: %w", cmd.MoodleUserID, err)
	}
	user, err := h.moodle.UserByID(ctx, cmd.MoodleUserID)
	switch {
	case errors.Is(err, ErrMoodleNotFound):
		return domain.Student{}, invalid("moodle_user_id", "no such user in Moodle")
	case err != nil:
		return domain.Student{}, fmt.Errorf("read Moodle user %d: %w", cmd.MoodleUserID, err)
	}
	return user.student(), nil
}

func (h *EnrollStudentHandler) course(ctx context.Context, moodleCourseID int64) (MoodleCourseInfo, error) {
	courses, err := h.moodle.Courses(ctx, []int64{moodleCourseID})
	if err != nil {
		return MoodleCourseInfo{}, fmt.Errorf("read Moodle course %d: %w", moodleCourseID, err)
	}
	for _, c := range courses {
		if c.ID == moodleCourseID {
			return c, nil
		}
	}
	return MoodleCourseInfo{}, invalid("moodle_course_id", "no such course in Moodle")
}

func (cmd EnrollStudent) validate() error {
	switch {
	case cmd.StudentID == 0 && cmd.MoodleUserID == 0:
		return invalid("student_id", "give student_id or moodle_user_id")
	case cmd.StudentID != 0 && cmd.MoodleUserID != 0:
		return invalid("moodle_user_id", "give student_id or moodle_user_id, not both")
	case cmd.StudentID < 0:
		return invalid("student_id", "must be a positive integer")
	case cmd.MoodleUserID < 0:
		return invalid("moodle_user_id", "must be a positive integer")
	case cmd.MoodleCourseID <= 0:
		return invalid("moodle_course_id", "must be a positive integer")
	case !cmd.TimeStart.IsZero() && !cmd.TimeEnd.IsZero() && !cmd.TimeEnd.After(cmd.TimeStart):
		return invalid("timeend", "must be after timestart")
	}
	return nil
}

func (cmd EnrollStudent) userField() string {
	if cmd.StudentID != 0 {
		return "student_id"
	}
	return "moodle_user_id"
}
