package moodletest

import (
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/notifier/internal/testenv"
)

// post sends a recorded call to the fake as the recording client did.
func post(t *testing.T, s *Server, r Recording) (string, []byte) {
	t.Helper()
	form := url.Values{}
	switch r.Token {
	case "admin":
		form.Set("wstoken", AdminToken)
	case "student":
		form.Set("wstoken", StudentToken)
	case "none":
	default:
		form.Set("wstoken", "not-a-token")
	}
	if r.Function != "-" {
		form.Set("wsfunction", r.Function)
	}
	if r.Format != "-" {
		form.Set("moodlewsrestformat", r.Format)
	}
	body := form.Encode()
	for _, p := range r.Params {
		k, v, _ := strings.Cut(p, "=")
		body += "&" + url.QueryEscape(k) + "=" + url.QueryEscape(v)
	}
	resp, err := http.Post(s.URL+"/webservice/rest/server.php", "application/x-www-form-urlencoded", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, "Moodle answers everything with 200")
	return resp.Header.Get("Content-Type"), b
}

func TestEncoderReproducesEveryRecordedJSONFile(t *testing.T) {
	fx := LoadFixtures(t)
	n := 0
	for _, r := range fx.Recordings {
		if r.Format != "json" {
			continue
		}
		v, err := decodeJSON(r.Body)
		require.NoError(t, err, r.File)
		assert.Equal(t, string(r.Body), string(encodePHP(v)), r.File)
		n++
	}
	assert.Greater(t, n, 80)
}

// Every recorded call the plugin's service allows is answered with the
// recorded bytes and content type: successes (replayed) and errors (from the
// checks and the model). Calls of functions outside the service get the
// recorded not-in-service answer instead.
func TestAnswersEveryRecordedCallLikeMoodle(t *testing.T) {
	checked := 0
	fx := LoadFixtures(t)
	latest := fx.replayable() // a call recorded twice is answered as it was the last time
	for _, r := range fx.Recordings {
		if r.Token != "admin" && r.Token != "student" && r.Token != "bad" && r.Token != "none" {
			continue // tokens of other students
		}
		if writes[r.Function] && !r.IsError() {
			continue // TestRecordedWritesAgainstTheRecordedState
		}
		s := New(t) // a fresh site: replay stops once the state changes
		ct, body := post(t, s, r)
		assert.Equal(t, r.ContentType, ct, r.File)
		inService := slices.Contains(PluginService, r.Function)
		switch {
		case r.Token == "bad" || r.Token == "none" || r.Function == "-" || r.Function == "core_does_not_exist" ||
			inService:
			want := r.Body
			if !r.IsError() {
				want = latest[callKey(r.Token, r.Function, r.Format, r.Params)].Body
			}
			assert.Equal(t, string(want), string(body), r.File)
			checked++
		default:
			notInService, err := s.Fixtures().Read("errors/function_not_in_service.json")
			require.NoError(t, err)
			assert.Equal(t, string(notInService), string(body), r.File)
		}
	}
	assert.Greater(t, checked, 40)
}

// The model alone (no replay) gives the recorded answers of the state the
// recorded session left behind; earlier recordings of the same data show
// what changed later, and are listed with the change.
func TestModelMatchesTheLatestRecordings(t *testing.T) {
	s := New(t)
	stale := map[string]string{
		"core_user_get_users_by_field.json":                                            "student1's phone1 changed later (core_user_update_users)",
		"core_user_get_users_by_field.by_id.json":                                      "student1's phone1 changed later",
		"core_user_get_users_by_field.by_email.json":                                   "student1's phone1 changed later",
		"core_enrol_get_enrolled_users.json":                                           "before LAB102 existed: phones, picture revision, enrolledcourses",
		"core_enrol_get_enrolled_users.onlyactive.json":                                "before LAB102 existed",
		"core_course_get_courses_by_field.json":                                        "before LAB102 existed: LAB101's sortorder and cacherev",
		"core_course_get_courses_by_field.shortname.json":                              "before LAB102 existed",
		"core_course_get_courses_by_field.all.json":                                    "before LAB102 existed",
		"core_completion_get_activities_completion_status.before.json":                 "before student1's SCORM attempt",
		"lab102/core_completion_get_activities_completion_status.student1.before.json": "before the SCORM attempts",
		"core_webservice_get_site_info.json":                                           "the lab token's service, not the plugin's",
	}
	compared := 0
	for _, r := range s.Fixtures().Recordings {
		if r.Token != "admin" || r.Format != "json" || r.IsError() || writes[r.Function] ||
			!slices.Contains(PluginService, r.Function) || strings.HasPrefix(r.File, "lab102/labtmp_passgrade/") {
			continue
		}
		validated, err := validate(schemas[r.Function], buildTree(recordedPairs(r.Params)))
		require.NoError(t, err, r.File)
		s.mu.Lock()
		res, wsErr := s.call(r.Function, validated.(map[string]any))
		s.mu.Unlock()
		require.Nil(t, wsErr, r.File)
		got := string(encodePHP(res))
		if why, ok := stale[r.File]; ok {
			assert.NotEqual(t, string(r.Body), got, "%s is listed as stale (%s) but the model matches it", r.File, why)
			continue
		}
		assert.Equal(t, string(r.Body), got, r.File)
		compared++
	}
	assert.GreaterOrEqual(t, compared, 12)
}

func TestServiceMatchesThePluginServicesFile(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "moodle-plugin", "db", "services.php"))
	if err != nil {
		testenv.Unavailable(t, "moodle-plugin/db/services.php: %v", err)
	}
	_, list, ok := strings.Cut(string(b), "'functions' => [")
	require.True(t, ok, "services.php has a functions list")
	list, _, _ = strings.Cut(list, "]")
	var fns []string
	for _, m := range regexp.MustCompile(`'([a-z0-9_]+)'`).FindAllStringSubmatch(list, -1) {
		fns = append(fns, m[1])
	}
	slices.Sort(fns)
	want := slices.Sorted(slices.Values(PluginService))
	assert.Equal(t, want, fns)
}

func TestFormParsingFollowsPHP(t *testing.T) {
	pairs, err := parsePairs("users%5B0%5D%5Busername%5D=ana&values[]=a&values[]=b&x=1&x=2")
	require.NoError(t, err)
	n := buildTree(pairs)
	assert.Equal(t, "ana", *n.kids["users"].kids["0"].kids["username"].value)
	assert.Equal(t, []string{"0", "1"}, n.kids["values"].keys)
	assert.Equal(t, "2", *n.kids["x"].value)
}

// Writes are never replayed: the recorded ones meet the state they left
// behind, so a recorded user creation is now a duplicate, and a recorded
// enrolment changes nothing and answers null.
func TestRecordedWritesAgainstTheRecordedState(t *testing.T) {
	fx := LoadFixtures(t)
	dup, err := fx.Read("errors/duplicate_username.create_users.json")
	require.NoError(t, err)
	for _, file := range []string{"core_user_create_users.json", "lab102/core_user_create_users.student3_teacher1.json"} {
		r, ok := fx.Recording(file)
		require.True(t, ok)
		_, body := post(t, New(t), r)
		assert.Equal(t, string(dup), string(body), file)
	}
	r, ok := fx.Recording("lab102/enrol_manual_enrol_users.lab102.json")
	require.True(t, ok)
	s := New(t)
	_, body := post(t, s, r)
	assert.Equal(t, "null", string(body))
	assert.Equal(t, 0, s.generation, "re-enrolling as recorded changes nothing")
}

func TestNewUsersGetTheNextIDAndMoodlesShape(t *testing.T) {
	s := New(t)
	r := Recording{Token: "admin", Function: "core_user_create_users", Format: "json", Params: []string{
		"users[0][username]=ana", "users[0][createpassword]=1", "users[0][firstname]=Ana",
		"users[0][lastname]=Ruiz", "users[0][email]=ana@example.com", "users[0][lang]=es"}}
	_, body := post(t, s, r)
	assert.Equal(t, `[{"id":7,"username":"ana"}]`, string(body))
	u, ok := s.UserByUsername("ana")
	require.True(t, ok)
	assert.Equal(t, "es", u.Lang)
	assert.Empty(t, u.Password, "Moodle generated and mailed the password")
}

func TestBulkFunctionCanBeDroppedOrLeftOutOfTheService(t *testing.T) {
	fx := LoadFixtures(t)
	unknown, err := fx.Read("errors/unknown_wsfunction.json")
	require.NoError(t, err)
	notInService, err := fx.Read("errors/function_not_in_service.json")
	require.NoError(t, err)
	call := Recording{Token: "admin", Function: bulkFunction, Format: "json", Params: []string{"courseid=3"}}

	s := New(t)
	_, body := post(t, s, call)
	assert.Contains(t, string(body), `"scorm_total":3`)
	s.DropBulk()
	_, body = post(t, s, call)
	assert.Equal(t, string(unknown), string(body))
	s.BulkOutOfService()
	_, body = post(t, s, call)
	assert.Equal(t, string(notInService), string(body))

	_, body = post(t, New(t, WithoutBulk(), WithDebug()), call)
	assert.Contains(t, string(body), `"debuginfo":"SELECT * FROM {external_functions}`)
}

func TestBulkProgressFollowsThePlugin(t *testing.T) {
	s := New(t)
	_, body := post(t, s, Recording{Token: "admin", Function: bulkFunction, Format: "json",
		Params: []string{"courseid=3", "userids[0]=5", "userids[1]=3", "userids[2]=999", "userids[3]=5"}})
	assert.Equal(t, `{"courseid":3,"scorm_total":3,"users":[`+
		`{"userid":5,"scorm_total":3,"scorm_completed":0,"percent":0.0},`+
		`{"userid":3,"scorm_total":3,"scorm_completed":2,"percent":66.66666666666667}],`+
		`"warnings":[{"item":"user","itemid":999,"warningcode":"notenrolled","message":"The user is not enrolled in the course"}]}`,
		string(body))
}

func TestParameterChecks(t *testing.T) {
	s := New(t, WithDebug())
	for name, params := range map[string][]string{
		"missing":    {"courseid=3"},
		"unexpected": {"courseid=3", "userid=3", "extra=1"},
		"type":       {"courseid=abc", "userid=3"},
		"array":      {"courseid[0]=3", "userid=3"},
	} {
		_, body := post(t, s, Recording{Token: "admin", Function: "core_completion_get_activities_completion_status",
			Format: "json", Params: params})
		assert.Contains(t, string(body), `"errorcode":"invalidparameter"`, name)
		assert.Contains(t, string(body), `"debuginfo":`, name)
	}
}

func TestXMLWithoutTheJSONFormat(t *testing.T) {
	s := New(t)
	ct, body := post(t, s, Recording{Token: "admin", Function: "core_course_get_courses_by_field", Format: "-",
		Params: []string{"field=id", "value=3"}})
	assert.Equal(t, "application/xml; charset=utf-8", ct)
	assert.True(t, strings.HasPrefix(string(body), "<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<RESPONSE>\n<SINGLE>\n"))
	assert.Contains(t, string(body), `<KEY name="shortname"><VALUE>LAB102</VALUE>`)
}
