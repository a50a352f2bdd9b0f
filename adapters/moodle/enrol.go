package moodle

import (
	"context"
	"fmt"
	"time"
)

// Enrolment is one manual enrolment to make.
type Enrolment struct {
	UserID   int64
	CourseID int64
	RoleID   int64     // 0: Config.StudentRoleID
	Start    time.Time // zero: no start date
	End      time.Time // zero: no end date
	Suspend  bool      // enrol as suspended
}

// EnrolUsers enrols users with enrol_manual_enrol_users, all or none (Moodle
// runs them in one transaction and answers null). Enrolling a user who is
// already enrolled updates the enrolment: its dates become the ones given
// (zero clears them), its status active unless Suspend, and the role is
// added. It is a write: never retried; see ErrOutcomeUnknown.
//
// An unknown user answers ErrNotFound; an unknown course ErrInvalidParameter
// (Moodle's "context does not exist"); a role the token's user may not
// assign ErrAccessDenied (wsusercannotassign).
func (c *Client) EnrolUsers(ctx context.Context, enrolments ...Enrolment) error {
	if len(enrolments) == 0 {
		return nil
	}
	p := &params{}
	for i, e := range enrolments {
		if e.UserID <= 0 || e.CourseID <= 0 {
			return fmt.Errorf("moodle enrol_manual_enrol_users: enrolment %d: user and course ids are required: %w",
				i, ErrInvalidParameter)
		}
		role := e.RoleID
		if role <= 0 {
			role = c.cfg.StudentRoleID
		}
		p.setInt(key("enrolments", i, "roleid"), role)
		p.setInt(key("enrolments", i, "userid"), e.UserID)
		p.setInt(key("enrolments", i, "courseid"), e.CourseID)
		p.setTime(key("enrolments", i, "timestart"), e.Start)
		p.setTime(key("enrolments", i, "timeend"), e.End)
		if e.Suspend {
			p.set(key("enrolments", i, "suspend"), "1")
		}
	}
	return c.write(ctx, "enrol_manual_enrol_users", p, nil)
}
