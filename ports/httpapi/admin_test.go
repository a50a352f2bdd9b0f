package httpapi_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/notifier/app"
	"github.com/acme/notifier/domain"
	"github.com/acme/notifier/ports/httpapi"
)

// The admin routes' tests run on small fakes: what needs a real store or
// Moodle is tested as components in cmd/notifier.

const admToken = "adm-token"

var admNow = time.Date(2026, time.December, 3, 10, 15, 0, 0, time.UTC)

// admStore is an app.Store and app.AdminStore whose reads answer canned
// rows and remember what they were asked; the methods the admin routes do
// not reach panic (the embedded nil interfaces).
type admStore struct {
	app.Store
	app.AdminStore

	mu          sync.Mutex
	students    []domain.Student
	courses     []domain.Course
	enrollments []app.EnrollmentRecord
	counts      []app.MessageCount
	syncs       map[int64]app.Sync
	pages       []app.PageQuery
	filters     []app.EnrollmentFilter
	countsAsked [][2]time.Time
	updated     []domain.Student
}

func (s *admStore) ListStudents(_ context.Context, q app.PageQuery) ([]domain.Student, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pages = append(s.pages, q)
	return s.students, nil
}

func (s *admStore) GetStudent(_ context.Context, id int64) (domain.Student, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, st := range s.students {
		if st.ID == id {
			return st, nil
		}
	}
	return domain.Student{}, app.ErrNotFound
}

func (s *admStore) UpdateStudent(_ context.Context, id int64, fn func(*domain.Student) error) (domain.Student, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, st := range s.students {
		if st.ID == id {
			if err := fn(&st); err != nil {
				return domain.Student{}, err
			}
			s.students[i] = st
			s.updated = append(s.updated, st)
			return st, nil
		}
	}
	return domain.Student{}, app.ErrNotFound
}

func (s *admStore) ListCourses(_ context.Context, q app.PageQuery) ([]domain.Course, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pages = append(s.pages, q)
	return s.courses, nil
}

func (s *admStore) ListEnrollments(_ context.Context, f app.EnrollmentFilter) ([]app.EnrollmentRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.filters = append(s.filters, f)
	return s.enrollments, nil
}

func (s *admStore) CountMessages(_ context.Context, since, until time.Time) ([]app.MessageCount, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.countsAsked = append(s.countsAsked, [2]time.Time{since, until})
	return s.counts, nil
}

func (s *admStore) GetIdempotencyKey(context.Context, string) (app.IdempotencyRecord, error) {
	return app.IdempotencyRecord{}, app.ErrNotFound
}

func (s *admStore) CreateSync(_ context.Context, ids []int64, now time.Time) (app.Sync, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sc := app.Sync{ID: int64(len(s.syncs) + 1), MoodleCourseIDs: ids, Status: app.SyncRunning, StartedAt: now,
		HeartbeatAt: now}
	s.syncs[sc.ID] = sc
	return sc, nil
}

func (s *admStore) GetSync(_ context.Context, id int64) (app.Sync, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sc, ok := s.syncs[id]
	if !ok {
		return app.Sync{}, app.ErrNotFound
	}
	return sc, nil
}

func (s *admStore) SaveSyncProgress(context.Context, int64, app.SyncCounts, time.Time) (bool, error) {
	return true, nil
}

func (s *admStore) FinishSync(_ context.Context, id int64, st app.SyncStatus, c app.SyncCounts, msg string, now time.Time) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sc := s.syncs[id]
	sc.Status, sc.Counts, sc.Error, sc.FinishedAt = st, c, msg, now
	s.syncs[id] = sc
	return true, nil
}

// admMoodle is a Moodle with no course: enough for a sync to start and end.
type admMoodle struct{ app.Moodle }

func (admMoodle) Courses(context.Context, []int64) ([]app.MoodleCourseInfo, error) { return nil, nil }

type admSender struct{}

func (admSender) Send(context.Context, domain.MessageLog) app.SendResult {
	return app.SendResult{Outcome: app.OutcomeSent}
}

type admServer struct {
	router *gin.Engine
	store  *admStore
	admin  *app.Admin
}

// newAdmServer builds a router with every admin route group, over fakes;
// moodle nil is "Moodle not configured".
func newAdmServer(t *testing.T, moodle app.Moodle) *admServer {
	t.Helper()
	gin.SetMode(gin.TestMode)
	store := &admStore{syncs: map[int64]app.Sync{}}
	log := slog.New(slog.DiscardHandler)
	a, err := app.New(app.Settings{Rules: domain.DefaultRules(168 * time.Hour), Location: time.UTC, PhoneRegion: "ES"},
		app.Deps{Store: store, Sender: admSender{}, Now: func() time.Time { return admNow }, Logger: log})
	require.NoError(t, err)
	admin, err := app.NewAdmin(a, app.AdminDeps{Store: store, Moodle: moodle})
	require.NoError(t, err)
	t.Cleanup(admin.Sync.Wait)
	dl, err := app.NewDeadLetters(app.DeadLettersDeps{Store: &dlStore{rows: map[int64]app.DeadLetter{}}, Bus: &dlBus{}})
	require.NoError(t, err)
	r := httpapi.NewRouter(httpapi.Options{
		Logger: log, AdminTokens: []string{admToken},
		Routes: []func(gin.IRoutes){httpapi.RegisterOpenAPI},
		AdminRoutes: []func(gin.IRoutes){
			httpapi.MessageRoutes{Queries: a.Queries}.Register,
			httpapi.ScanRoutes{}.Register, // registered, never called here
			httpapi.DeadLetterRoutes{DeadLetters: dl}.Register,
			httpapi.StudentRoutes{Admin: admin}.Register,
			httpapi.CourseRoutes{Admin: admin}.Register,
			httpapi.EnrollmentRoutes{Admin: admin}.Register,
			httpapi.SyncRoutes{Admin: admin}.Register,
			httpapi.StatsRoutes{Admin: admin}.Register,
			httpapi.RuleRoutes{Queries: a.Queries}.Register,
		},
	})
	return &admServer{router: r, store: store, admin: admin}
}

type admAnswer struct {
	Status int
	Header http.Header
	Body   []byte
}

func (s *admServer) do(t *testing.T, method, path, body string, headers ...string) admAnswer {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	req.Header.Set("Authorization", "Bearer "+admToken)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	s.router.ServeHTTP(w, req)
	return admAnswer{Status: w.Code, Header: w.Header(), Body: w.Body.Bytes()}
}

// admProblem requires a problem+json answer of status and returns it.
func admProblem(t *testing.T, a admAnswer, status int) httpapi.Problem {
	t.Helper()
	require.Equal(t, status, a.Status, "body: %s", a.Body)
	assert.Equal(t, "application/problem+json", a.Header.Get("Content-Type"))
	var p httpapi.Problem
	require.NoError(t, json.Unmarshal(a.Body, &p))
	assert.Equal(t, status, p.Status)
	return p
}

// admFields are the fields a problem names.
func admFields(p httpapi.Problem) []string {
	var out []string
	for _, e := range p.Errors {
		out = append(out, e.Field)
	}
	return out
}

func admCursor(id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(id, 10)))
}

// admRoutes are the method and path (":id" as 1) of every /api/v1 route.
func admRoutes(r *gin.Engine) [][2]string {
	var out [][2]string
	for _, ri := range r.Routes() {
		if strings.HasPrefix(ri.Path, "/api/v1/") {
			out = append(out, [2]string{ri.Method, strings.ReplaceAll(ri.Path, ":id", "1")})
		}
	}
	return out
}

func TestAdminRoutesNeedTheToken(t *testing.T) {
	s := newAdmServer(t, admMoodle{})
	routes := admRoutes(s.router)
	require.GreaterOrEqual(t, len(routes), 20, "every route group is registered")
	for _, rt := range routes {
		t.Run(rt[0]+" "+rt[1], func(t *testing.T) {
			p := admProblem(t, s.do(t, rt[0], rt[1], `{}`, "Authorization", ""), http.StatusUnauthorized)
			assert.Contains(t, p.Detail, "missing bearer token")
			p = admProblem(t, s.do(t, rt[0], rt[1], `{}`, "Authorization", "Bearer wrong-"+admToken), http.StatusUnauthorized)
			assert.Contains(t, p.Detail, "invalid bearer token")
			admProblem(t, s.do(t, rt[0], rt[1], `{}`, "Authorization", "Basic "+admToken), http.StatusUnauthorized)
		})
	}
}

func TestMoodleRoutesWithoutMoodleAnswer503(t *testing.T) {
	s := newAdmServer(t, nil)
	for _, rt := range [][2]string{
		{"POST", "/api/v1/students"}, {"POST", "/api/v1/enrollments"}, {"POST", "/api/v1/syncs"},
	} {
		for _, body := range []string{`{}`, `{"username": "ana"}`, ``} {
			p := admProblem(t, s.do(t, rt[0], rt[1], body), http.StatusServiceUnavailable)
			assert.Contains(t, p.Detail, "MOODLE_URL", "%s %s", rt[0], rt[1])
		}
		// Without the token it is still 401 first.
		admProblem(t, s.do(t, rt[0], rt[1], `{}`, "Authorization", ""), http.StatusUnauthorized)
	}
	// Everything else works.
	s.store.students = []domain.Student{{ID: 1, Username: "ana", Phone: "+34600111222"}}
	for _, path := range []string{"/api/v1/students", "/api/v1/students/1", "/api/v1/courses", "/api/v1/enrollments",
		"/api/v1/stats", "/api/v1/rules", "/api/v1/syncs/1"} {
		if path == "/api/v1/syncs/1" {
			s.store.syncs[1] = app.Sync{ID: 1, Status: app.SyncDone}
		}
		a := s.do(t, "GET", path, "")
		assert.Equal(t, http.StatusOK, a.Status, "%s: %s", path, a.Body)
	}
	a := s.do(t, "PATCH", "/api/v1/students/1", `{"opted_out": true}`)
	assert.Equal(t, http.StatusOK, a.Status, "%s", a.Body)
}

func TestCreateStudentRefusesBadBodies(t *testing.T) {
	s := newAdmServer(t, admMoodle{})
	valid := `{"username": "ana", "firstname": "Ana", "lastname": "Ruiz", "email": "ana@example.com", "phone": "+34 600 111 222"}`
	for _, tc := range []struct {
		name, body string
		status     int
		fields     []string
	}{
		{"not JSON", `{"username": `, 400, nil},
		{"no body", ``, 400, nil},
		{"unknown field", strings.Replace(valid, `"username"`, `"nickname": "x", "username"`, 1), 422, []string{"nickname"}},
		{"wrong type", strings.Replace(valid, `"ana"`, `42`, 1), 422, []string{"username"}},
		{"every required field", `{}`, 422, []string{"username", "firstname", "lastname", "email", "phone"}},
		{"bad email and username", strings.NewReplacer(`"ana@example.com"`, `"ana-at-example"`, `"ana"`, `"ana ruiz"`).Replace(valid),
			422, []string{"username", "email"}},
		{"bad lang", strings.Replace(valid, `}`, `, "lang": "Spanish!"}`, 1), 422, []string{"lang"}},
		{"empty password", strings.Replace(valid, `}`, `, "password": ""}`, 1), 422, []string{"password"}},
		{"too long", strings.Replace(valid, `"Ana"`, `"`+strings.Repeat("a", 101)+`"`, 1), 422, []string{"firstname"}},
		{"invalid phone", strings.Replace(valid, `"+34 600 111 222"`, `"12"`, 1), 422, []string{"phone"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := admProblem(t, s.do(t, "POST", "/api/v1/students", tc.body), tc.status)
			if tc.fields != nil {
				assert.ElementsMatch(t, tc.fields, admFields(p))
			}
		})
	}
}

func TestCreateEnrollmentRefusesBadBodies(t *testing.T) {
	s := newAdmServer(t, admMoodle{})
	for _, tc := range []struct {
		name, body string
		status     int
		fields     []string
	}{
		{"not JSON", `[`, 400, nil},
		{"unknown field", `{"student_id": 1, "moodle_course_id": 7, "role": "teacher"}`, 422, []string{"role"}},
		{"no student", `{"moodle_course_id": 7}`, 422, []string{"student_id", "moodle_user_id"}},
		{"both students", `{"student_id": 1, "moodle_user_id": 42, "moodle_course_id": 7}`, 422, []string{"moodle_user_id"}},
		{"no course", `{"student_id": 1}`, 422, []string{"moodle_course_id"}},
		{"negative ids", `{"student_id": -1, "moodle_course_id": 0}`, 422, []string{"student_id", "moodle_course_id"}},
		{"end before start", `{"moodle_user_id": 42, "moodle_course_id": 7, "timestart": 1764756000, "timeend": 1764755999}`,
			422, []string{"timeend"}},
		{"string id", `{"moodle_user_id": "42", "moodle_course_id": 7}`, 422, []string{"moodle_user_id"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := admProblem(t, s.do(t, "POST", "/api/v1/enrollments", tc.body), tc.status)
			if tc.fields != nil {
				assert.ElementsMatch(t, tc.fields, admFields(p))
			}
		})
	}
}

func TestIdempotencyKeyMustBeValid(t *testing.T) {
	s := newAdmServer(t, admMoodle{})
	body := `{"student_id": 1, "moodle_course_id": 7}`
	for _, key := range []string{"has space", strings.Repeat("k", 256), "tab\tkey"} {
		p := admProblem(t, s.do(t, "POST", "/api/v1/enrollments", body, "Idempotency-Key", key), 422)
		assert.Equal(t, []string{"Idempotency-Key"}, admFields(p))
	}
}

func TestPatchStudent(t *testing.T) {
	s := newAdmServer(t, nil)
	s.store.students = []domain.Student{{ID: 3, MoodleUserID: 42, Username: "ana", Phone: "+34600111222"}}
	for _, tc := range []struct {
		name, path, body string
		status           int
		fields           []string
	}{
		{"nothing to change", "/api/v1/students/3", `{}`, 422, []string{"phone", "opted_out"}},
		{"nulls change nothing", "/api/v1/students/3", `{"phone": null, "opted_out": null}`, 422, []string{"phone", "opted_out"}},
		{"unknown field", "/api/v1/students/3", `{"email": "x@example.com"}`, 422, []string{"email"}},
		{"wrong type", "/api/v1/students/3", `{"opted_out": "yes"}`, 422, []string{"opted_out"}},
		{"bad phone", "/api/v1/students/3", `{"phone": "call me"}`, 422, []string{"phone"}},
		{"not JSON", "/api/v1/students/3", `{`, 400, nil},
		{"no such student", "/api/v1/students/4", `{"opted_out": true}`, 404, nil},
		{"no id", "/api/v1/students/abc", `{"opted_out": true}`, 404, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := admProblem(t, s.do(t, "PATCH", tc.path, tc.body), tc.status)
			if tc.fields != nil {
				assert.ElementsMatch(t, tc.fields, admFields(p))
			}
		})
	}
	require.Empty(t, s.store.updated)

	a := s.do(t, "PATCH", "/api/v1/students/3", `{"phone": "600 999 888", "opted_out": true}`)
	require.Equal(t, http.StatusOK, a.Status, "%s", a.Body)
	assert.JSONEq(t, `{"id": 3, "moodle_user_id": 42, "username": "ana", "firstname": "", "lastname": "",
		"email": "", "phone": "+34600999888", "lang": "", "opted_out": true}`, string(a.Body),
		"the phone is stored in E.164, read in NOTIFIER_PHONE_REGION")
}

func TestListRoutesPassTheirFilters(t *testing.T) {
	s := newAdmServer(t, nil)
	pct := 50.0
	s.store.students = []domain.Student{{ID: 9, MoodleUserID: 42, Username: "ana", FirstName: "Ana", LastName: "Ruiz",
		Email: "ana@example.com", Phone: "+34600111222", Lang: "es"}, {ID: 8, Username: "local"}}
	s.store.courses = []domain.Course{{ID: 5, MoodleCourseID: 7, ShortName: "PRL-01", FullName: "Prevención",
		StartDate: time.Unix(1764547200, 0), EndDate: time.Time{}}}
	s.store.enrollments = []app.EnrollmentRecord{
		{Enrollment: domain.Enrollment{ID: 11, StudentID: 9, CourseID: 5, Progress: domain.Progress{Total: 4, Completed: 2, Percent: &pct}},
			MoodleUserID: 42, MoodleCourseID: 7},
		{Enrollment: domain.Enrollment{ID: 10, StudentID: 8, CourseID: 5, Status: domain.EnrolmentSuspended}, MoodleCourseID: 7},
		{Enrollment: domain.Enrollment{ID: 9, StudentID: 8, CourseID: 6, Deleted: true}, MoodleCourseID: 8},
	}

	a := s.do(t, "GET", "/api/v1/students?limit=2&cursor="+admCursor(20), "")
	require.Equal(t, http.StatusOK, a.Status, "%s", a.Body)
	assert.JSONEq(t, `{"items": [
		{"id": 9, "moodle_user_id": 42, "username": "ana", "firstname": "Ana", "lastname": "Ruiz",
		 "email": "ana@example.com", "phone": "+34600111222", "lang": "es", "opted_out": false},
		{"id": 8, "moodle_user_id": null, "username": "local", "firstname": "", "lastname": "", "email": "",
		 "phone": "", "lang": "", "opted_out": false}],
		"next_cursor": "`+admCursor(8)+`"}`, string(a.Body))
	assert.Equal(t, app.PageQuery{BeforeID: 20, Limit: 2}, s.store.pages[len(s.store.pages)-1])

	a = s.do(t, "GET", "/api/v1/students/9", "")
	require.Equal(t, http.StatusOK, a.Status)
	admProblem(t, s.do(t, "GET", "/api/v1/students/77", ""), 404)

	a = s.do(t, "GET", "/api/v1/courses", "")
	require.Equal(t, http.StatusOK, a.Status)
	assert.JSONEq(t, `{"items": [{"id": 5, "moodle_course_id": 7, "shortname": "PRL-01", "fullname": "Prevención",
		"startdate": "2025-12-01T00:00:00Z", "enddate": null}], "next_cursor": null}`, string(a.Body))
	assert.Equal(t, app.PageQuery{Limit: 50}, s.store.pages[len(s.store.pages)-1], "the default page")

	a = s.do(t, "GET", "/api/v1/enrollments?course_id=5&student_id=9&limit=3&cursor="+admCursor(12), "")
	require.Equal(t, http.StatusOK, a.Status)
	assert.Equal(t, app.EnrollmentFilter{CourseID: 5, StudentID: 9, PageQuery: app.PageQuery{BeforeID: 12, Limit: 3}},
		s.store.filters[len(s.store.filters)-1])
	assert.JSONEq(t, `{"items": [
		{"id": 11, "student_id": 9, "course_id": 5, "moodle_user_id": 42, "moodle_course_id": 7, "status": "active",
		 "progress": {"scorm_total": 4, "scorm_completed": 2, "percent": 50}},
		{"id": 10, "student_id": 8, "course_id": 5, "moodle_user_id": null, "moodle_course_id": 7, "status": "suspended",
		 "progress": {"scorm_total": 0, "scorm_completed": 0, "percent": null}},
		{"id": 9, "student_id": 8, "course_id": 6, "moodle_user_id": null, "moodle_course_id": 8, "status": "deleted",
		 "progress": {"scorm_total": 0, "scorm_completed": 0, "percent": null}}],
		"next_cursor": "`+admCursor(9)+`"}`, string(a.Body))
	a = s.do(t, "GET", "/api/v1/enrollments?course_id=5", "")
	require.Equal(t, http.StatusOK, a.Status)
	assert.Equal(t, app.EnrollmentFilter{CourseID: 5, PageQuery: app.PageQuery{Limit: 50}}, s.store.filters[len(s.store.filters)-1])
	a = s.do(t, "GET", "/api/v1/enrollments?student_id=8", "")
	require.Equal(t, http.StatusOK, a.Status)
	assert.Equal(t, app.EnrollmentFilter{StudentID: 8, PageQuery: app.PageQuery{Limit: 50}}, s.store.filters[len(s.store.filters)-1])

	for _, tc := range []struct{ path, field string }{
		{"/api/v1/enrollments?course_id=x", "course_id"},
		{"/api/v1/enrollments?student_id=0", "student_id"},
		{"/api/v1/enrollments?limit=501", "limit"},
		{"/api/v1/students?limit=0", "limit"},
		{"/api/v1/students?cursor=!!", "cursor"},
		{"/api/v1/courses?cursor=" + admCursor(-3), "cursor"},
		{"/api/v1/stats?since=yesterday", "since"},
		{"/api/v1/stats?until=2026-12-03", "until"},
		{"/api/v1/stats?since=2026-12-03T00:00:00Z&until=2026-12-02T00:00:00Z", "since"},
		{"/api/v1/stats?since=2024-01-01T00:00:00Z&until=2026-12-02T00:00:00Z", "since"},
	} {
		p := admProblem(t, s.do(t, "GET", tc.path, ""), 400)
		assert.Equal(t, []string{tc.field}, admFields(p), tc.path)
	}
}

func TestStatsFoldsQuartersIntoLocalDays(t *testing.T) {
	s := newAdmServer(t, nil)
	day := time.Date(2026, time.December, 2, 0, 0, 0, 0, time.UTC)
	s.store.counts = []app.MessageCount{
		{Status: domain.StatusSent, Rule: "welcome", Bucket: day.Add(10 * time.Hour), Count: 3},
		{Status: domain.StatusSent, Rule: "welcome", Bucket: day.Add(11 * time.Hour), Count: 1},
		{Status: domain.StatusFailed, Rule: "progress", Bucket: day.Add(23*time.Hour + 45*time.Minute), Count: 2},
	}
	a := s.do(t, "GET", "/api/v1/stats?since=2026-12-02T00:00:00Z&until=2026-12-04T00:00:00Z", "")
	require.Equal(t, http.StatusOK, a.Status, "%s", a.Body)
	assert.JSONEq(t, `{"since": "2026-12-02T00:00:00Z", "until": "2026-12-04T00:00:00Z", "timezone": "UTC", "total": 6,
		"by_status": {"PENDING": 0, "SENT": 4, "DELIVERED": 0, "READ": 0, "FAILED": 2},
		"by_rule": {"welcome": 4, "progress": 2, "review": 0, "completion": 0},
		"by_day": [
			{"day": "2026-12-02", "total": 6, "by_status": {"SENT": 4, "FAILED": 2}, "by_rule": {"welcome": 4, "progress": 2}},
			{"day": "2026-12-03", "total": 0, "by_status": {}, "by_rule": {}}],
		"counts": [
			{"day": "2026-12-02", "rule": "progress", "status": "FAILED", "count": 2},
			{"day": "2026-12-02", "rule": "welcome", "status": "SENT", "count": 4}]}`, string(a.Body))

	// By default: the last 30 days, today included.
	a = s.do(t, "GET", "/api/v1/stats", "")
	require.Equal(t, http.StatusOK, a.Status)
	asked := s.store.countsAsked[len(s.store.countsAsked)-1]
	assert.Equal(t, time.Date(2026, time.November, 4, 0, 0, 0, 0, time.UTC), asked[0])
	assert.Equal(t, time.Date(2026, time.December, 4, 0, 0, 0, 0, time.UTC), asked[1])
}

func TestRulesAreThoseInForce(t *testing.T) {
	s := newAdmServer(t, nil)
	a := s.do(t, "GET", "/api/v1/rules", "")
	require.Equal(t, http.StatusOK, a.Status)
	var got struct {
		Items []httpapi.RuleView `json:"items"`
		Next  *string            `json:"next_cursor"`
	}
	require.NoError(t, json.Unmarshal(a.Body, &got))
	assert.Nil(t, got.Next)
	require.Len(t, got.Items, 4)
	assert.Equal(t, "welcome", got.Items[0].Name)
	assert.True(t, got.Items[0].NewEnrolmentsOnly)
	assert.Equal(t, domain.DedupOnce, got.Items[0].Dedup.Mode)
	assert.Nil(t, got.Items[0].Dedup.Window)
	assert.Equal(t, "progress", got.Items[1].Name)
	assert.Equal(t, "168h0m0s", *got.Items[1].Dedup.Window)
	assert.Equal(t, &httpapi.RuleProgressView{Min: 1, Max: 99}, got.Items[1].Progress)
	assert.Equal(t, 1, *got.Items[2].CourseEndInDays)
}

func TestSyncRoutes(t *testing.T) {
	s := newAdmServer(t, admMoodle{})
	for _, tc := range []struct {
		name, body string
		status     int
		fields     []string
	}{
		{"unknown field", `{"courses": [1]}`, 422, []string{"courses"}},
		{"bad id", `{"moodle_course_ids": [3, 0]}`, 422, []string{"moodle_course_ids[1]"}},
		{"too many", `{"moodle_course_ids": [` + strings.TrimSuffix(strings.Repeat("1,", 1001), ",") + `]}`, 422,
			[]string{"moodle_course_ids"}},
		{"not JSON", `{"moodle_course_ids": [`, 400, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := admProblem(t, s.do(t, "POST", "/api/v1/syncs", tc.body), tc.status)
			if tc.fields != nil {
				assert.ElementsMatch(t, tc.fields, admFields(p))
			}
		})
	}

	for _, body := range []string{``, `{}`, `{"moodle_course_ids": [7, 7, 3]}`} {
		a := s.do(t, "POST", "/api/v1/syncs", body)
		require.Equal(t, http.StatusAccepted, a.Status, "%s", a.Body)
		var v httpapi.SyncView
		require.NoError(t, json.Unmarshal(a.Body, &v))
		assert.Equal(t, app.SyncRunning, v.Status)
		assert.Equal(t, "manual", v.Kind)
		assert.Equal(t, "2026-12-03", v.Date)
		assert.Nil(t, v.FinishedAt)
	}
	s.admin.Sync.Wait()
	a := s.do(t, "GET", "/api/v1/syncs/3", "")
	require.Equal(t, http.StatusOK, a.Status)
	var v httpapi.SyncView
	require.NoError(t, json.Unmarshal(a.Body, &v))
	assert.Equal(t, []int64{7, 3}, v.MoodleCourseIDs, "each course once")
	assert.Equal(t, app.SyncFailed, v.Status, "the fake Moodle has neither course")
	require.NotNil(t, v.Error)
	assert.Contains(t, *v.Error, "course 7")
	a = s.do(t, "GET", "/api/v1/syncs/1", "")
	require.Equal(t, http.StatusOK, a.Status)
	require.NoError(t, json.Unmarshal(a.Body, &v))
	assert.Equal(t, app.SyncDone, v.Status, "every visible course: none")
	assert.NotNil(t, v.FinishedAt)
	admProblem(t, s.do(t, "GET", "/api/v1/syncs/99", ""), 404)
	admProblem(t, s.do(t, "GET", "/api/v1/syncs/x", ""), 404)
}
