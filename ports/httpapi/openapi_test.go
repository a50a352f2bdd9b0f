package httpapi_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/notifier/domain"
	"github.com/acme/notifier/ports/httpapi"
)

// loadOpenAPI parses and validates the embedded document as OpenAPI 3.1.
func loadOpenAPI(t *testing.T) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(httpapi.OpenAPIDocument())
	require.NoError(t, err)
	require.Equal(t, "3.1.0", doc.OpenAPI)
	require.NoError(t, doc.Validate(loader.Context))
	return doc
}

// Every /api/v1 route of a router built with every route group is
// described, and every described route exists.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	doc := loadOpenAPI(t)
	var described []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			described = append(described, method+" /api/v1"+path)
		}
	}
	s := newAdmServer(t, admMoodle{})
	var registered []string
	for _, r := range s.router.Routes() {
		if !strings.HasPrefix(r.Path, "/api/v1/") {
			continue
		}
		registered = append(registered, r.Method+" "+strings.ReplaceAll(r.Path, ":id", "{id}"))
	}
	slices.Sort(described)
	slices.Sort(registered)
	assert.Equal(t, registered, described)
	for _, want := range []string{"GET /api/v1/messages", "GET /api/v1/messages/{id}", "POST /api/v1/scans",
		"GET /api/v1/scans", "GET /api/v1/scans/{id}", "GET /api/v1/dead-letters", "POST /api/v1/dead-letters/{id}/replay",
		"POST /api/v1/dead-letters/replay", "DELETE /api/v1/dead-letters/{id}", "GET /api/v1/students",
		"POST /api/v1/students", "GET /api/v1/students/{id}", "PATCH /api/v1/students/{id}", "GET /api/v1/courses",
		"GET /api/v1/enrollments", "POST /api/v1/enrollments", "POST /api/v1/syncs", "GET /api/v1/syncs/{id}",
		"GET /api/v1/stats", "GET /api/v1/rules"} {
		assert.Contains(t, registered, want, "CONTRACT section 5 route")
	}

	// Every operation requires the bearer token (the document's default)
	// and documents 401.
	require.Len(t, doc.Security, 1)
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			assert.Nil(t, op.Security, "%s %s overrides the bearer requirement", method, path)
			assert.NotNil(t, op.Responses.Value("401"), "%s %s documents 401", method, path)
			assert.NotEmpty(t, op.OperationID, "%s %s", method, path)
		}
	}
}

func TestOpenAPIIsServedWithoutToken(t *testing.T) {
	s := newAdmServer(t, nil)
	a := s.do(t, "GET", "/api/openapi.json", "", "Authorization", "")
	require.Equal(t, http.StatusOK, a.Status)
	assert.Equal(t, "application/json; charset=utf-8", a.Header.Get("Content-Type"))
	assert.Equal(t, httpapi.OpenAPIDocument(), a.Body)
}

// openAPIChecker validates requests and their answers against the document.
type openAPIChecker struct {
	router routers.Router
}

func newOpenAPIChecker(t *testing.T) *openAPIChecker {
	doc := loadOpenAPI(t)
	doc.Servers = openapi3.Servers{{URL: "http://notifier.test/api/v1"}}
	r, err := legacy.NewRouter(doc)
	require.NoError(t, err)
	return &openAPIChecker{router: r}
}

// check validates one exchange: the answer's status must be documented and
// its body must match the schema.
func (c *openAPIChecker) check(t *testing.T, method, path, body string, a admAnswer) {
	t.Helper()
	req := httptest.NewRequest(method, "http://notifier.test"+path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	route, params, err := c.router.FindRoute(req)
	require.NoError(t, err, "%s %s is not described", method, path)
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: a.Status, Header: a.Header,
		Body: io.NopCloser(bytes.NewReader(a.Body)), Options: &openapi3filter.Options{IncludeResponseStatus: true}}
	assert.NoError(t, openapi3filter.ValidateResponse(context.Background(), out), "%s %s answered %d: %s",
		method, path, a.Status, a.Body)
}

// The answers of the routes match the document's schemas.
func TestOpenAPIMatchesTheAnswers(t *testing.T) {
	oc := newOpenAPIChecker(t)
	s := newAdmServer(t, admMoodle{})
	s.store.students = []domain.Student{{ID: 3, MoodleUserID: 42, Username: "ana", Phone: "+34600111222"}, {ID: 2}}
	s.store.courses = []domain.Course{{ID: 5, MoodleCourseID: 7, ShortName: "PRL"}}
	s.store.enrollments = nil
	for _, tc := range []struct{ method, path, body string }{
		{"GET", "/api/v1/students?limit=1", ""},
		{"GET", "/api/v1/students/3", ""},
		{"GET", "/api/v1/students/9", ""},
		{"PATCH", "/api/v1/students/3", `{"opted_out": true}`},
		{"PATCH", "/api/v1/students/3", `{"phone": "x"}`},
		{"POST", "/api/v1/students", `{"username": 1}`},
		{"GET", "/api/v1/courses", ""},
		{"GET", "/api/v1/enrollments?course_id=5", ""},
		{"GET", "/api/v1/enrollments?course_id=-5", ""},
		{"POST", "/api/v1/enrollments", `{"moodle_course_id": 7}`},
		{"GET", "/api/v1/stats", ""},
		{"GET", "/api/v1/rules", ""},
		{"POST", "/api/v1/syncs", `{"moodle_course_ids": [7]}`},
		{"GET", "/api/v1/syncs/1", ""},
		{"GET", "/api/v1/dead-letters", ""},
	} {
		a := s.do(t, tc.method, tc.path, tc.body)
		oc.check(t, tc.method, tc.path, tc.body, a)
	}
	a := s.do(t, "GET", "/api/v1/students", "", "Authorization", "")
	oc.check(t, "GET", "/api/v1/students", "", a)
}
