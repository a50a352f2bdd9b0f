package app

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/acme/notifier/domain"
)

// CreateStudent creates a student in Moodle and here (POST /students).
type CreateStudent struct {
	Username  string
	FirstName string
	LastName  string
	Email     string
	Phone     string
	Lang      string // optional
	Password  string // optional: without it Moodle generates one and mails it
}

// StudentResult is the student a command left, and whether it created the
// Moodle user (false: an existing user with the same email was linked).
type StudentResult struct {
	Student domain.Student
	Created bool
}

// CreateStudentHandler acts in Moodle first, then here. Every step can be
// repeated after any failure:
//   - the username is looked up in Moodle first: a user with the same email
//     is linked, not created again; one with another email is ErrConflict;
//   - when the creation's outcome is unknown (or Moodle refuses it because a
//     concurrent request created the username first), the username is
//     looked up again before giving up;
//   - the local write is an upsert on the Moodle user id, so a repeat after
//     a failed local write links the user Moodle already holds.
type CreateStudentHandler struct {
	adminBase
}

// Handle runs the command.
func (h *CreateStudentHandler) Handle(ctx context.Context, cmd CreateStudent) (StudentResult, error) {
	if err := h.needMoodle(); err != nil {
		return StudentResult{}, err
	}
	cmd, err := h.normalize(cmd)
	if err != nil {
		return StudentResult{}, err
	}
	user, err := h.moodle.UserByUsername(ctx, cmd.Username)
	created := false
	switch {
	case err == nil:
		if err := sameEmail(user, cmd); err != nil {
			return StudentResult{}, err
		}
	case errors.Is(err, ErrMoodleNotFound):
		user, created, err = h.create(ctx, cmd)
		if err != nil {
			return StudentResult{}, err
		}
	default:
		return StudentResult{}, fmt.Errorf("look up Moodle user %q: %w", cmd.Username, err)
	}

	st := user.student()
	if created {
		st.FirstName, st.LastName, st.Email, st.Lang = cmd.FirstName, cmd.LastName, cmd.Email, cmd.Lang
	}
	// What Moodle did not show (hidden fields) comes from the request.
	fill(&st.FirstName, cmd.FirstName)
	fill(&st.LastName, cmd.LastName)
	fill(&st.Email, cmd.Email)
	// The phone is the one staff gave: Moodle may hide phones from the
	// service account. The language too, when given.
	st.Phone = cmd.Phone
	if cmd.Lang != "" {
		st.Lang = cmd.Lang
	}
	saved, err := h.store.UpsertStudent(ctx, st)
	if err != nil {
		return StudentResult{}, fmt.Errorf("save student of Moodle user %d: %w", user.ID, err)
	}
	h.log.InfoContext(ctx, "student saved", "student_id", saved.ID, "moodle_user_id", saved.MoodleUserID,
		"created_in_moodle", created)
	return StudentResult{Student: saved, Created: created}, nil
}

// create creates the Moodle user. When that fails in a way that may hide
// a user that exists after all, it looks the username up once more.
func (h *CreateStudentHandler) create(ctx context.Context, cmd CreateStudent) (MoodleUser, bool, error) {
	id, err := h.moodle.CreateUser(ctx, NewMoodleUser{
		Username: cmd.Username, FirstName: cmd.FirstName, LastName: cmd.LastName, Email: cmd.Email,
		Phone: cmd.Phone, Lang: cmd.Lang, Password: cmd.Password,
	})
	if err == nil {
		return MoodleUser{ID: id, Username: cmd.Username, FirstName: cmd.FirstName, LastName: cmd.LastName,
			Email: cmd.Email, Phone: cmd.Phone, Lang: cmd.Lang}, true, nil
	}
	if errors.Is(err, ErrMoodleWeakPassword) {
		return MoodleUser{}, false, invalid("password", "Moodle's password policy refuses it: "+err.Error())
	}
	if !errors.Is(err, ErrMoodleOutcomeUnknown) && !errors.Is(err, ErrMoodleRejected) {
		return MoodleUser{}, false, fmt.Errorf("create Moodle user %q: %w", cmd.Username, err)
	}
	user, lerr := h.moodle.UserByUsername(ctx, cmd.Username)
	if lerr != nil {
		// Not there (the refusal was about something else), or Moodle
		// cannot say now: the creation's own error tells the caller most.
		return MoodleUser{}, false, fmt.Errorf("create Moodle user %q: %w", cmd.Username, err)
	}
	if err := sameEmail(user, cmd); err != nil {
		return MoodleUser{}, false, err
	}
	h.log.InfoContext(ctx, "Moodle user found after a failed creation", "moodle_user_id", user.ID, "err", err)
	return user, false, nil
}

func (h *CreateStudentHandler) normalize(cmd CreateStudent) (CreateStudent, error) {
	cmd.Username = strings.ToLower(strings.TrimSpace(cmd.Username))
	cmd.FirstName, cmd.LastName = strings.TrimSpace(cmd.FirstName), strings.TrimSpace(cmd.LastName)
	cmd.Email, cmd.Lang = strings.TrimSpace(cmd.Email), strings.TrimSpace(cmd.Lang)
	for _, f := range []struct{ name, v string }{
		{"username", cmd.Username}, {"firstname", cmd.FirstName}, {"lastname", cmd.LastName}, {"email", cmd.Email},
	} {
		if f.v == "" {
			return cmd, invalid(f.name, "is required")
		}
	}
	phone, err := normalizePhone(cmd.Phone, h.settings.PhoneRegion)
	if err != nil {
		return cmd, err
	}
	cmd.Phone = phone
	return cmd, nil
}

// normalizePhone checks a phone staff wrote and returns it in E.164.
func normalizePhone(raw, region string) (string, error) {
	p, err := domain.NormalizePhone(raw, region)
	switch {
	case errors.Is(err, domain.ErrPhoneMissing):
		return "", invalid("phone", "is required")
	case err != nil:
		return "", invalid("phone", "is not a valid phone number (write it with its country code, e.g. +34 600 111 222)")
	}
	return p, nil
}

func fill(dst *string, v string) {
	if *dst == "" {
		*dst = v
	}
}

func sameEmail(u MoodleUser, cmd CreateStudent) error {
	if u.Email != "" && !strings.EqualFold(strings.TrimSpace(u.Email), cmd.Email) {
		return fmt.Errorf("%w: the username %q exists in Moodle with another email", ErrConflict, cmd.Username)
	}
	return nil
}

// UpdateStudent changes a student's phone or opt-out (PATCH /students/{id});
// nil fields stay as they are.
type UpdateStudent struct {
	ID       int64
	Phone    *string
	OptedOut *bool
}

// UpdateStudentHandler changes the student here only: Moodle keeps its own
// profile.
type UpdateStudentHandler struct {
	adminBase
}

// Handle runs the command; ErrNotFound when the student does not exist.
func (h *UpdateStudentHandler) Handle(ctx context.Context, cmd UpdateStudent) (domain.Student, error) {
	if cmd.Phone == nil && cmd.OptedOut == nil {
		return domain.Student{}, invalid("", "give phone or opted_out")
	}
	var phone string
	if cmd.Phone != nil {
		p, err := normalizePhone(*cmd.Phone, h.settings.PhoneRegion)
		if err != nil {
			return domain.Student{}, err
		}
		phone = p
	}
	st, err := h.store.UpdateStudent(ctx, cmd.ID, func(s *domain.Student) error {
		if cmd.Phone != nil {
			s.Phone = phone
		}
		if cmd.OptedOut != nil {
			s.OptedOut = *cmd.OptedOut
		}
		return nil
	})
	if err != nil {
		return domain.Student{}, fmt.Errorf("update student %d: %w", cmd.ID, err)
	}
	return st, nil
}
