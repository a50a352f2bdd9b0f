package moodletest

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// User is a Moodle user of the fake's model.
type User struct {
	ID           int64
	Username     string
	Password     string // as given; "" when Moodle generated one (createpassword)
	FirstName    string
	LastName     string
	Email        string
	Phone1       string
	Phone2       string
	IDNumber     string
	Department   string
	Lang         string
	Theme        string
	Timezone     string
	Auth         string
	City         string
	Country      string
	Suspended    bool
	Confirmed    bool
	MailFormat   int
	TrackForums  int
	FirstAccess  int64
	LastAccess   int64
	CustomFields map[string]string // profile fields by short name
}

// Course is a course of the fake's model. Fields not listed here come from
// the recorded courses.
type Course struct {
	ID               int64
	ShortName        string
	FullName         string
	IDNumber         string
	CategoryID       int64
	Format           string // "site" for the front page
	StartDate        int64
	EndDate          int64
	Visible          bool
	EnableCompletion bool
}

// Activity is a course module with completion settings.
type Activity struct {
	CMID     int64
	CourseID int64
	ModName  string // scorm, page, assign, ...
	Instance int64
	Tracking int  // 0 none (left out of completion answers), 1 manual, 2 automatic
	Visible  bool // hidden activities are not counted by the plugin
}

// Enrolment is a user's manual enrolment in a course with their roles there.
type Enrolment struct {
	UserID    int64
	CourseID  int64
	RoleIDs   []int64
	TimeStart int64
	TimeEnd   int64
	Suspended bool
}

// Completion is a user's completion state of an activity.
type Completion struct {
	State         int // 0 incomplete, 1 complete, 2 complete-pass, 3 complete-fail
	TimeCompleted int64
}

// Moodle's standard roles.
const (
	RoleManager        = 1
	RoleEditingTeacher = 3
	RoleTeacher        = 4
	RoleStudent        = 5
)

var roleShortNames = map[int64]string{RoleManager: "manager", RoleEditingTeacher: "editingteacher",
	RoleTeacher: "teacher", RoleStudent: "student"}

type actKey struct{ cmid, user int64 }

type enrolKey struct{ course, user int64 }

// model is the fake site's state.
type model struct {
	users      map[int64]*User
	courses    map[int64]*object // as core_course_get_courses_by_field shows them
	activities map[int64]*activity
	enrols     map[enrolKey]*Enrolment
	completion map[actKey]Completion
	siteInfo   *object
	langs      []string
	imageURL   [2]string // profileimageurlsmall, profileimageurl of default pictures
	courseTpl  *object   // template for added courses
	nextUser   int64
	nextCourse int64
	nextCMID   int64
	now        func() int64
}

type activity struct {
	Activity
	details []any // completion rule details, from the recordings
}

func newModel() *model {
	return &model{
		users: map[int64]*User{}, courses: map[int64]*object{}, activities: map[int64]*activity{},
		enrols: map[enrolKey]*Enrolment{}, completion: map[actKey]Completion{},
		langs: []string{"en", "es"},
	}
}

// seed rebuilds the state the recorded session left behind, applying the
// admin token's recorded answers and writes in the order they were made.
func (m *model) seed(fx *Fixtures) error {
	for _, r := range fx.Recordings {
		if r.Token != "admin" || r.Format != "json" || r.IsError() {
			continue
		}
		ans, err := decodeJSON(r.Body)
		if err != nil {
			return fmt.Errorf("%s: %w", r.File, err)
		}
		p := buildTree(recordedPairs(r.Params))
		switch r.Function {
		case "core_webservice_get_site_info":
			m.siteInfo = ans.(*object)
			id := m.siteInfo.int("userid")
			if _, ok := m.users[id]; !ok {
				m.users[id] = &User{ID: id, Username: m.siteInfo.str("username"), FirstName: m.siteInfo.str("firstname"),
					LastName: m.siteInfo.str("lastname"), Lang: m.siteInfo.str("lang"), Auth: "manual", Confirmed: true,
					Timezone: "99", MailFormat: 1}
			}
		case "core_user_create_users":
			for i, o := range asObjects(ans) {
				u := userFromParams(p.kids["users"].kids[strconv.Itoa(i)])
				u.ID = o.int("id")
				m.users[u.ID] = u
			}
		case "core_user_get_users_by_field":
			for _, o := range asObjects(ans) {
				m.users[o.int("id")] = userFromObject(o)
				m.notePicture(o)
			}
		case "core_user_update_users":
			for _, k := range p.kids["users"].keys {
				un := p.kids["users"].kids[k]
				if u, ok := m.users[cleanInt(deref(un.kids["id"].value))]; ok {
					applyUserFields(u, un)
				}
			}
		case "core_course_get_courses_by_field":
			for _, o := range asObjects(ans.(*object).get("courses")) {
				m.courses[o.int("id")] = o
				if o.str("format") != "site" {
					m.courseTpl = o
				}
			}
		case "core_enrol_get_enrolled_users":
			m.seedEnrolled(cleanInt(deref(p.kids["courseid"].value)), asObjects(ans), len(p.keys) == 1)
		case "enrol_manual_enrol_users":
			for _, k := range p.kids["enrolments"].keys {
				m.enrol(enrolmentFromNode(p.kids["enrolments"].kids[k]))
			}
		case "enrol_manual_unenrol_users":
			for _, k := range p.kids["enrolments"].keys {
				en := p.kids["enrolments"].kids[k]
				delete(m.enrols, enrolKey{cleanInt(deref(en.kids["courseid"].value)), cleanInt(deref(en.kids["userid"].value))})
			}
		case "core_completion_get_activities_completion_status":
			course, user := cleanInt(deref(p.kids["courseid"].value)), cleanInt(deref(p.kids["userid"].value))
			for _, s := range asObjects(ans.(*object).get("statuses")) {
				cmid := s.int("cmid")
				m.activities[cmid] = &activity{Activity: Activity{CMID: cmid, CourseID: course, ModName: s.str("modname"),
					Instance: s.int("instance"), Tracking: int(s.int("tracking")), Visible: s.get("uservisible") != false},
					details: s.get("details").([]any)}
				m.completion[actKey{cmid, user}] = Completion{State: int(s.int("state")), TimeCompleted: s.int("timecompleted")}
			}
		}
	}
	// Activities of courses the recordings never showed (a temporary
	// course) are left out.
	for id, a := range m.activities {
		if _, ok := m.courses[a.CourseID]; !ok {
			delete(m.activities, id)
		}
	}
	if m.siteInfo == nil || m.courseTpl == nil || len(m.users) == 0 {
		return fmt.Errorf("the recordings lack site info, courses or users")
	}
	for id := range m.users {
		m.nextUser = max(m.nextUser, id+1)
	}
	for id := range m.courses {
		m.nextCourse = max(m.nextCourse, id+1)
	}
	for id := range m.activities {
		m.nextCMID = max(m.nextCMID, id+1)
	}
	return nil
}

// seedEnrolled takes the course's enrolled users and their roles from a
// recorded listing; a listing of every user (no options) also removes
// enrolments it does not show.
func (m *model) seedEnrolled(course int64, users []*object, complete bool) {
	seen := map[int64]bool{}
	for _, o := range users {
		id := o.int("id")
		seen[id] = true
		e := m.enrols[enrolKey{course, id}]
		if e == nil {
			e = &Enrolment{UserID: id, CourseID: course}
			m.enrols[enrolKey{course, id}] = e
		}
		e.RoleIDs = nil
		for _, r := range asObjects(o.get("roles")) {
			e.RoleIDs = append(e.RoleIDs, r.int("roleid"))
		}
		m.notePicture(o)
	}
	if complete {
		for k := range m.enrols {
			if k.course == course && !seen[k.user] {
				delete(m.enrols, k)
			}
		}
	}
}

// notePicture keeps the latest recorded default picture URLs.
func (m *model) notePicture(o *object) {
	if o.has("profileimageurl") {
		m.imageURL = [2]string{o.str("profileimageurlsmall"), o.str("profileimageurl")}
	}
}

func recordedPairs(params []string) []pair {
	out := make([]pair, len(params))
	for i, p := range params {
		k, v, _ := strings.Cut(p, "=")
		out[i] = pair{k, v}
	}
	return out
}

func asObjects(v any) []*object {
	a, _ := v.([]any)
	out := make([]*object, 0, len(a))
	for _, e := range a {
		if o, ok := e.(*object); ok {
			out = append(out, o)
		}
	}
	return out
}

func userFromObject(o *object) *User {
	return &User{ID: o.int("id"), Username: o.str("username"), FirstName: o.str("firstname"),
		LastName: o.str("lastname"), Email: o.str("email"), Phone1: o.str("phone1"), Phone2: o.str("phone2"),
		IDNumber: o.str("idnumber"), Department: o.str("department"), Lang: o.str("lang"), Theme: o.str("theme"),
		Timezone: o.str("timezone"), Auth: o.str("auth"), City: o.str("city"), Country: o.str("country"),
		Suspended: o.get("suspended") == true, Confirmed: o.get("confirmed") == true,
		MailFormat: int(o.int("mailformat")), TrackForums: int(o.int("trackforums")),
		FirstAccess: o.int("firstaccess"), LastAccess: o.int("lastaccess")}
}

// userFromParams builds a user from core_user_create_users' users[i].
func userFromParams(n *node) *User {
	u := &User{Auth: "manual", Lang: "en", Timezone: "99", Confirmed: true, MailFormat: 1}
	applyUserFields(u, n)
	return u
}

func applyUserFields(u *User, n *node) {
	str := func(k string, dst *string) {
		if c, ok := n.kids[k]; ok && c.value != nil {
			*dst = *c.value
		}
	}
	str("username", &u.Username)
	str("password", &u.Password)
	str("firstname", &u.FirstName)
	str("lastname", &u.LastName)
	str("email", &u.Email)
	str("phone1", &u.Phone1)
	str("phone2", &u.Phone2)
	str("idnumber", &u.IDNumber)
	str("department", &u.Department)
	str("lang", &u.Lang)
	str("theme", &u.Theme)
	str("timezone", &u.Timezone)
	str("auth", &u.Auth)
	str("city", &u.City)
	str("country", &u.Country)
	if cf, ok := n.kids["customfields"]; ok {
		for _, k := range cf.keys {
			f := cf.kids[k]
			if u.CustomFields == nil {
				u.CustomFields = map[string]string{}
			}
			u.CustomFields[deref(f.kids["type"].value)] = deref(f.kids["value"].value)
		}
	}
}

func enrolmentFromNode(n *node) Enrolment {
	get := func(k string) int64 {
		if c, ok := n.kids[k]; ok {
			return cleanInt(deref(c.value))
		}
		return 0
	}
	return Enrolment{UserID: get("userid"), CourseID: get("courseid"), RoleIDs: []int64{get("roleid")},
		TimeStart: get("timestart"), TimeEnd: get("timeend"), Suspended: get("suspend") == 1}
}

// enrol is enrol_plugin::enrol_user plus role_assign: a new enrolment, or
// the existing one with the given dates and status, and the role added.
// It reports whether anything changed.
func (m *model) enrol(e Enrolment) bool {
	k := enrolKey{e.CourseID, e.UserID}
	cur := m.enrols[k]
	changed := cur == nil
	if cur == nil {
		cur = &Enrolment{UserID: e.UserID, CourseID: e.CourseID}
		m.enrols[k] = cur
	}
	if cur.TimeStart != e.TimeStart || cur.TimeEnd != e.TimeEnd || cur.Suspended != e.Suspended {
		changed = true
	}
	cur.TimeStart, cur.TimeEnd, cur.Suspended = e.TimeStart, e.TimeEnd, e.Suspended
	for _, r := range e.RoleIDs {
		if r > 0 && !slices.Contains(cur.RoleIDs, r) {
			cur.RoleIDs = append(cur.RoleIDs, r)
			changed = true
		}
	}
	return changed
}

// active is is_enrolled(..., onlyactive): not suspended and within dates.
func (m *model) active(e *Enrolment) bool {
	now := m.now()
	return !e.Suspended && e.TimeStart <= now && (e.TimeEnd == 0 || e.TimeEnd > now)
}

// tracked is completion_info::is_tracked_user: an active enrolment with a
// role that is in completion reports (student).
func (m *model) tracked(course, user int64) bool {
	e := m.enrols[enrolKey{course, user}]
	return e != nil && m.active(e) && slices.Contains(e.RoleIDs, RoleStudent)
}

func (m *model) courseUsers(course int64) []*Enrolment {
	var out []*Enrolment
	for k, e := range m.enrols {
		if k.course == course {
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b *Enrolment) int { return int(a.UserID - b.UserID) })
	return out
}

func (m *model) courseActivities(course int64) []*activity {
	var out []*activity
	for _, a := range m.activities {
		if a.CourseID == course {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(a, b *activity) int { return int(a.CMID - b.CMID) })
	return out
}

func fullName(u *User) string { return u.FirstName + " " + u.LastName }

// --- rendering, in each function's return-description order ---

// renderUser is a user as core_user_get_users_by_field shows it to an
// administrator.
func (m *model) renderUser(u *User) *object {
	o := obj("id", u.ID, "username", u.Username, "firstname", u.FirstName, "lastname", u.LastName,
		"fullname", fullName(u), "email", u.Email)
	if u.Phone1 != "" {
		o.set("phone1", u.Phone1)
	}
	if u.Phone2 != "" {
		o.set("phone2", u.Phone2)
	}
	o.set("department", u.Department).set("idnumber", u.IDNumber).set("firstaccess", u.FirstAccess).
		set("lastaccess", u.LastAccess).set("auth", u.Auth).set("suspended", u.Suspended).
		set("confirmed", u.Confirmed).set("lang", u.Lang).set("theme", u.Theme).set("timezone", u.Timezone).
		set("mailformat", int64(u.MailFormat)).set("trackforums", int64(u.TrackForums))
	if u.City != "" {
		o.set("city", u.City)
	}
	if u.Country != "" {
		o.set("country", u.Country)
	}
	o.set("profileimageurlsmall", m.imageURL[0]).set("profileimageurl", m.imageURL[1])
	if cf := renderCustomFields(u); cf != nil {
		o.set("customfields", cf)
	}
	return o
}

func renderCustomFields(u *User) []any {
	if len(u.CustomFields) == 0 {
		return nil
	}
	var out []any
	for _, k := range slices.Sorted(maps.Keys(u.CustomFields)) {
		v := u.CustomFields[k]
		out = append(out, obj("type", "text", "value", v, "displayvalue", v, "name", k, "shortname", k))
	}
	return out
}

// renderEnrolledUser is a user as core_enrol_get_enrolled_users shows it:
// id and fullname always, the rest as userfields asks (all when empty);
// asking for phone1 brings phone2 too, as recorded; never lang.
func (m *model) renderEnrolledUser(u *User, e *Enrolment, userfields []string) *object {
	want := func(f string) bool { return len(userfields) == 0 || slices.Contains(userfields, f) }
	o := obj("id", u.ID)
	if want("username") {
		o.set("username", u.Username)
	}
	if want("firstname") {
		o.set("firstname", u.FirstName)
	}
	if want("lastname") {
		o.set("lastname", u.LastName)
	}
	o.set("fullname", fullName(u))
	if want("email") {
		o.set("email", u.Email)
	}
	if want("phone1") || want("phone2") {
		if u.Phone1 != "" && want("phone1") {
			o.set("phone1", u.Phone1)
		}
		if u.Phone2 != "" {
			o.set("phone2", u.Phone2)
		}
	}
	if want("department") {
		o.set("department", u.Department)
	}
	if want("idnumber") {
		o.set("idnumber", u.IDNumber)
	}
	if want("firstaccess") {
		o.set("firstaccess", u.FirstAccess)
	}
	if want("lastaccess") {
		o.set("lastaccess", u.LastAccess)
	}
	if want("lastcourseaccess") {
		o.set("lastcourseaccess", int64(0))
	}
	if want("city") && u.City != "" {
		o.set("city", u.City)
	}
	if want("country") && u.Country != "" {
		o.set("country", u.Country)
	}
	if want("profileimageurlsmall") {
		o.set("profileimageurlsmall", m.imageURL[0])
	}
	if want("profileimageurl") {
		o.set("profileimageurl", m.imageURL[1])
	}
	if want("customfields") {
		if cf := renderCustomFields(u); cf != nil {
			o.set("customfields", cf)
		}
	}
	if want("roles") {
		roles := []any{}
		for _, r := range e.RoleIDs {
			roles = append(roles, obj("roleid", r, "name", "", "shortname", roleShortNames[r], "sortorder", int64(0)))
		}
		o.set("roles", roles)
	}
	if want("enrolledcourses") {
		o.set("enrolledcourses", m.userCourses(u.ID))
	}
	return o
}

// userCourses are the courses of a user's active enrolments, in course
// sort order, as enrolledcourses lists them.
func (m *model) userCourses(user int64) []any {
	var cs []*object
	for k, e := range m.enrols {
		if k.user == user && m.active(e) {
			if c, ok := m.courses[k.course]; ok {
				cs = append(cs, c)
			}
		}
	}
	slices.SortFunc(cs, func(a, b *object) int { return int(a.int("sortorder") - b.int("sortorder")) })
	out := []any{}
	for _, c := range cs {
		out = append(out, obj("id", c.int("id"), "fullname", c.str("fullname"), "shortname", c.str("shortname")))
	}
	return out
}

// renderCourse is the recorded course with its contacts (editing teachers)
// from the model.
func (m *model) renderCourse(c *object) *object {
	o := c.clone()
	if o.has("contacts") {
		contacts := []any{}
		for _, e := range m.courseUsers(c.int("id")) {
			if slices.Contains(e.RoleIDs, RoleEditingTeacher) {
				if u, ok := m.users[e.UserID]; ok {
					contacts = append(contacts, obj("id", u.ID, "fullname", fullName(u)))
				}
			}
		}
		o.set("contacts", contacts)
	}
	return o
}

func courseFromObject(o *object) Course {
	return Course{ID: o.int("id"), ShortName: o.str("shortname"), FullName: o.str("fullname"),
		IDNumber: o.str("idnumber"), CategoryID: o.int("categoryid"), Format: o.str("format"),
		StartDate: o.int("startdate"), EndDate: o.int("enddate"), Visible: o.int("visible") == 1,
		EnableCompletion: o.int("enablecompletion") == 1}
}

// courseObject builds a course from the template of the recorded courses.
func (m *model) courseObject(c Course) *object {
	o := m.courseTpl.clone()
	b2i := func(b bool) int64 {
		if b {
			return 1
		}
		return 0
	}
	format := c.Format
	if format == "" {
		format = "topics"
	}
	minSort := int64(10001)
	for _, x := range m.courses {
		if x.int("categoryid") == c.CategoryID && x.int("sortorder") > 0 {
			minSort = min(minSort, x.int("sortorder"))
		}
	}
	o.set("id", c.ID).set("fullname", c.FullName).set("displayname", c.FullName).set("shortname", c.ShortName).
		set("categoryid", c.CategoryID).set("sortorder", minSort-1).set("idnumber", c.IDNumber).
		set("format", format).set("startdate", c.StartDate).set("enddate", c.EndDate).
		set("visible", b2i(c.Visible)).set("enablecompletion", b2i(c.EnableCompletion)).
		set("contacts", []any{})
	if format == "site" {
		o.set("enrollmentmethods", []any{})
	}
	return o
}

func (a *activity) renderStatus(m *model, user int64) *object {
	c := m.completion[actKey{a.CMID, user}]
	details := cloneValue(a.details).([]any)
	for _, d := range asObjects(details) {
		if rv, ok := d.get("rulevalue").(*object); ok {
			rv.set("status", int64(c.State))
		}
	}
	return obj("cmid", a.CMID, "modname", a.ModName, "instance", a.Instance, "state", int64(c.State),
		"timecompleted", c.TimeCompleted, "tracking", int64(a.Tracking), "overrideby", nil, "valueused", false,
		"hascompletion", true, "isautomatic", a.Tracking == 2, "istrackeduser", m.tracked(a.CourseID, user),
		"uservisible", a.Visible, "details", details, "isoverallcomplete", c.State == 1 || c.State == 2)
}

// defaultDetails are the completion rule details of an added activity.
func defaultDetails(a Activity) []any {
	switch {
	case a.Tracking != 2:
		return []any{}
	case a.ModName == "scorm":
		return []any{obj("rulename", "completionstatusrequired",
			"rulevalue", obj("status", int64(0), "description", "Complete or pass the activity"))}
	}
	return []any{obj("rulename", "completionview", "rulevalue", obj("status", int64(0), "description", "View"))}
}
