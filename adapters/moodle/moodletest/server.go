// Package moodletest is a strict stand-in for a Moodle site's REST web
// services, built from the answers recorded from a real Moodle
// (../shared/fixtures/moodle).
//
// Like Moodle it answers every call with HTTP 200, errors included, and
// checks in Moodle's order: the token (missing or wrong: the recorded
// invalidtoken answer), the function (missing: invalidparameter; unknown to
// the site: the recorded unknown-function answer; not in the token's
// service: the recorded accessexception), then the parameters against the
// function's declared parameters (missing, unexpected or badly typed: the
// recorded invalidparameter answer). Without moodlewsrestformat=json it
// answers XML, as Moodle does.
//
// A call the recordings hold (same token, function and parameters) gets the
// recorded bytes as long as nothing has changed the fake's state. Other
// calls are answered from an in-memory model (users, courses, enrolments,
// activity completion) seeded with the state the recorded session left
// behind, so tests can create users, enrol them and read them back. The
// plugin's bulk function is modelled on moodle-plugin's PHP.
//
// The fake can be told to drop the bulk function, to answer 5xx, to hang,
// or to delay; it counts calls per function and the most calls in flight.
package moodletest

import (
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// The tokens the fake accepts: one of an administrator (as the recordings'
// "admin" token) and one of student1 (the recordings' "student" token).
const (
	AdminToken   = "moodletest-admin-token"
	StudentToken = "moodletest-student-token"
)

// DefaultNow is the fake site's clock unless told otherwise: just after the
// recordings were made (2026-12-03 15:51:40 UTC), so that the recorded
// enrolment dates mean what they meant then.
const DefaultNow = 1796313100

// PluginService lists the functions of the local_whatsappnotifier service
// (moodle-plugin/db/services.php): what the notifier's token may call.
var PluginService = []string{
	"core_completion_get_activities_completion_status",
	"core_course_get_courses_by_field",
	"core_enrol_get_enrolled_users",
	"core_user_create_users",
	"core_user_get_users_by_field",
	"core_webservice_get_site_info",
	"enrol_manual_enrol_users",
	bulkFunction,
}

// Server is the fake Moodle site.
type Server struct {
	URL string // MOODLE_URL of the fake

	t       testing.TB
	srv     *httptest.Server
	fx      *Fixtures
	errs    errorSet
	replay  map[string]Recording
	closing chan struct{}

	mu          sync.Mutex
	model       *model
	generation  int // changes since the start; recordings replay while 0
	service     []string
	known       map[string]bool // functions the site has
	bulk        bulkMode
	debug       bool
	delay       time.Duration
	faults      []*fault
	release     chan struct{} // closed to free hanging calls
	calls       map[string]int
	inFlight    int
	maxInFlight int
	replays     int
}

type bulkMode int

const (
	bulkInstalled    bulkMode = iota
	bulkAbsent                // plugin not installed: the function does not exist
	bulkOutOfService          // installed, but not in the token's service
)

type fault struct {
	status    int // 0: hang
	remaining int // < 0: until cleared
	functions []string
}

// Option configures a Server.
type Option func(*Server)

// WithoutBulk starts the site without the plugin's bulk function.
func WithoutBulk() Option { return func(s *Server) { s.bulk = bulkAbsent } }

// WithDebug turns developer debugging on: errors carry debuginfo.
func WithDebug() Option { return func(s *Server) { s.debug = true } }

// WithNow sets the site's clock (Unix seconds) for enrolment dates.
func WithNow(now func() int64) Option { return func(s *Server) { s.model.now = now } }

// WithService sets the functions of the tokens' service (default
// PluginService).
func WithService(functions ...string) Option {
	return func(s *Server) { s.service = slices.Clone(functions) }
}

// New starts a fake site built from the recordings; it stops when the test
// ends. The test is skipped when the recordings are absent (failed under
// NOTIFIER_REQUIRE_SERVICES=1).
func New(t testing.TB, opts ...Option) *Server {
	t.Helper()
	fx := LoadFixtures(t)
	s := &Server{t: t, fx: fx, replay: fx.replayable(), closing: make(chan struct{}),
		model: newModel(), service: slices.Clone(PluginService), calls: map[string]int{},
		release: make(chan struct{}), known: map[string]bool{bulkFunction: true}}
	s.model.now = func() int64 { return DefaultNow }
	var err error
	if s.errs, err = loadErrors(fx); err != nil {
		t.Fatalf("moodletest: %v", err)
	}
	if err := s.model.seed(fx); err != nil {
		t.Fatalf("moodletest: seeding the model: %v", err)
	}
	for _, r := range fx.Recordings {
		if r.Function != "-" {
			s.known[r.Function] = true
		}
	}
	delete(s.known, "core_does_not_exist")
	for _, o := range opts {
		o(s)
	}
	s.srv = httptest.NewServer(s)
	s.URL = s.srv.URL
	t.Cleanup(s.Close)
	return s
}

// Close stops the server, freeing calls that hang.
func (s *Server) Close() {
	select {
	case <-s.closing:
		return
	default:
		close(s.closing)
	}
	s.srv.Close()
}

// Fixtures are the recordings the fake was built from.
func (s *Server) Fixtures() *Fixtures { return s.fx }

// --- behaviour switches ---

// DropBulk removes the plugin's bulk function (the plugin is not installed):
// calls get Moodle's unknown-function answer.
func (s *Server) DropBulk() { s.setBulk(bulkAbsent) }

// BulkOutOfService keeps the bulk function on the site but out of the
// token's service: calls get the recorded accessexception.
func (s *Server) BulkOutOfService() { s.setBulk(bulkOutOfService) }

// RestoreBulk installs the bulk function again.
func (s *Server) RestoreBulk() { s.setBulk(bulkInstalled) }

func (s *Server) setBulk(b bulkMode) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bulk = b
}

// FailWith answers the next times calls (of the functions named, or of
// any) with the HTTP status and a proxy's HTML page; times <= 0 keeps
// failing until ClearFaults.
func (s *Server) FailWith(status, times int, functions ...string) {
	s.addFault(&fault{status: status, remaining: times, functions: functions})
}

// Hang makes calls (of the functions named, or all) wait without answering
// until their client gives up, ClearFaults, or Close.
func (s *Server) Hang(functions ...string) { s.addFault(&fault{remaining: -1, functions: functions}) }

func (s *Server) addFault(f *fault) {
	if f.remaining <= 0 {
		f.remaining = -1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, f)
}

// ClearFaults ends FailWith and Hang, freeing hanging calls.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
	close(s.release)
	s.release = make(chan struct{})
}

// SetDelay makes every call wait d before answering.
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// --- counters ---

// Calls is the number of requests that named the function.
func (s *Server) Calls(function string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[function]
}

// TotalCalls is the number of requests to the REST endpoint.
func (s *Server) TotalCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		n += c
	}
	return n
}

// MaxInFlight is the most requests the fake was handling at once.
func (s *Server) MaxInFlight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.maxInFlight
}

// Replays is the number of calls answered with recorded bytes.
func (s *Server) Replays() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.replays
}

// ResetCounters zeroes the call counts and MaxInFlight.
func (s *Server) ResetCounters() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = map[string]int{}
	s.maxInFlight = s.inFlight
	s.replays = 0
}

// --- the model, for test set-up and checks ---

func (s *Server) mutated() { s.generation++ }

// AddUser adds a user (an id is given when u.ID is 0) and returns it.
func (s *Server) AddUser(u User) User {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u.ID == 0 {
		u.ID = s.model.nextUser
	}
	s.model.nextUser = max(s.model.nextUser, u.ID+1)
	if u.Auth == "" {
		u.Auth = "manual"
	}
	if u.Lang == "" {
		u.Lang = "en"
	}
	if u.Timezone == "" {
		u.Timezone = "99"
	}
	u.CustomFields = maps.Clone(u.CustomFields)
	s.model.users[u.ID] = &u
	s.mutated()
	return u
}

// User returns a user by id.
func (s *Server) User(id int64) (User, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.model.users[id]
	if !ok {
		return User{}, false
	}
	return *u, true
}

// UserByUsername returns a user by username.
func (s *Server) UserByUsername(username string) (User, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range s.model.users {
		if u.Username == username {
			return *u, true
		}
	}
	return User{}, false
}

// AddCourse adds a course (an id is given when c.ID is 0), shaped like the
// recorded ones, and returns it.
func (s *Server) AddCourse(c Course) Course {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.ID == 0 {
		c.ID = s.model.nextCourse
	}
	s.model.nextCourse = max(s.model.nextCourse, c.ID+1)
	s.model.courses[c.ID] = s.model.courseObject(c)
	s.mutated()
	return courseFromObject(s.model.courses[c.ID])
}

// Course returns a course by id.
func (s *Server) Course(id int64) (Course, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.model.courses[id]
	if !ok {
		return Course{}, false
	}
	return courseFromObject(o), true
}

// AddActivity adds a course module with completion settings (a cmid is
// given when a.CMID is 0) and returns it.
func (s *Server) AddActivity(a Activity) Activity {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a.CMID == 0 {
		a.CMID = s.model.nextCMID
	}
	s.model.nextCMID = max(s.model.nextCMID, a.CMID+1)
	s.model.activities[a.CMID] = &activity{Activity: a, details: defaultDetails(a)}
	s.mutated()
	return a
}

// Activities lists a course's activities with completion, by cmid.
func (s *Server) Activities(courseID int64) []Activity {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Activity
	for _, a := range s.model.courseActivities(courseID) {
		out = append(out, a.Activity)
	}
	return out
}

// Enrol enrols a user as enrol_manual_enrol_users would.
func (s *Server) Enrol(e Enrolment) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.model.enrol(e) {
		s.mutated()
	}
}

// Enrolment returns a user's enrolment in a course.
func (s *Server) Enrolment(userID, courseID int64) (Enrolment, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.model.enrols[enrolKey{courseID, userID}]
	if !ok {
		return Enrolment{}, false
	}
	c := *e
	c.RoleIDs = slices.Clone(e.RoleIDs)
	return c, true
}

// Enrolments lists a course's enrolments, by user id.
func (s *Server) Enrolments(courseID int64) []Enrolment {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Enrolment
	for _, e := range s.model.courseUsers(courseID) {
		c := *e
		c.RoleIDs = slices.Clone(e.RoleIDs)
		out = append(out, c)
	}
	return out
}

// SetCompletion sets a user's completion state of an activity.
func (s *Server) SetCompletion(cmid, userID int64, state int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := Completion{State: state}
	if state != 0 {
		c.TimeCompleted = s.model.now()
	}
	s.model.completion[actKey{cmid, userID}] = c
	s.mutated()
}

// CompletionOf returns a user's completion state of an activity.
func (s *Server) CompletionOf(cmid, userID int64) Completion {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.model.completion[actKey{cmid, userID}]
}

// --- HTTP ---

func (s *Server) serviceFunctions() []string {
	var out []string
	for _, f := range s.service {
		if f == bulkFunction && s.bulk != bulkInstalled {
			continue
		}
		out = append(out, f)
	}
	return out
}

// ServeHTTP answers {URL}/webservice/rest/server.php like Moodle.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/webservice/rest/server.php" {
		http.NotFound(w, r)
		return
	}
	pairs, err := parsePairs(r.URL.RawQuery)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if r.URL.Query().Has("wstoken") {
		s.t.Errorf("moodletest: the token was sent in the URL, where proxies and logs keep it")
	}
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); r.Method == http.MethodPost &&
		ct == "application/x-www-form-urlencoded" {
		body, err := io.ReadAll(io.LimitReader(r.Body, 8<<20))
		if err != nil {
			return
		}
		bp, err := parsePairs(string(body))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		pairs = append(pairs, bp...) // $_POST wins over $_GET
	}
	var token, function, format string
	tokenSet, formatSet := false, false
	var rest []pair
	for _, p := range pairs {
		switch p.key {
		case "wstoken":
			token, tokenSet = p.value, true
		case "wsfunction":
			function = p.value
		case "moodlewsrestformat":
			format, formatSet = p.value, true
		default:
			rest = append(rest, p)
		}
	}
	if !formatSet {
		format = "-"
	}

	s.mu.Lock()
	s.calls[function]++
	s.inFlight++
	s.maxInFlight = max(s.maxInFlight, s.inFlight)
	delay, release := s.delay, s.release
	var hit *fault
	for _, f := range s.faults {
		if len(f.functions) == 0 || slices.Contains(f.functions, function) {
			hit = f
			if f.remaining > 0 {
				f.remaining--
			}
			break
		}
	}
	s.faults = slices.DeleteFunc(s.faults, func(f *fault) bool { return f.remaining == 0 })
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inFlight--
		s.mu.Unlock()
	}()

	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		case <-s.closing:
			return
		}
	}
	if hit != nil {
		if hit.status == 0 {
			select {
			case <-r.Context().Done():
			case <-release:
			case <-s.closing:
			}
			return
		}
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(hit.status)
		fmt.Fprintf(w, "<html><body><h1>%d %s</h1></body></html>\n", hit.status, http.StatusText(hit.status))
		return
	}

	s.mu.Lock()
	result, wsErr, raw := s.answer(tokenSet, token, function, format, rest)
	debug := s.debug
	s.mu.Unlock()

	if format != "json" {
		w.Header().Set("Content-Type", "application/xml; charset=utf-8")
		if wsErr != nil {
			if !debug {
				wsErr = &wsError{class: wsErr.class, code: wsErr.code, message: wsErr.message}
			}
			_, _ = w.Write(xmlError(wsErr))
			return
		}
		_, _ = w.Write(xmlResponse(result))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	switch {
	case raw != nil:
		_, _ = w.Write(raw)
	case wsErr != nil:
		_, _ = w.Write(encodePHP(wsErr.object(debug)))
	default:
		_, _ = w.Write(encodePHP(result))
	}
}

// answer decides a call's answer: a recorded body (raw), a result, or an
// error. It runs under s.mu.
func (s *Server) answer(tokenSet bool, token, function, format string, rest []pair) (any, *wsError, []byte) {
	var who string
	switch {
	case tokenSet && token == AdminToken:
		who = "admin"
	case tokenSet && token == StudentToken:
		who = "student"
	default:
		return nil, s.errs.invalidToken, nil
	}
	if function == "" {
		return nil, s.errs.invalidParameter.withDebug("Missing function name"), nil
	}
	if !s.known[function] || function == bulkFunction && s.bulk == bulkAbsent {
		return nil, s.errs.unknownFunction.withDebug(
			"SELECT * FROM {external_functions} WHERE name = ?\n[array (\n  0 => '%s',\n)]", function), nil
	}
	if !slices.Contains(s.serviceFunctions(), function) {
		return nil, s.errs.notInService.withDebug("Access to the function %s() is not allowed. "+
			"There could be multiple reasons for this: 1. The service linked to the user token does not contain the function.",
			function), nil
	}
	schema, ok := schemas[function]
	if !ok {
		s.t.Errorf("moodletest: %s is in the service but not modelled", function)
		return nil, &wsError{class: "coding_exception", code: "codingerror", message: "not modelled"}, nil
	}
	validated, err := validate(schema, buildTree(rest))
	if err != nil {
		return nil, s.errs.invalidParameter.withDebug("%v", err), nil
	}
	params := make([]string, len(rest))
	for i, p := range rest {
		params[i] = p.key + "=" + p.value
	}
	if rec, ok := s.replay[callKey(who, function, format, params)]; ok && s.generation == 0 && !writes[function] {
		s.replays++
		return nil, nil, rec.Body
	}
	p := validated.(map[string]any)
	if who == "student" {
		return s.asStudent(function, p)
	}
	res, wsErr := s.call(function, p)
	return res, wsErr, nil
}

// writes are functions that change the site: never replayed.
var writes = map[string]bool{"core_user_create_users": true, "enrol_manual_enrol_users": true}

// asStudent answers the student token's calls that were not recorded: the
// recorded permission errors, and the student's own completion.
func (s *Server) asStudent(function string, p map[string]any) (any, *wsError, []byte) {
	const studentID = 3
	switch {
	case function == "core_user_create_users":
		return nil, s.errs.noPermCreateUsers, nil
	case function == "core_completion_get_activities_completion_status" && cleanInt(str(p["userid"])) != studentID:
		return nil, s.errs.noPermCompletion, nil
	case function == "core_completion_get_activities_completion_status":
		res, err := s.call(function, p)
		return res, err, nil
	}
	s.t.Logf("moodletest: the student token answers only recorded calls and permission errors; %s refused", function)
	return nil, &wsError{class: `core\exception\required_capability_exception`, code: "nopermissions",
		message: "Sorry, but you do not currently have permissions to do that (" + strings.TrimPrefix(function, "core_") + ")."}, nil
}
