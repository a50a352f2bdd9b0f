package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/notifier/adapters/moodle"
	"github.com/acme/notifier/adapters/moodle/moodletest"
	"github.com/acme/notifier/adapters/sqlite"
	"github.com/acme/notifier/adapters/whatsapp"
	"github.com/acme/notifier/app"
	"github.com/acme/notifier/domain"
	"github.com/acme/notifier/ports/httpapi"
)

// Component tests of the admin API: the real application over the real
// SQLite store, the real Moodle client and directory against the strict
// Moodle fake (moodletest), the real gin router. Two things stand between
// them to make failures happen: a store that fails a write on demand, and a
// proxy in front of the fake that can lose Moodle's answer after Moodle
// did the work.

const cmpToken = "component-admin-token"

// cmpNow is the fake site's clock: the recordings' enrolment dates and the
// courses' end dates mean what they meant then.
var cmpNow = time.Unix(moodletest.DefaultNow, 0).UTC()

// adminStorage is what the admin API needs of a store.
type adminStorage interface {
	app.Store
	app.AdminStore
}

// faultyStore fails the next calls of the methods it is told to, as a
// store that cannot be reached (app.ErrUnavailable).
type faultyStore struct {
	adminStorage
	mu   sync.Mutex
	fail map[string]int
}

func (f *faultyStore) failNext(method string, times int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail[method] += times
}

func (f *faultyStore) take(method string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail[method] > 0 {
		f.fail[method]--
		return fmt.Errorf("%s: %w: injected failure", method, app.ErrUnavailable)
	}
	return nil
}

func (f *faultyStore) UpsertStudent(ctx context.Context, s domain.Student) (domain.Student, error) {
	if err := f.take("UpsertStudent"); err != nil {
		return domain.Student{}, err
	}
	return f.adminStorage.UpsertStudent(ctx, s)
}

func (f *faultyStore) UpsertEnrollment(ctx context.Context, e domain.Enrollment) (domain.Enrollment, error) {
	if err := f.take("UpsertEnrollment"); err != nil {
		return domain.Enrollment{}, err
	}
	return f.adminStorage.UpsertEnrollment(ctx, e)
}

func (f *faultyStore) UpsertEnrolled(ctx context.Context, s domain.Student, c domain.Course, e domain.Enrollment) (domain.Enrollment, error) {
	if err := f.take("UpsertEnrolled"); err != nil {
		return domain.Enrollment{}, err
	}
	return f.adminStorage.UpsertEnrolled(ctx, s, c, e)
}

// lossyMoodle forwards to the fake, except that it can lose the answer of
// the next calls of a function: the call reaches Moodle and is applied, and
// the client gets a 502.
type lossyMoodle struct {
	URL  string
	mu   sync.Mutex
	lose map[string]int
}

func newLossyMoodle(t *testing.T, target string) *lossyMoodle {
	u, err := url.Parse(target)
	require.NoError(t, err)
	proxy := httputil.NewSingleHostReverseProxy(u)
	l := &lossyMoodle{lose: map[string]int{}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		form, _ := url.ParseQuery(string(body))
		if l.take(form.Get("wsfunction")) {
			resp, err := http.Post(target+r.URL.Path, r.Header.Get("Content-Type"), bytes.NewReader(body))
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
			}
			http.Error(w, "the answer was lost", http.StatusBadGateway)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	l.URL = srv.URL
	return l
}

func (l *lossyMoodle) loseNext(function string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lose[function]++
}

func (l *lossyMoodle) take(function string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lose[function] > 0 {
		l.lose[function]--
		return true
	}
	return false
}

// cmpHarness is the admin API wired as serve wires it, with fakes at the
// HTTP boundary.
type cmpHarness struct {
	fake    *moodletest.Server
	lossy   *lossyMoodle
	store   *faultyStore
	app     *app.Application
	admin   *app.Admin
	router  *gin.Engine
	openapi routers.Router
}

func newCmpHarness(t *testing.T, withMoodle bool) *cmpHarness {
	t.Helper()
	ctx := t.Context()
	h := &cmpHarness{}
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "notifier.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	h.store = &faultyStore{adminStorage: s, fail: map[string]int{}}
	log := slog.New(slog.DiscardHandler)
	h.app, err = app.New(app.Settings{Rules: domain.DefaultRules(168 * time.Hour), Location: time.UTC, PhoneRegion: "ES"},
		app.Deps{Store: h.store, Sender: whatsapp.DryRun{}, Now: func() time.Time { return cmpNow }, Logger: log})
	require.NoError(t, err)
	var client *moodle.Client
	if withMoodle {
		h.fake = moodletest.New(t)
		h.lossy = newLossyMoodle(t, h.fake.URL)
		// While nothing has changed it, the fake answers a call the
		// recordings hold with the recorded bytes; the listing of every
		// course was recorded before LAB102 existed. A change that changes
		// nothing makes it answer from its model, as a live site would.
		admin, _ := h.fake.User(2)
		h.fake.AddUser(admin)
		client, err = moodle.New(moodle.Config{BaseURL: h.lossy.URL, Token: moodletest.AdminToken,
			BackoffBase: time.Millisecond, BackoffMax: 5 * time.Millisecond, CallTimeout: 10 * time.Second})
		require.NoError(t, err)
	}
	h.admin, err = newAdmin(ctx, h.app, h.store, client)
	require.NoError(t, err)
	t.Cleanup(h.admin.Sync.Wait)
	gin.SetMode(gin.TestMode)
	h.router = httpapi.NewRouter(httpapi.Options{
		Logger: log, AdminTokens: []string{cmpToken}, Routes: []func(gin.IRoutes){httpapi.RegisterOpenAPI},
		AdminRoutes: append([]func(gin.IRoutes){httpapi.MessageRoutes{Queries: h.app.Queries}.Register},
			adminRoutes(h.app, h.admin)...),
	})
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(httpapi.OpenAPIDocument())
	require.NoError(t, err)
	doc.Servers = openapi3.Servers{{URL: "http://notifier.test/api/v1"}}
	h.openapi, err = legacy.NewRouter(doc)
	require.NoError(t, err)
	return h
}

type cmpAnswer struct {
	Status int
	Header http.Header
	Body   []byte
}

func (a cmpAnswer) decode(t *testing.T, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal(a.Body, v), "%s", a.Body)
}

// do sends a request with the admin token (and the headers given, in
// pairs) and checks the answer against the OpenAPI document.
func (h *cmpHarness) do(t *testing.T, method, path, body string, headers ...string) cmpAnswer {
	t.Helper()
	req := httptest.NewRequest(method, "http://notifier.test"+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+cmpToken)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	h.router.ServeHTTP(w, req)
	a := cmpAnswer{Status: w.Code, Header: w.Header(), Body: w.Body.Bytes()}
	h.checkOpenAPI(t, method, path, body, a)
	return a
}

func (h *cmpHarness) checkOpenAPI(t *testing.T, method, path, body string, a cmpAnswer) {
	t.Helper()
	req := httptest.NewRequest(method, "http://notifier.test"+path, strings.NewReader(body))
	route, params, err := h.openapi.FindRoute(req)
	require.NoError(t, err, "%s %s is not in the OpenAPI document", method, path)
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: a.Status, Header: a.Header,
		Body: io.NopCloser(bytes.NewReader(a.Body)), Options: &openapi3filter.Options{IncludeResponseStatus: true}}
	assert.NoError(t, openapi3filter.ValidateResponse(context.Background(), out), "%s %s answered %d: %s",
		method, path, a.Status, a.Body)
}

func requireStatus(t *testing.T, a cmpAnswer, status int) {
	t.Helper()
	require.Equal(t, status, a.Status, "%s", a.Body)
}

func problemOf(t *testing.T, a cmpAnswer, status int) httpapi.Problem {
	t.Helper()
	requireStatus(t, a, status)
	var p httpapi.Problem
	a.decode(t, &p)
	return p
}

// moodleUsers counts the fake's users with a username.
func (h *cmpHarness) moodleUsers(username string) int {
	n := 0
	for id := int64(1); id < 1000; id++ {
		if u, ok := h.fake.User(id); ok && u.Username == username {
			n++
		}
	}
	return n
}

func (h *cmpHarness) students(t *testing.T) []domain.Student {
	t.Helper()
	rows, err := h.store.ListStudents(t.Context(), app.PageQuery{Limit: 500})
	require.NoError(t, err)
	return rows
}

func (h *cmpHarness) enrollments(t *testing.T, f app.EnrollmentFilter) []app.EnrollmentRecord {
	t.Helper()
	f.Limit = 500
	rows, err := h.store.ListEnrollments(t.Context(), f)
	require.NoError(t, err)
	return rows
}

func (h *cmpHarness) messages(t *testing.T, f app.MessageFilter) []domain.MessageLog {
	t.Helper()
	f.Limit = 500
	rows, err := h.store.ListMessages(t.Context(), f)
	require.NoError(t, err)
	return rows
}

const anaBody = `{"username": "Ana.Ruiz", "firstname": "Ana", "lastname": "Ruiz", "email": "ana@example.com",
	"phone": "600 111 222", "lang": "es"}`

func TestAdminCreateStudent(t *testing.T) {
	h := newCmpHarness(t, true)
	a := h.do(t, "POST", "/api/v1/students", anaBody)
	requireStatus(t, a, http.StatusCreated)
	var st httpapi.StudentView
	a.decode(t, &st)
	require.NotNil(t, st.MoodleUserID)
	assert.Equal(t, httpapi.StudentView{ID: st.ID, MoodleUserID: st.MoodleUserID, Username: "ana.ruiz", FirstName: "Ana",
		LastName: "Ruiz", Email: "ana@example.com", Phone: "+34600111222", Lang: "es"}, st)
	mu, ok := h.fake.User(*st.MoodleUserID)
	require.True(t, ok, "the user exists in Moodle")
	assert.Equal(t, "ana.ruiz", mu.Username)
	assert.Equal(t, "+34600111222", mu.Phone1)
	assert.Empty(t, mu.Password, "Moodle generates the password and mails it")

	got := h.do(t, "GET", fmt.Sprintf("/api/v1/students/%d", st.ID), "")
	requireStatus(t, got, http.StatusOK)
	assert.JSONEq(t, string(a.Body), string(got.Body))

	// The same request again links what exists: 200, nothing created.
	again := h.do(t, "POST", "/api/v1/students", anaBody)
	requireStatus(t, again, http.StatusOK)
	assert.JSONEq(t, string(a.Body), string(again.Body))
	assert.Equal(t, 1, h.fake.Calls("core_user_create_users"))
	assert.Equal(t, 1, h.moodleUsers("ana.ruiz"))
	assert.Len(t, h.students(t), 1)

	// The username with another email is someone else.
	p := problemOf(t, h.do(t, "POST", "/api/v1/students", strings.Replace(anaBody, "ana@example.com", "other@example.com", 1)),
		http.StatusConflict)
	assert.Contains(t, p.Detail, "another email")

	// A user Moodle already had (created by someone else) is linked, with
	// what Moodle knows of them, and the phone staff gave.
	a = h.do(t, "POST", "/api/v1/students", `{"username": "student3", "firstname": "S", "lastname": "T",
		"email": "student3@example.com", "phone": "+34 600 111 444"}`)
	requireStatus(t, a, http.StatusOK)
	a.decode(t, &st)
	assert.Equal(t, int64(5), *st.MoodleUserID)
	assert.Equal(t, "es", st.Lang, "Moodle's language")
	assert.Equal(t, "+34600111444", st.Phone)
	assert.Equal(t, 1, h.fake.Calls("core_user_create_users"))

	// A password Moodle's policy refuses.
	p = problemOf(t, h.do(t, "POST", "/api/v1/students", `{"username": "weak", "firstname": "W", "lastname": "P",
		"email": "weak@example.com", "phone": "+34600111555", "password": "abc"}`), http.StatusUnprocessableEntity)
	require.Len(t, p.Errors, 1)
	assert.Equal(t, "password", p.Errors[0].Field)
	assert.Zero(t, h.moodleUsers("weak"))
}

func TestAdminCreateStudentPartialFailures(t *testing.T) {
	h := newCmpHarness(t, true)

	// Moodle created the user, then the local write failed.
	h.store.failNext("UpsertStudent", 1)
	p := problemOf(t, h.do(t, "POST", "/api/v1/students", anaBody), http.StatusServiceUnavailable)
	assert.Contains(t, p.Detail, "safe")
	assert.Equal(t, 1, h.moodleUsers("ana.ruiz"), "Moodle acted first")
	assert.Empty(t, h.students(t), "nothing here")
	// The repeat links the user Moodle holds: no second user, one student.
	a := h.do(t, "POST", "/api/v1/students", anaBody)
	requireStatus(t, a, http.StatusOK)
	assert.Equal(t, 1, h.moodleUsers("ana.ruiz"))
	assert.Equal(t, 1, h.fake.Calls("core_user_create_users"))
	require.Len(t, h.students(t), 1)

	// Moodle failed (5xx): nothing anywhere; the repeat creates.
	bea := strings.NewReplacer("Ana.Ruiz", "bea", "ana@example.com", "bea@example.com").Replace(anaBody)
	h.fake.FailWith(http.StatusInternalServerError, 1, "core_user_create_users")
	p = problemOf(t, h.do(t, "POST", "/api/v1/students", bea), http.StatusServiceUnavailable)
	assert.Contains(t, p.Detail, "may or may not", "a write whose outcome is unknown")
	assert.Zero(t, h.moodleUsers("bea"))
	assert.Len(t, h.students(t), 1)
	requireStatus(t, h.do(t, "POST", "/api/v1/students", bea), http.StatusCreated)
	assert.Equal(t, 1, h.moodleUsers("bea"))

	// Moodle created the user and its answer was lost: the lookup that
	// follows finds it, and the same request finishes the job.
	cai := strings.NewReplacer("Ana.Ruiz", "cai", "ana@example.com", "cai@example.com").Replace(anaBody)
	h.lossy.loseNext("core_user_create_users")
	a = h.do(t, "POST", "/api/v1/students", cai)
	requireStatus(t, a, http.StatusOK)
	assert.Equal(t, 1, h.moodleUsers("cai"))
	assert.Len(t, h.students(t), 3)

	// Many at once: one Moodle user, one student.
	dan := strings.NewReplacer("Ana.Ruiz", "dan", "ana@example.com", "dan@example.com").Replace(anaBody)
	statuses := concurrentPosts(t, h, "/api/v1/students", dan, 8)
	assert.Equal(t, 1, h.moodleUsers("dan"))
	assert.Len(t, h.students(t), 4)
	assert.Equal(t, 1, statuses[http.StatusCreated], "%v", statuses)
	assert.Equal(t, 7, statuses[http.StatusOK], "%v", statuses)
}

func concurrentPosts(t *testing.T, h *cmpHarness, path, body string, n int, headers ...string) map[int]int {
	t.Helper()
	var (
		mu       sync.Mutex
		wg       sync.WaitGroup
		statuses = map[int]int{}
		start    = make(chan struct{})
	)
	for range n {
		wg.Go(func() {
			<-start
			req := httptest.NewRequest("POST", path, strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+cmpToken)
			for i := 0; i+1 < len(headers); i += 2 {
				req.Header.Set(headers[i], headers[i+1])
			}
			w := httptest.NewRecorder()
			h.router.ServeHTTP(w, req)
			mu.Lock()
			statuses[w.Code]++
			mu.Unlock()
		})
	}
	close(start)
	wg.Wait()
	return statuses
}

// newStudent creates a student through the API and returns it.
func (h *cmpHarness) newStudent(t *testing.T, username string) httpapi.StudentView {
	t.Helper()
	body := strings.NewReplacer("Ana.Ruiz", username, "ana@example.com", username+"@example.com").Replace(anaBody)
	a := h.do(t, "POST", "/api/v1/students", body)
	requireStatus(t, a, http.StatusCreated)
	var st httpapi.StudentView
	a.decode(t, &st)
	return st
}

func (h *cmpHarness) moodleEnrolments(userID, courseID int64) int {
	n := 0
	for _, e := range h.fake.Enrolments(courseID) {
		if e.UserID == userID {
			n++
		}
	}
	return n
}

func TestAdminEnrollPartialFailures(t *testing.T) {
	h := newCmpHarness(t, true)
	ana := h.newStudent(t, "ana")
	body := fmt.Sprintf(`{"student_id": %d, "moodle_course_id": 2}`, ana.ID)

	// Moodle enrolled, then the local write failed: no row here, no welcome.
	h.store.failNext("UpsertEnrollment", 1)
	problemOf(t, h.do(t, "POST", "/api/v1/enrollments", body), http.StatusServiceUnavailable)
	assert.Equal(t, 1, h.moodleEnrolments(*ana.MoodleUserID, 2), "Moodle acted first")
	assert.Empty(t, h.enrollments(t, app.EnrollmentFilter{StudentID: ana.ID}))
	assert.Empty(t, h.messages(t, app.MessageFilter{}))

	// The repeat finds the enrolment in Moodle: it does not enrol again,
	// writes here, and the welcome goes once.
	a := h.do(t, "POST", "/api/v1/enrollments", body, "X-Request-Id", "req-2")
	requireStatus(t, a, http.StatusOK)
	var e httpapi.EnrollmentView
	a.decode(t, &e)
	zero := 0.0
	assert.Equal(t, httpapi.EnrollmentView{ID: e.ID, StudentID: ana.ID, CourseID: e.CourseID, MoodleUserID: ana.MoodleUserID,
		MoodleCourseID: 2, Status: "active", Progress: httpapi.ProgressView{ScormTotal: 1, Percent: &zero}}, e,
		"LAB101 has one tracked SCORM activity")
	assert.Equal(t, 1, h.fake.Calls("enrol_manual_enrol_users"), "never enrolled twice")
	welcome := h.messages(t, app.MessageFilter{Rule: "welcome"})
	require.Len(t, welcome, 1)
	assert.Equal(t, domain.Trigger{Kind: domain.TriggerManual, Ref: "admin:req-2"}, welcome[0].Trigger)
	assert.Equal(t, e.ID, welcome[0].EnrollmentID)
	assert.Equal(t, domain.StatusSent, welcome[0].Status)
	assert.True(t, welcome[0].DryRun)

	// Again: the enrollment exists here; nothing more anywhere.
	a = h.do(t, "POST", "/api/v1/enrollments", body)
	requireStatus(t, a, http.StatusOK)
	assert.Equal(t, 1, h.fake.Calls("enrol_manual_enrol_users"))
	assert.Len(t, h.enrollments(t, app.EnrollmentFilter{StudentID: ana.ID}), 1)
	assert.Len(t, h.messages(t, app.MessageFilter{}), 1)

	// Moodle failed (5xx): nothing anywhere; the repeat enrols (201).
	bea := h.newStudent(t, "bea")
	body = fmt.Sprintf(`{"moodle_user_id": %d, "moodle_course_id": 3}`, *bea.MoodleUserID)
	h.fake.FailWith(http.StatusInternalServerError, 1, "enrol_manual_enrol_users")
	problemOf(t, h.do(t, "POST", "/api/v1/enrollments", body), http.StatusServiceUnavailable)
	assert.Zero(t, h.moodleEnrolments(*bea.MoodleUserID, 3))
	assert.Empty(t, h.enrollments(t, app.EnrollmentFilter{StudentID: bea.ID}))
	a = h.do(t, "POST", "/api/v1/enrollments", body)
	requireStatus(t, a, http.StatusCreated)
	assert.Equal(t, 1, h.moodleEnrolments(*bea.MoodleUserID, 3))
	assert.Len(t, h.messages(t, app.MessageFilter{StudentID: bea.ID, Rule: "welcome"}), 1)

	// Moodle enrolled and its answer was lost: the same request finds the
	// enrolment and finishes (201: this request made it).
	cai := h.newStudent(t, "cai")
	body = fmt.Sprintf(`{"student_id": %d, "moodle_course_id": 3}`, cai.ID)
	h.lossy.loseNext("enrol_manual_enrol_users")
	requireStatus(t, h.do(t, "POST", "/api/v1/enrollments", body), http.StatusCreated)
	assert.Equal(t, 1, h.moodleEnrolments(*cai.MoodleUserID, 3))
	assert.Len(t, h.messages(t, app.MessageFilter{StudentID: cai.ID, Rule: "welcome"}), 1)

	// Many at once: one enrolment in Moodle, one here, one welcome.
	dan := h.newStudent(t, "dan")
	body = fmt.Sprintf(`{"student_id": %d, "moodle_course_id": 2}`, dan.ID)
	statuses := concurrentPosts(t, h, "/api/v1/enrollments", body, 8)
	assert.Zero(t, statuses[http.StatusServiceUnavailable]+statuses[http.StatusInternalServerError], "%v", statuses)
	assert.Equal(t, 1, h.moodleEnrolments(*dan.MoodleUserID, 2))
	assert.Len(t, h.enrollments(t, app.EnrollmentFilter{StudentID: dan.ID}), 1)
	assert.Len(t, h.messages(t, app.MessageFilter{StudentID: dan.ID, Rule: "welcome"}), 1)
}

func TestAdminEnrollByMoodleUser(t *testing.T) {
	h := newCmpHarness(t, true)

	// student3 is in Moodle, not here, and not in LAB101 (course 2).
	a := h.do(t, "POST", "/api/v1/enrollments", `{"moodle_user_id": 5, "moodle_course_id": 2,
		"timestart": 1796313000, "timeend": 1798905000}`)
	requireStatus(t, a, http.StatusCreated)
	var e httpapi.EnrollmentView
	a.decode(t, &e)
	st, err := h.store.GetStudent(t.Context(), e.StudentID)
	require.NoError(t, err)
	assert.Equal(t, "student3", st.Username)
	assert.Equal(t, "es", st.Lang)
	assert.Equal(t, "+34600111333", st.Phone)
	me, ok := h.fake.Enrolment(5, 2)
	require.True(t, ok)
	assert.Equal(t, int64(1796313000), me.TimeStart)
	assert.Equal(t, []int64{moodletest.RoleStudent}, me.RoleIDs)
	c, err := h.store.GetCourse(t.Context(), e.CourseID)
	require.NoError(t, err)
	assert.Equal(t, "LAB101", c.ShortName)
	assert.Len(t, h.messages(t, app.MessageFilter{StudentID: e.StudentID, Rule: "welcome"}), 1)

	// student1 is enrolled in LAB102 in Moodle already: 200, Moodle is not
	// touched, the enrollment is recorded here.
	a = h.do(t, "POST", "/api/v1/enrollments", `{"moodle_user_id": 3, "moodle_course_id": 3}`)
	requireStatus(t, a, http.StatusOK)
	assert.Equal(t, 1, h.fake.Calls("enrol_manual_enrol_users"))
	a.decode(t, &e)
	assert.Equal(t, "active", e.Status)

	for _, tc := range []struct{ body, field string }{
		{`{"moodle_user_id": 999, "moodle_course_id": 2}`, "moodle_user_id"},
		{`{"moodle_user_id": 5, "moodle_course_id": 999}`, "moodle_course_id"},
		{`{"moodle_user_id": 5, "moodle_course_id": 1}`, "moodle_course_id"}, // the site's front page
		{`{"student_id": 999, "moodle_course_id": 2}`, "student_id"},
	} {
		p := problemOf(t, h.do(t, "POST", "/api/v1/enrollments", tc.body), http.StatusUnprocessableEntity)
		require.Len(t, p.Errors, 1, tc.body)
		assert.Equal(t, tc.field, p.Errors[0].Field, tc.body)
	}
	assert.Equal(t, 1, h.fake.Calls("enrol_manual_enrol_users"))
}

func TestAdminIdempotencyKey(t *testing.T) {
	h := newCmpHarness(t, true)
	first := h.do(t, "POST", "/api/v1/students", anaBody, "Idempotency-Key", "create-ana-1")
	requireStatus(t, first, http.StatusCreated)
	assert.Empty(t, first.Header.Get("Idempotent-Replayed"))
	calls := h.fake.TotalCalls()

	// The same key and body: the first answer, without touching Moodle.
	for range 2 {
		again := h.do(t, "POST", "/api/v1/students", anaBody, "Idempotency-Key", "create-ana-1")
		requireStatus(t, again, http.StatusCreated)
		assert.Equal(t, first.Body, again.Body)
		assert.Equal(t, "true", again.Header.Get("Idempotent-Replayed"))
	}
	assert.Equal(t, calls, h.fake.TotalCalls())
	// The same body reformatted is the same request.
	requireStatus(t, h.do(t, "POST", "/api/v1/students", strings.Join(strings.Fields(anaBody), " "),
		"Idempotency-Key", "create-ana-1"), http.StatusCreated)

	// The same key with another body, or on another route: 422.
	p := problemOf(t, h.do(t, "POST", "/api/v1/students", strings.Replace(anaBody, `"Ana"`, `"Anna"`, 1),
		"Idempotency-Key", "create-ana-1"), http.StatusUnprocessableEntity)
	assert.Equal(t, "Idempotency-Key", p.Errors[0].Field)
	var st httpapi.StudentView
	first.decode(t, &st)
	enrol := fmt.Sprintf(`{"student_id": %d, "moodle_course_id": 3}`, st.ID)
	p = problemOf(t, h.do(t, "POST", "/api/v1/enrollments", enrol, "Idempotency-Key", "create-ana-1"),
		http.StatusUnprocessableEntity)
	assert.Equal(t, "Idempotency-Key", p.Errors[0].Field)
	assert.Zero(t, h.fake.Calls("enrol_manual_enrol_users"))

	// An enrolment with a key: the welcome is traced to it, and the
	// replays add nothing.
	a := h.do(t, "POST", "/api/v1/enrollments", enrol, "Idempotency-Key", "enrol-ana-3")
	requireStatus(t, a, http.StatusCreated)
	statuses := concurrentPosts(t, h, "/api/v1/enrollments", enrol, 5, "Idempotency-Key", "enrol-ana-3")
	assert.Equal(t, map[int]int{http.StatusCreated: 5}, statuses, "every repeat answers as the first time")
	assert.Equal(t, 1, h.fake.Calls("enrol_manual_enrol_users"))
	welcome := h.messages(t, app.MessageFilter{Rule: "welcome"})
	require.Len(t, welcome, 1)
	assert.Equal(t, "admin:enrol-ana-3", welcome[0].Trigger.Ref)

	// A failure is not recorded: the repeat with the same key runs again.
	bea := strings.NewReplacer("Ana.Ruiz", "bea", "ana@example.com", "bea@example.com").Replace(anaBody)
	h.store.failNext("UpsertStudent", 1)
	requireStatus(t, h.do(t, "POST", "/api/v1/students", bea, "Idempotency-Key", "create-bea"), http.StatusServiceUnavailable)
	requireStatus(t, h.do(t, "POST", "/api/v1/students", bea, "Idempotency-Key", "create-bea"), http.StatusOK)
	a = h.do(t, "POST", "/api/v1/students", bea, "Idempotency-Key", "create-bea")
	requireStatus(t, a, http.StatusOK)
	assert.Equal(t, "true", a.Header.Get("Idempotent-Replayed"))
}

func TestAdminWithoutMoodle(t *testing.T) {
	h := newCmpHarness(t, false)
	for _, path := range []string{"/api/v1/students", "/api/v1/enrollments", "/api/v1/syncs"} {
		p := problemOf(t, h.do(t, "POST", path, `{}`), http.StatusServiceUnavailable)
		assert.Contains(t, p.Detail, "MOODLE_URL")
	}
	st, err := h.store.UpsertStudent(t.Context(), domain.Student{MoodleUserID: 42, Username: "ana", Phone: "+34600111222"})
	require.NoError(t, err)
	for _, path := range []string{"/api/v1/students", fmt.Sprintf("/api/v1/students/%d", st.ID), "/api/v1/courses",
		"/api/v1/enrollments", "/api/v1/stats", "/api/v1/rules", "/api/v1/messages"} {
		requireStatus(t, h.do(t, "GET", path, ""), http.StatusOK)
	}
	a := h.do(t, "PATCH", fmt.Sprintf("/api/v1/students/%d", st.ID), `{"opted_out": true, "phone": "+34 611 222 333"}`)
	requireStatus(t, a, http.StatusOK)
	got, err := h.store.GetStudent(t.Context(), st.ID)
	require.NoError(t, err)
	assert.True(t, got.OptedOut)
	assert.Equal(t, "+34611222333", got.Phone)
	assert.True(t, got.ContactChangedAt.After(st.ContactChangedAt) || got.ContactChangedAt.Equal(st.ContactChangedAt))
}

// syncOnce starts a sync through the API, waits for it and returns it.
func (h *cmpHarness) syncOnce(t *testing.T, body string) httpapi.SyncView {
	t.Helper()
	a := h.do(t, "POST", "/api/v1/syncs", body)
	requireStatus(t, a, http.StatusAccepted)
	var sc httpapi.SyncView
	a.decode(t, &sc)
	assert.Equal(t, app.SyncRunning, sc.Status)
	h.admin.Sync.Wait()
	a = h.do(t, "GET", fmt.Sprintf("/api/v1/syncs/%d", sc.ID), "")
	requireStatus(t, a, http.StatusOK)
	a.decode(t, &sc)
	return sc
}

func TestAdminSync(t *testing.T) {
	h := newCmpHarness(t, true)
	ctx := t.Context()

	// Every visible course that has not ended: LAB101 (students 3 and 4)
	// and LAB102 (students 3, 4, 5 and teacher 6, whom no rule messages).
	sc := h.syncOnce(t, ``)
	require.Equal(t, app.SyncDone, sc.Status, "error: %v", sc.Error)
	assert.Equal(t, app.SyncCounts{Courses: 2, Added: 5, Skipped: 1}, sc.Counts)
	assert.NotNil(t, sc.FinishedAt)
	assert.Equal(t, "2026-12-03", sc.Date)

	students := h.students(t)
	require.Len(t, students, 3, "the teacher is not imported")
	byUser := map[int64]domain.Student{}
	for _, s := range students {
		byUser[s.MoodleUserID] = s
	}
	assert.Equal(t, "student3", byUser[5].Username)
	assert.Equal(t, "es", byUser[5].Lang, "the language comes from core_user_get_users_by_field")
	assert.Equal(t, "+34600111333", byUser[5].Phone)
	enrollments := h.enrollments(t, app.EnrollmentFilter{})
	require.Len(t, enrollments, 5)
	for _, e := range enrollments {
		assert.True(t, e.Imported, "enrollment %d", e.ID)
		assert.Equal(t, []string{"student"}, e.Roles)
		assert.Equal(t, domain.EnrolmentActive, e.Status)
	}
	lab102, err := h.store.FindCourseByMoodleID(ctx, 3)
	require.NoError(t, err)
	for _, e := range h.enrollments(t, app.EnrollmentFilter{CourseID: lab102.ID}) {
		assert.Equal(t, 3, e.Progress.Total, "progress of LAB102's three tracked SCORM activities")
	}
	assert.Empty(t, h.messages(t, app.MessageFilter{}), "a sync sends nothing")

	// Imported enrolments get no welcome, even when their rules are
	// evaluated on an enrolment event or a scan.
	for _, e := range enrollments {
		for _, o := range []domain.Occasion{domain.OnEnrolment, domain.OnScan} {
			_, err := h.app.Evaluate.Handle(ctx, app.EvaluateEnrollment{EnrollmentID: e.ID, Occasion: o,
				Trigger: domain.Trigger{Kind: domain.TriggerScan, Ref: "test"}})
			require.NoError(t, err)
		}
	}
	assert.Empty(t, h.messages(t, app.MessageFilter{Rule: "welcome"}))
	messagesBefore := len(h.messages(t, app.MessageFilter{}))

	// A second sync of unchanged data changes nothing.
	studentsBefore, enrollmentsBefore := h.students(t), h.enrollments(t, app.EnrollmentFilter{})
	courses, err := h.store.ListCourses(ctx, app.PageQuery{Limit: 10})
	require.NoError(t, err)
	sc = h.syncOnce(t, `{}`)
	require.Equal(t, app.SyncDone, sc.Status)
	assert.Equal(t, app.SyncCounts{Courses: 2, Skipped: 6}, sc.Counts)
	assert.Equal(t, studentsBefore, h.students(t), "not even updated_at moves")
	assert.Equal(t, enrollmentsBefore, h.enrollments(t, app.EnrollmentFilter{}))
	coursesAfter, err := h.store.ListCourses(ctx, app.PageQuery{Limit: 10})
	require.NoError(t, err)
	assert.Equal(t, courses, coursesAfter)

	// What changed in Moodle comes in: a phone, a completion, a suspension.
	u, _ := h.fake.User(4)
	u.Phone1 = "+15551230099"
	h.fake.AddUser(u)
	h.fake.SetCompletion(4, 5, 1) // activity 4, student3: complete
	h.fake.Enrol(moodletest.Enrolment{UserID: 3, CourseID: 3, RoleIDs: []int64{moodletest.RoleStudent}, Suspended: true})
	sc = h.syncOnce(t, `{"moodle_course_ids": [3]}`)
	require.Equal(t, app.SyncDone, sc.Status, "error: %v", sc.Error)
	assert.Equal(t, []int64{3}, sc.MoodleCourseIDs)
	assert.Equal(t, app.SyncCounts{Courses: 1, Updated: 3, Skipped: 1}, sc.Counts,
		"student2 (phone), student3 (progress), student1 (suspended); the teacher is skipped")
	st, err := h.store.FindStudentByMoodleID(ctx, 4)
	require.NoError(t, err)
	assert.Equal(t, "+15551230099", st.Phone)
	e3, err := h.store.FindEnrollment(ctx, 5, 3)
	require.NoError(t, err)
	assert.Equal(t, 1, e3.Progress.Completed, "student3 completed a SCORM activity")
	e, err := h.store.FindEnrollment(ctx, 3, 3)
	require.NoError(t, err)
	assert.Equal(t, domain.EnrolmentSuspended, e.Status)
	assert.Empty(t, h.messages(t, app.MessageFilter{Rule: "welcome"}))
	assert.Len(t, h.messages(t, app.MessageFilter{}), messagesBefore, "a sync sends nothing")

	// An unknown course fails the sync, which still imports the others.
	sc = h.syncOnce(t, `{"moodle_course_ids": [999, 2]}`)
	assert.Equal(t, app.SyncFailed, sc.Status)
	require.NotNil(t, sc.Error)
	assert.Contains(t, *sc.Error, "course 999")
	assert.Equal(t, app.SyncCounts{Courses: 1, Skipped: 2}, sc.Counts)

	// Moodle down: the sync fails and says why.
	h.fake.FailWith(http.StatusServiceUnavailable, 100, "core_course_get_courses_by_field")
	sc = h.syncOnce(t, ``)
	assert.Equal(t, app.SyncFailed, sc.Status)
	require.NotNil(t, sc.Error)
	assert.Contains(t, *sc.Error, "list Moodle courses")
	h.fake.ClearFaults()
	problemOf(t, h.do(t, "GET", "/api/v1/syncs/999", ""), http.StatusNotFound)
}

func TestAdminListsAndFilters(t *testing.T) {
	h := newCmpHarness(t, true)
	sc := h.syncOnce(t, ``)
	require.Equal(t, app.SyncDone, sc.Status)
	ana := h.newStudent(t, "ana")
	requireStatus(t, h.do(t, "POST", "/api/v1/enrollments", fmt.Sprintf(`{"student_id": %d, "moodle_course_id": 3}`, ana.ID)),
		http.StatusCreated)

	// Students, newest first, in pages that neither repeat nor skip.
	var ids []int64
	cursor := ""
	for range 10 {
		a := h.do(t, "GET", "/api/v1/students?limit=2"+cursor, "")
		requireStatus(t, a, http.StatusOK)
		var p struct {
			Items []httpapi.StudentView `json:"items"`
			Next  *string               `json:"next_cursor"`
		}
		a.decode(t, &p)
		for _, s := range p.Items {
			ids = append(ids, s.ID)
		}
		if p.Next == nil {
			break
		}
		cursor = "&cursor=" + *p.Next
	}
	require.Len(t, ids, 4)
	assert.Equal(t, ana.ID, ids[0])
	for i := 1; i < len(ids); i++ {
		assert.Greater(t, ids[i-1], ids[i])
	}

	lab102, err := h.store.FindCourseByMoodleID(t.Context(), 3)
	require.NoError(t, err)
	list := func(query string) []httpapi.EnrollmentView {
		a := h.do(t, "GET", "/api/v1/enrollments"+query, "")
		requireStatus(t, a, http.StatusOK)
		var p struct {
			Items []httpapi.EnrollmentView `json:"items"`
		}
		a.decode(t, &p)
		return p.Items
	}
	assert.Len(t, list(""), 6)
	byCourse := list(fmt.Sprintf("?course_id=%d", lab102.ID))
	assert.Len(t, byCourse, 4)
	for _, e := range byCourse {
		assert.Equal(t, int64(3), e.MoodleCourseID)
		assert.Equal(t, 3, e.Progress.ScormTotal)
	}
	byStudent := list(fmt.Sprintf("?student_id=%d", ana.ID))
	require.Len(t, byStudent, 1)
	assert.Equal(t, lab102.ID, byStudent[0].CourseID)
	assert.Len(t, list(fmt.Sprintf("?student_id=%d&course_id=%d", ana.ID, lab102.ID)), 1)
	assert.Empty(t, list(fmt.Sprintf("?student_id=%d&course_id=%d", ana.ID, lab102.ID+100)))

	a := h.do(t, "GET", "/api/v1/courses", "")
	requireStatus(t, a, http.StatusOK)
	assert.Contains(t, string(a.Body), `"shortname":"LAB102"`)

	a = h.do(t, "GET", "/api/v1/stats", "")
	requireStatus(t, a, http.StatusOK)
	var stats httpapi.StatsView
	a.decode(t, &stats)
	assert.Equal(t, 1, stats.Total)
	assert.Equal(t, 1, stats.ByRule["welcome"])
	assert.Equal(t, 1, stats.ByStatus[domain.StatusSent])
	require.Len(t, stats.Counts, 1)
	assert.Equal(t, httpapi.DayCountView{Day: "2026-12-03", Rule: "welcome", Status: domain.StatusSent, Count: 1}, stats.Counts[0])
	assert.Len(t, stats.ByDay, app.DefaultStatsDays)

	a = h.do(t, "GET", "/api/v1/messages?rule=welcome&student_id="+fmt.Sprint(ana.ID), "")
	requireStatus(t, a, http.StatusOK)
	assert.Contains(t, string(a.Body), `"kind":"manual"`)
}

func TestSyncCommand(t *testing.T) {
	runSync := func(env map[string]string, args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := run(t.Context(), append([]string{"sync"}, args...), envOf(env), &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}
	dir := t.TempDir()
	code, _, stderr := runSync(map[string]string{"NOTIFIER_DATA_DIR": dir}, "--wait")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "MOODLE_URL")

	fake := moodletest.New(t)
	env := map[string]string{"NOTIFIER_DATA_DIR": dir, "MOODLE_URL": fake.URL, "MOODLE_TOKEN": moodletest.AdminToken}
	for _, args := range [][]string{{"--course", "x"}, {"--course", "0"}, {"extra"}, {"--frob"}} {
		code, _, stderr := runSync(env, args...)
		assert.Equal(t, 2, code, "sync %v: %s", args, stderr)
	}

	code, stdout, stderr := runSync(env, "--course", "3", "--course", "2", "--wait")
	require.Zero(t, code, stderr)
	assert.Regexp(t, `sync 1 started \(Moodle courses 3,2\)\nsync 1 done: 2 courses, 5 added, 0 updated, 1 skipped, 0 failed\n`, stdout)

	code, stdout, stderr = runSync(env, "--course", "3,2", "--wait")
	require.Zero(t, code, stderr)
	assert.Contains(t, stdout, "sync 2 done: 2 courses, 0 added, 0 updated, 6 skipped, 0 failed")

	code, stdout, stderr = runSync(env, "--course", "999", "--wait")
	assert.Equal(t, 1, code)
	assert.Contains(t, stdout, "sync 3 failed")
	assert.Contains(t, stderr, "course 999")

	code, stdout, _ = runSync(env, "--course", "999")
	assert.Zero(t, code, "without --wait a failed sync is reported, not an exit status")
	assert.Contains(t, stdout, "sync 4 failed")

	s, err := sqlite.Open(t.Context(), filepath.Join(dir, "notifier.db"))
	require.NoError(t, err)
	defer s.Close()
	got, err := s.GetSync(t.Context(), 1)
	require.NoError(t, err)
	assert.Equal(t, []int64{3, 2}, got.MoodleCourseIDs)
	assert.Equal(t, app.SyncCounts{Courses: 2, Added: 5, Skipped: 1}, got.Counts)
}
