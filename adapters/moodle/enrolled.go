package moodle

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"
)

// EnrolledUsersOptions are core_enrol_get_enrolled_users' options; the zero
// value lists every enrolled user (suspended and not yet started included)
// with every field, ordered by user id.
type EnrolledUsersOptions struct {
	OnlyActive     bool
	OnlySuspended  bool
	WithCapability string
	GroupID        int64
	// UserFields limits the fields returned (id and fullname always come),
	// e.g. id, username, firstname, lastname, email, phone1, roles,
	// enrolledcourses, customfields. Moodle never returns lang here: read it
	// with GetUsersByField.
	UserFields  []string
	LimitFrom   int
	LimitNumber int    // 0: no limit
	SortBy      string // id (default), firstname, lastname, siteorder
	SortDesc    bool
}

// EnrolledUser is a user enrolled in a course, with their roles there.
type EnrolledUser struct {
	ID               int64
	Username         string
	FirstName        string
	LastName         string
	FullName         string
	Email            string
	Phone1           string
	Phone2           string
	IDNumber         string
	Department       string
	City             string
	Country          string
	FirstAccess      time.Time
	LastAccess       time.Time
	LastCourseAccess time.Time
	Roles            []Role
	EnrolledCourses  []CourseRef
	CustomFields     map[string]string
}

// Role is a role a user holds in a course.
type Role struct {
	ID        int64
	ShortName string // student, editingteacher, ...
	Name      string // custom name; usually empty
	SortOrder int
}

// CourseRef names a course in a user's list of courses.
type CourseRef struct {
	ID        int64
	ShortName string
	FullName  string
}

// RoleShortNames are the short names of the user's roles.
func (u EnrolledUser) RoleShortNames() []string {
	out := make([]string, len(u.Roles))
	for i, r := range u.Roles {
		out[i] = r.ShortName
	}
	return out
}

// HasRole reports whether the user holds one of the roles.
func (u EnrolledUser) HasRole(shortNames ...string) bool {
	for _, r := range u.Roles {
		if slices.Contains(shortNames, r.ShortName) {
			return true
		}
	}
	return false
}

// Phone is the phone in the field the plugin's phonefield setting names.
func (u EnrolledUser) Phone(field string) string {
	return phoneOf(field, u.Phone1, u.Phone2, u.CustomFields)
}

type wireEnrolledUser struct {
	wireUser
	LastCourseAccess flexInt `json:"lastcourseaccess"`
	Roles            []struct {
		RoleID    flexInt `json:"roleid"`
		Name      string  `json:"name"`
		ShortName string  `json:"shortname"`
		SortOrder flexInt `json:"sortorder"`
	} `json:"roles"`
	EnrolledCourses []struct {
		ID        flexInt `json:"id"`
		FullName  string  `json:"fullname"`
		ShortName string  `json:"shortname"`
	} `json:"enrolledcourses"`
}

func (o EnrolledUsersOptions) add(p *params) {
	i := 0
	opt := func(name, value string) {
		p.set(key("options", i, "name"), name)
		p.set(key("options", i, "value"), value)
		i++
	}
	if o.OnlyActive {
		opt("onlyactive", "1")
	}
	if o.OnlySuspended {
		opt("onlysuspended", "1")
	}
	if o.WithCapability != "" {
		opt("withcapability", o.WithCapability)
	}
	if o.GroupID > 0 {
		opt("groupid", strconv.FormatInt(o.GroupID, 10))
	}
	if len(o.UserFields) > 0 {
		opt("userfields", strings.Join(o.UserFields, ","))
	}
	if o.LimitNumber > 0 {
		opt("limitfrom", strconv.Itoa(o.LimitFrom))
		opt("limitnumber", strconv.Itoa(o.LimitNumber))
	}
	if o.SortBy != "" {
		opt("sortby", o.SortBy)
		if o.SortDesc {
			opt("sortdirection", "DESC")
		} else {
			opt("sortdirection", "ASC")
		}
	}
}

// GetEnrolledUsers lists a course's enrolled users with
// core_enrol_get_enrolled_users (one page when opts.LimitNumber is set). An
// unknown course answers ErrNotFound.
func (c *Client) GetEnrolledUsers(ctx context.Context, courseID int64, opts EnrolledUsersOptions) ([]EnrolledUser, error) {
	p := (&params{}).setInt("courseid", courseID)
	opts.add(p)
	var out []wireEnrolledUser
	if err := c.read(ctx, "core_enrol_get_enrolled_users", p, &out); err != nil {
		return nil, err
	}
	users := make([]EnrolledUser, len(out))
	for i, w := range out {
		u := w.toUser()
		e := EnrolledUser{
			ID: u.ID, Username: u.Username, FirstName: u.FirstName, LastName: u.LastName, FullName: u.FullName,
			Email: u.Email, Phone1: u.Phone1, Phone2: u.Phone2, IDNumber: u.IDNumber, Department: u.Department,
			City: u.City, Country: u.Country, FirstAccess: u.FirstAccess, LastAccess: u.LastAccess,
			LastCourseAccess: unixTime(int64(w.LastCourseAccess)), CustomFields: u.CustomFields,
		}
		for _, r := range w.Roles {
			e.Roles = append(e.Roles, Role{ID: int64(r.RoleID), ShortName: r.ShortName, Name: r.Name,
				SortOrder: int(r.SortOrder)})
		}
		for _, ec := range w.EnrolledCourses {
			e.EnrolledCourses = append(e.EnrolledCourses, CourseRef{ID: int64(ec.ID), ShortName: ec.ShortName,
				FullName: ec.FullName})
		}
		users[i] = e
	}
	return users, nil
}

// AllEnrolledUsers lists every enrolled user of a course in pages of
// pageSize (limitfrom/limitnumber; Moodle orders them by user id), until a
// short page. A user seen twice (enrolments changing between pages) is kept
// once. pageSize <= 0 reads everything in one call.
func (c *Client) AllEnrolledUsers(ctx context.Context, courseID int64, opts EnrolledUsersOptions, pageSize int) ([]EnrolledUser, error) {
	if pageSize <= 0 {
		opts.LimitFrom, opts.LimitNumber = 0, 0
		return c.GetEnrolledUsers(ctx, courseID, opts)
	}
	var all []EnrolledUser
	seen := map[int64]bool{}
	for from := 0; ; from += pageSize {
		opts.LimitFrom, opts.LimitNumber = from, pageSize
		page, err := c.GetEnrolledUsers(ctx, courseID, opts)
		if err != nil {
			return nil, err
		}
		for _, u := range page {
			if !seen[u.ID] {
				seen[u.ID] = true
				all = append(all, u)
			}
		}
		if len(page) < pageSize {
			return all, nil
		}
	}
}
