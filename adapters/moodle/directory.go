package moodle

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/acme/notifier/app"
	"github.com/acme/notifier/domain"
)

// Directory is the admin use cases' view of Moodle (app.Moodle) on top of
// the client: users, manual enrolments, courses, enrolled users and
// progress, with every error wrapped in the app's Moodle errors.
type Directory struct {
	c *Client
	// phoneField is the user field that holds the phone: phone1 (the
	// plugin's default phonefield), phone2 or profile_field_<shortname>.
	phoneField string
	// pageSize is the page size of the enrolled-user listings that look
	// for one user or for the active ones.
	pageSize int
}

var _ app.Moodle = (*Directory)(nil)

// DirectoryOption configures a Directory.
type DirectoryOption func(*Directory)

// WithPhoneField reads phones from phone1 (the default), phone2 or
// profile_field_<shortname>, as the plugin's phonefield setting says.
func WithPhoneField(field string) DirectoryOption {
	return func(d *Directory) {
		if field != "" {
			d.phoneField = field
		}
	}
}

// NewDirectory builds the app.Moodle of a client.
func NewDirectory(c *Client, opts ...DirectoryOption) *Directory {
	d := &Directory{c: c, phoneField: "phone1", pageSize: c.cfg.EnrolPageSize}
	for _, o := range opts {
		o(d)
	}
	return d
}

// enrolledFields are the user fields the enrolled-user listing asks for.
var enrolledFields = []string{"id", "username", "firstname", "lastname", "email", "phone1", "phone2",
	"customfields", "roles"}

// appError wraps err in the app's Moodle error that says what callers may
// do about it. Transport failures and 5xx keep matching app.ErrUnavailable.
func appError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, app.ErrUnavailable):
		return err
	case errors.Is(err, ErrOutcomeUnknown):
		return fmt.Errorf("%w: %w", app.ErrMoodleOutcomeUnknown, err)
	case errors.Is(err, app.ErrUnavailable):
		return err
	case errors.Is(err, ErrNotFound):
		return fmt.Errorf("%w: %w", app.ErrMoodleNotFound, err)
	case errors.Is(err, ErrPasswordPolicy):
		return fmt.Errorf("%w: %w: %w", app.ErrMoodleRejected, app.ErrMoodleWeakPassword, err)
	case errors.Is(err, ErrInvalidParameter):
		return fmt.Errorf("%w: %w", app.ErrMoodleRejected, err)
	}
	return fmt.Errorf("%w: %w", app.ErrMoodleFailed, err)
}

// CreateUser implements app.Moodle with core_user_create_users.
func (d *Directory) CreateUser(ctx context.Context, u app.NewMoodleUser) (int64, error) {
	nu := NewUser{Username: u.Username, Password: u.Password, FirstName: u.FirstName, LastName: u.LastName,
		Email: u.Email, Lang: u.Lang}
	d.setPhone(&nu, u.Phone)
	created, err := d.c.CreateUsers(ctx, nu)
	if err != nil {
		return 0, appError(err)
	}
	return created[0].ID, nil
}

// setPhone puts the phone in the field phones are read from.
func (d *Directory) setPhone(u *NewUser, phone string) {
	switch f := d.phoneField; {
	case f == "phone2":
		u.Phone2 = phone
	case strings.HasPrefix(f, "profile_field_"):
		u.CustomFields = map[string]string{strings.TrimPrefix(f, "profile_field_"): phone}
	default:
		u.Phone1 = phone
	}
}

func (d *Directory) appUser(u User) app.MoodleUser {
	return app.MoodleUser{ID: u.ID, Username: u.Username, FirstName: u.FirstName, LastName: u.LastName,
		Email: u.Email, Phone: u.Phone(d.phoneField), Lang: u.Lang, Timezone: u.Timezone}
}

// UserByUsername implements app.Moodle with core_user_get_users_by_field.
func (d *Directory) UserByUsername(ctx context.Context, username string) (app.MoodleUser, error) {
	u, err := d.c.GetUserByUsername(ctx, username)
	if err != nil {
		return app.MoodleUser{}, appError(err)
	}
	return d.appUser(u), nil
}

// UserByID implements app.Moodle with core_user_get_users_by_field.
func (d *Directory) UserByID(ctx context.Context, moodleUserID int64) (app.MoodleUser, error) {
	users, err := d.c.GetUsersByID(ctx, moodleUserID)
	if err != nil {
		return app.MoodleUser{}, appError(err)
	}
	for _, u := range users {
		if u.ID == moodleUserID {
			return d.appUser(u), nil
		}
	}
	return app.MoodleUser{}, fmt.Errorf("moodle user %d: %w", moodleUserID, app.ErrMoodleNotFound)
}

// Enrol implements app.Moodle with enrol_manual_enrol_users and the
// student role.
func (d *Directory) Enrol(ctx context.Context, e app.MoodleEnrolRequest) error {
	return appError(d.c.EnrolUsers(ctx, Enrolment{UserID: e.MoodleUserID, CourseID: e.MoodleCourseID,
		Start: e.TimeStart, End: e.TimeEnd}))
}

// Enrolment implements app.Moodle: the course's enrolled users (ids and
// roles), then its active ones.
func (d *Directory) Enrolment(ctx context.Context, moodleUserID, moodleCourseID int64) (app.MoodleEnrolmentState, error) {
	all, err := d.c.AllEnrolledUsers(ctx, moodleCourseID, EnrolledUsersOptions{UserFields: []string{"id", "roles"}},
		d.pageSize)
	if err != nil {
		return app.MoodleEnrolmentState{}, appError(err)
	}
	for _, u := range all {
		if u.ID != moodleUserID {
			continue
		}
		active, err := d.ActiveUserIDs(ctx, moodleCourseID)
		if err != nil {
			return app.MoodleEnrolmentState{}, err
		}
		return app.MoodleEnrolmentState{Active: active[u.ID], Roles: u.RoleShortNames()}, nil
	}
	return app.MoodleEnrolmentState{}, fmt.Errorf("moodle user %d in course %d: not enrolled: %w",
		moodleUserID, moodleCourseID, app.ErrMoodleNotFound)
}

// Courses implements app.Moodle with core_course_get_courses_by_field; the
// site's front page is never a course here.
func (d *Directory) Courses(ctx context.Context, moodleCourseIDs []int64) ([]app.MoodleCourseInfo, error) {
	courses, err := d.c.GetCourses(ctx, moodleCourseIDs...)
	if err != nil {
		return nil, appError(err)
	}
	var out []app.MoodleCourseInfo
	for _, c := range courses {
		if c.IsSite() {
			continue
		}
		out = append(out, app.MoodleCourseInfo{Visible: c.Visible, MoodleCourse: app.MoodleCourse{
			ID: c.ID, ShortName: c.ShortName, FullName: c.FullName, StartDate: c.StartDate, EndDate: c.EndDate}})
	}
	return out, nil
}

// EnrolledUsers implements app.Moodle: a page of core_enrol_get_enrolled_users
// (which never gives the language), completed by one
// core_user_get_users_by_field call for the page's languages and zones.
func (d *Directory) EnrolledUsers(ctx context.Context, moodleCourseID int64, from, limit int) ([]app.MoodleUser, error) {
	page, err := d.c.GetEnrolledUsers(ctx, moodleCourseID, EnrolledUsersOptions{UserFields: enrolledFields,
		LimitFrom: from, LimitNumber: limit})
	if err != nil {
		return nil, appError(err)
	}
	if len(page) == 0 {
		return nil, nil
	}
	ids := make([]int64, len(page))
	for i, u := range page {
		ids[i] = u.ID
	}
	details, err := d.c.GetUsersByID(ctx, ids...)
	if err != nil {
		return nil, appError(err)
	}
	byID := make(map[int64]User, len(details))
	for _, u := range details {
		byID[u.ID] = u
	}
	out := make([]app.MoodleUser, len(page))
	for i, e := range page {
		u := app.MoodleUser{ID: e.ID, Username: e.Username, FirstName: e.FirstName, LastName: e.LastName,
			Email: e.Email, Phone: e.Phone(d.phoneField), Roles: e.RoleShortNames()}
		if full, ok := byID[e.ID]; ok {
			u.Lang, u.Timezone = full.Lang, full.Timezone
			if u.Phone == "" {
				u.Phone = full.Phone(d.phoneField)
			}
		}
		out[i] = u
	}
	return out, nil
}

// ActiveUserIDs implements app.Moodle with core_enrol_get_enrolled_users'
// onlyactive option.
func (d *Directory) ActiveUserIDs(ctx context.Context, moodleCourseID int64) (map[int64]bool, error) {
	active, err := d.c.AllEnrolledUsers(ctx, moodleCourseID,
		EnrolledUsersOptions{OnlyActive: true, UserFields: []string{"id"}}, d.pageSize)
	if err != nil {
		return nil, appError(err)
	}
	out := make(map[int64]bool, len(active))
	for _, u := range active {
		out[u.ID] = true
	}
	return out, nil
}

// CourseProgress implements app.ProgressSource (bulk function first,
// per-user fallback), with the app's errors.
func (d *Directory) CourseProgress(ctx context.Context, moodleCourseID int64, moodleUserIDs []int64) (map[int64]domain.Progress, error) {
	p, err := d.c.CourseProgress(ctx, moodleCourseID, moodleUserIDs)
	return p, appError(err)
}
