package moodletest

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode"
)

const bulkFunction = "local_whatsappnotifier_get_course_progress"

// wsError is an exception as Moodle sends it.
type wsError struct {
	class, code, message, debug string
}

func (e *wsError) withDebug(format string, args ...any) *wsError {
	c := *e
	c.debug = fmt.Sprintf(format, args...)
	return &c
}

func (e *wsError) object(debug bool) *object {
	o := obj("exception", e.class, "errorcode", e.code, "message", e.message)
	if debug && e.debug != "" {
		o.set("debuginfo", e.debug)
	}
	return o
}

// errorSet are the recorded errors the fake answers with.
type errorSet struct {
	invalidToken, invalidParameter, notInService, unknownFunction, unknownRecord *wsError
	noPermCreateUsers, noPermCompletion                                          *wsError
}

func loadErrors(fx *Fixtures) (errorSet, error) {
	var es errorSet
	for _, x := range []struct {
		dst  **wsError
		file string
	}{
		{&es.invalidToken, "errors/invalid_token.json"},
		{&es.invalidParameter, "errors/missing_parameter.json"},
		{&es.notInService, "errors/function_not_in_service.json"},
		{&es.unknownFunction, "errors/unknown_wsfunction.json"},
		{&es.unknownRecord, "errors/unknown_user.completion_activities.json"},
		{&es.noPermCreateUsers, "errors/no_permission.student_create_users.json"},
		{&es.noPermCompletion, "errors/no_permission.student_other_completion.json"},
	} {
		e, err := fx.errorTemplate(x.file)
		if err != nil {
			return es, err
		}
		*x.dst = e
	}
	return es, nil
}

// call runs a modelled function on validated parameters. The answer is
// nil for Moodle's literal null.
func (s *Server) call(fn string, p map[string]any) (any, *wsError) {
	m, es := s.model, s.errs
	switch fn {
	case "core_webservice_get_site_info":
		info := m.siteInfo.clone()
		var funcs []any
		versions := map[string]string{}
		for _, f := range asObjects(info.get("functions")) {
			versions[f.str("name")] = f.str("version")
		}
		for _, name := range s.serviceFunctions() {
			v := versions[name]
			switch {
			case name == bulkFunction:
				v = "2026120300"
			case v == "":
				v = info.str("version")
			}
			funcs = append(funcs, obj("name", name, "version", v))
		}
		info.set("functions", funcs)
		return info, nil

	case "core_user_get_users_by_field":
		field := p["field"].(string)
		values := strs(p["values"])
		var match func(u *User) bool
		switch field {
		case "id":
			want := map[int64]bool{}
			for _, v := range values {
				want[cleanInt(v)] = true
			}
			match = func(u *User) bool { return want[u.ID] }
		case "username":
			match = func(u *User) bool { return slices.Contains(mapStrs(values, cleanUsername), u.Username) }
		case "email":
			match = func(u *User) bool { return slices.Contains(values, u.Email) }
		case "idnumber":
			match = func(u *User) bool { return slices.Contains(values, u.IDNumber) }
		default:
			return nil, es.invalidParameter.withDebug("Invalid field: %s", field)
		}
		out := []any{}
		for _, id := range slices.Sorted(maps.Keys(m.users)) {
			if u := m.users[id]; match(u) {
				out = append(out, m.renderUser(u))
			}
		}
		return out, nil

	case "core_course_get_courses_by_field":
		field, value := str(p["field"]), str(p["value"])
		var match func(c *object) bool
		switch field {
		case "":
			match = func(*object) bool { return true }
		case "id", "category":
			key := map[string]string{"id": "id", "category": "categoryid"}[field]
			want := cleanInt(value)
			match = func(c *object) bool { return c.int(key) == want }
		case "ids":
			want := map[int64]bool{}
			for _, id := range strings.Split(sequenceRE.ReplaceAllString(value, ""), ",") {
				want[cleanInt(id)] = true
			}
			match = func(c *object) bool { return want[c.int("id")] }
		case "shortname", "idnumber":
			match = func(c *object) bool { return c.str(field) == value }
		default:
			return nil, es.invalidParameter.withDebug("Invalid field name")
		}
		courses := []any{}
		for _, id := range slices.Sorted(maps.Keys(m.courses)) {
			if c := m.courses[id]; match(c) {
				courses = append(courses, m.renderCourse(c))
			}
		}
		return obj("courses", courses, "warnings", []any{}), nil

	case "core_enrol_get_enrolled_users":
		return s.enrolledUsers(p)

	case "core_completion_get_activities_completion_status":
		course, user := cleanInt(p["courseid"].(string)), cleanInt(p["userid"].(string))
		c, ok := m.courses[course]
		if !ok {
			return nil, es.unknownRecord.withDebug("SELECT * FROM {course} WHERE id = ?\n[array (\n  0 => %d,\n)]", course)
		}
		if _, ok := m.users[user]; !ok {
			return nil, es.unknownRecord.withDebug("SELECT * FROM {user} WHERE id = ? AND deleted = 0\n[array (\n  0 => %d,\n)]", user)
		}
		statuses := []any{}
		if c.int("enablecompletion") == 1 {
			for _, a := range m.courseActivities(course) {
				if a.Tracking != 0 {
					statuses = append(statuses, a.renderStatus(m, user))
				}
			}
		}
		return obj("statuses", statuses, "warnings", []any{}), nil

	case bulkFunction:
		return s.bulkProgress(p)

	case "core_user_create_users":
		return s.createUsers(p)

	case "enrol_manual_enrol_users":
		return nil, s.enrolUsers(p)
	}
	return nil, &wsError{class: "coding_exception", code: "codingerror",
		message: "Coding error detected, it must be fixed by a programmer: moodletest does not model " + fn}
}

func (s *Server) enrolledUsers(p map[string]any) (any, *wsError) {
	m := s.model
	course := cleanInt(p["courseid"].(string))
	c, ok := m.courses[course]
	if !ok {
		return nil, s.errs.unknownRecord.withDebug("SELECT * FROM {course} WHERE id = ?\n[array (\n  0 => %d,\n)]", course)
	}
	var (
		onlyActive, onlySuspended bool
		userfields                []string
		from, limit               int64
		sortBy                    = "id"
		desc                      bool
		group                     int64
	)
	for _, o := range structs(p["options"]) {
		name, value := o["name"].(string), o["value"].(string)
		switch name {
		case "onlyactive":
			onlyActive = cleanInt(value) != 0
		case "onlysuspended":
			onlySuspended = cleanInt(value) != 0
		case "userfields":
			for _, f := range strings.Split(value, ",") {
				if f = strings.TrimSpace(f); f != "" {
					userfields = append(userfields, f)
				}
			}
		case "limitfrom":
			from = cleanInt(value)
		case "limitnumber":
			limit = cleanInt(value)
		case "sortby":
			if !slices.Contains([]string{"id", "firstname", "lastname", "siteorder"}, value) {
				return nil, s.errs.invalidParameter.withDebug("Invalid value for sortby parameter (value: %s)", value)
			}
			sortBy = value
		case "sortdirection":
			desc = strings.EqualFold(value, "DESC")
		case "groupid":
			group = cleanInt(value)
		case "withcapability":
			s.t.Errorf("moodletest: core_enrol_get_enrolled_users option withcapability is not modelled")
		}
	}
	if onlyActive && onlySuspended {
		return nil, s.errs.invalidParameter.withDebug("Both onlyactive and onlysuspended are set, this is not allowed")
	}
	var list []*Enrolment
	if c.str("format") != "site" && group == 0 {
		for _, e := range m.courseUsers(course) {
			if _, ok := m.users[e.UserID]; !ok {
				continue
			}
			act := m.active(e)
			if onlyActive && !act || onlySuspended && act {
				continue
			}
			list = append(list, e)
		}
	}
	if sortBy == "firstname" || sortBy == "lastname" {
		slices.SortStableFunc(list, func(a, b *Enrolment) int {
			ua, ub := m.users[a.UserID], m.users[b.UserID]
			if sortBy == "firstname" {
				return strings.Compare(ua.FirstName, ub.FirstName)
			}
			return strings.Compare(ua.LastName, ub.LastName)
		})
	}
	if desc {
		slices.Reverse(list)
	}
	if from > 0 {
		list = list[min(int(from), len(list)):]
	}
	if limit > 0 {
		list = list[:min(int(limit), len(list))]
	}
	out := []any{}
	for _, e := range list {
		out = append(out, m.renderEnrolledUser(m.users[e.UserID], e, userfields))
	}
	return out, nil
}

// bulkProgress is the plugin's get_course_progress::execute over the model
// (moodle-plugin/classes/external/get_course_progress.php).
func (s *Server) bulkProgress(p map[string]any) (any, *wsError) {
	m := s.model
	course := cleanInt(p["courseid"].(string))
	c, ok := m.courses[course]
	if !ok { // get_course(): get_record(MUST_EXIST)
		return nil, s.errs.unknownRecord.withDebug("SELECT * FROM {course} WHERE id = ?\n[array (\n  0 => %d,\n)]", course)
	}
	var enrolled []int64
	for _, e := range m.courseUsers(course) {
		enrolled = append(enrolled, e.UserID)
	}
	warnings := []any{}
	userlist := enrolled
	if wanted := strs(p["userids"]); len(wanted) > 0 {
		userlist = nil
		var seen []int64
		for _, w := range wanted {
			id := cleanInt(w)
			if slices.Contains(seen, id) {
				continue
			}
			seen = append(seen, id)
			if slices.Contains(enrolled, id) {
				userlist = append(userlist, id)
			} else {
				warnings = append(warnings, obj("item", "user", "itemid", id, "warningcode", "notenrolled",
					"message", "The user is not enrolled in the course"))
			}
		}
	}
	// scorm_progress::tracked_activities and completed_counts.
	var tracked []int64
	if c.int("enablecompletion") == 1 {
		for _, a := range m.courseActivities(course) {
			if a.ModName == "scorm" && a.Tracking != 0 && a.Visible {
				tracked = append(tracked, a.CMID)
			}
		}
	}
	total := int64(len(tracked))
	users := []any{}
	for _, id := range userlist {
		done := int64(0)
		for _, cmid := range tracked {
			if st := m.completion[actKey{cmid, id}].State; st == 1 || st == 2 {
				done++
			}
		}
		line := obj("userid", id)
		if total == 0 {
			line.set("scorm_total", int64(0)).set("scorm_completed", int64(0)).set("percent", nil)
		} else {
			done = min(done, total)
			line.set("scorm_total", total).set("scorm_completed", done).
				set("percent", float64(done)*100/float64(total))
		}
		users = append(users, line)
	}
	return obj("courseid", course, "scorm_total", total, "users", users, "warnings", warnings), nil
}

var authPlugins = []string{"manual", "nologin", "email"}

// createUsers is core_user_create_users: every user is checked in Moodle's
// order and the whole call fails on the first error (one transaction).
func (s *Server) createUsers(p map[string]any) (any, *wsError) {
	m, es := s.model, s.errs
	var created []*User
	taken := func(f func(u *User) bool) bool {
		for _, u := range m.users {
			if f(u) {
				return true
			}
		}
		return slices.ContainsFunc(created, f)
	}
	for _, in := range structs(p["users"]) {
		for _, f := range []string{"username", "firstname", "lastname"} {
			if strings.TrimSpace(str(in[f])) == "" {
				return nil, es.invalidParameter.withDebug("The field %s cannot be blank", f)
			}
		}
		username := str(in["username"])
		if taken(func(u *User) bool { return u.Username == username }) {
			return nil, es.invalidParameter.withDebug("Username already exists: %s", username)
		}
		auth := "manual"
		if a, ok := in["auth"]; ok {
			auth = a.(string)
		}
		if !slices.Contains(authPlugins, auth) {
			return nil, es.invalidParameter.withDebug("Invalid authentication type: %s", auth)
		}
		lang := "en"
		if l, ok := in["lang"]; ok {
			lang = l.(string)
		}
		if !slices.Contains(m.langs, lang) {
			return nil, es.invalidParameter.withDebug("Invalid language code: %s", lang)
		}
		password, createPassword := str(in["password"]), str(in["createpassword"]) == "1"
		if password == "" && !createPassword {
			return nil, es.invalidParameter.withDebug("Invalid password: you must provide a password, or set createpassword.")
		}
		email := str(in["email"])
		if !emailRE.MatchString(email) {
			return nil, es.invalidParameter.withDebug("Email address is invalid: %s", email)
		}
		if taken(func(u *User) bool { return strings.EqualFold(u.Email, email) }) {
			return nil, es.invalidParameter.withDebug("Email address already exists: %s", email)
		}
		if createPassword {
			password = ""
		} else if msg := passwordPolicy(password); msg != "" {
			return nil, &wsError{class: `core\exception\moodle_exception`, code: msg, message: "error/" + msg}
		}
		u := &User{Username: username, Password: password, FirstName: str(in["firstname"]),
			LastName: str(in["lastname"]), Email: email, Phone1: str(in["phone1"]), Phone2: str(in["phone2"]),
			IDNumber: str(in["idnumber"]), Department: str(in["department"]), Lang: lang, Timezone: "99",
			Auth: auth, City: str(in["city"]), Country: str(in["country"]), Confirmed: true, MailFormat: 1}
		if tz := str(in["timezone"]); tz != "" {
			u.Timezone = tz
		}
		for _, f := range structs(in["customfields"]) {
			if u.CustomFields == nil {
				u.CustomFields = map[string]string{}
			}
			u.CustomFields[f["type"].(string)] = f["value"].(string)
		}
		created = append(created, u)
	}
	out := []any{}
	for _, u := range created {
		u.ID = m.nextUser
		m.nextUser++
		m.users[u.ID] = u
		out = append(out, obj("id", u.ID, "username", u.Username))
	}
	s.mutated()
	return out, nil
}

// passwordPolicy is check_password_policy with Moodle's default policy;
// "" when the password passes.
func passwordPolicy(pw string) string {
	count := func(f func(rune) bool) int {
		n := 0
		for _, r := range pw {
			if f(r) {
				n++
			}
		}
		return n
	}
	var msg strings.Builder
	if len([]rune(pw)) < 8 {
		msg.WriteString("<div>Passwords must be at least 8 characters long.</div>")
	}
	if count(unicode.IsDigit) < 1 {
		msg.WriteString("<div>Passwords must have at least 1 digit(s).</div>")
	}
	if count(unicode.IsLower) < 1 {
		msg.WriteString("<div>Passwords must have at least 1 lower case letter(s).</div>")
	}
	if count(unicode.IsUpper) < 1 {
		msg.WriteString("<div>Passwords must have at least 1 upper case letter(s).</div>")
	}
	if count(func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) < 1 {
		msg.WriteString("<div>The password must have at least 1 special character(s) such as *, -, or #.</div>")
	}
	return msg.String()
}

// enrolUsers is enrol_manual_enrol_users, in one transaction.
func (s *Server) enrolUsers(p map[string]any) *wsError {
	m, es := s.model, s.errs
	var todo []Enrolment
	for _, in := range structs(p["enrolments"]) {
		e := Enrolment{UserID: cleanInt(str(in["userid"])), CourseID: cleanInt(str(in["courseid"])),
			RoleIDs: []int64{cleanInt(str(in["roleid"]))}, TimeStart: cleanInt(str(in["timestart"])),
			TimeEnd: cleanInt(str(in["timeend"])), Suspended: cleanInt(str(in["suspend"])) == 1}
		c, ok := m.courses[e.CourseID]
		if !ok {
			return es.invalidParameter.withDebug("Context does not exist")
		}
		if _, ok := roleShortNames[e.RoleIDs[0]]; !ok {
			return &wsError{class: `core\exception\moodle_exception`, code: "wsusercannotassign",
				message: fmt.Sprintf("You don't have the permission to assign this role (%d) to this user (%d) in this course(%d).",
					e.RoleIDs[0], e.UserID, e.CourseID)}
		}
		if c.str("format") == "site" {
			return &wsError{class: `core\exception\moodle_exception`, code: "wsnoinstance",
				message: fmt.Sprintf("Manual enrolment plugin instance doesn't exist or is disabled for the course (id = %d)", e.CourseID)}
		}
		if _, ok := m.users[e.UserID]; !ok {
			return es.unknownRecord.withDebug("SELECT * FROM {user} WHERE id = ?\n[array (\n  0 => %d,\n)]", e.UserID)
		}
		todo = append(todo, e)
	}
	changed := false
	for _, e := range todo {
		changed = m.enrol(e) || changed
	}
	if changed {
		s.mutated()
	}
	return nil
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func strs(v any) []string {
	a, _ := v.([]any)
	out := make([]string, 0, len(a))
	for _, e := range a {
		out = append(out, str(e))
	}
	return out
}

func structs(v any) []map[string]any {
	a, _ := v.([]any)
	out := make([]map[string]any, 0, len(a))
	for _, e := range a {
		if m, ok := e.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func mapStrs(v []string, f func(string) string) []string {
	out := make([]string, len(v))
	for i, s := range v {
		out[i] = f(s)
	}
	return out
}
