package moodletest

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// pair is one decoded form parameter, in the order it came.
type pair struct{ key, value string }

// parsePairs decodes an application/x-www-form-urlencoded string keeping
// the order (PHP builds arrays in that order).
func parsePairs(raw string) ([]pair, error) {
	var out []pair
	for _, part := range strings.Split(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		dk, err := url.QueryUnescape(k)
		if err != nil {
			return nil, fmt.Errorf("bad key %q: %w", k, err)
		}
		dv, err := url.QueryUnescape(v)
		if err != nil {
			return nil, fmt.Errorf("bad value of %q: %w", dk, err)
		}
		out = append(out, pair{dk, dv})
	}
	return out, nil
}

// node is PHP's view of the parameters: a scalar or an ordered array.
type node struct {
	value *string
	keys  []string
	kids  map[string]*node
}

func (n *node) isArray() bool { return n.kids != nil }

func (n *node) child(k string) *node {
	if n.kids == nil {
		n.kids = map[string]*node{}
	}
	if k == "" { // name[]: next index
		k = strconv.Itoa(len(n.keys))
	}
	c, ok := n.kids[k]
	if !ok {
		c = &node{}
		n.kids[k] = c
		n.keys = append(n.keys, k)
	}
	return c
}

// buildTree turns users[0][username]=x pairs into nested arrays, as PHP's
// $_POST does; a later scalar for the same key replaces an earlier one.
func buildTree(pairs []pair) *node {
	root := &node{kids: map[string]*node{}}
	for _, p := range pairs {
		path := splitKey(p.key)
		n := root
		for _, seg := range path {
			n = n.child(seg)
		}
		v := p.value
		n.value, n.kids, n.keys = &v, nil, nil
	}
	return root
}

// splitKey splits "users[0][username]" into users, 0, username.
func splitKey(k string) []string {
	i := strings.IndexByte(k, '[')
	if i <= 0 || !strings.HasSuffix(k, "]") {
		return []string{k}
	}
	out := []string{k[:i]}
	rest := k[i:]
	for len(rest) > 0 {
		j := strings.IndexByte(rest, ']')
		if rest[0] != '[' || j < 0 {
			return []string{k}
		}
		out = append(out, rest[1:j])
		rest = rest[j+1:]
	}
	return out
}

// Moodle's parameter types (PARAM_*) that the modelled functions use.
type ptype int

const (
	pInt ptype = iota
	pBool
	pFloat
	pRaw
	pRawTrimmed
	pText
	pNoTags
	pUsername
	pAlpha
	pAlphaNumExt
	pSafeDir
	pPlugin
	pTimezone
)

var ptypeNames = map[ptype]string{pInt: "int", pBool: "bool", pFloat: "float", pRaw: "raw",
	pRawTrimmed: "raw_trimmed", pText: "text", pNoTags: "notags", pUsername: "username", pAlpha: "alpha",
	pAlphaNumExt: "alphanumext", pSafeDir: "safedir", pPlugin: "plugin", pTimezone: "timezone"}

// desc is an external_description: value, single or multiple.
type desc interface{ isDesc() }

type value struct{ typ ptype }

type single struct{ fields []field }

type multiple struct{ elem desc }

type field struct {
	name     string
	d        desc
	required bool // VALUE_REQUIRED; otherwise VALUE_OPTIONAL or VALUE_DEFAULT
}

func (value) isDesc()    {}
func (single) isDesc()   {}
func (multiple) isDesc() {}

func req(name string, d desc) field { return field{name, d, true} }
func opt(name string, d desc) field { return field{name, d, false} }
func v(t ptype) value               { return value{t} }
func fields(f ...field) single      { return single{f} }
func list(d desc) multiple          { return multiple{d} }

// validate checks n against d as external_api::validate_parameters does and
// returns the value: map[string]any, []any or string. The error text is
// Moodle's debuginfo.
func validate(d desc, n *node) (any, error) {
	switch d := d.(type) {
	case value:
		if n.isArray() {
			return nil, fmt.Errorf("Scalar type expected, array or object received.")
		}
		s := ""
		if n.value != nil {
			s = *n.value
		}
		if !validParam(d.typ, s) {
			return nil, fmt.Errorf(`Invalid external api parameter: the value is "%s", the server was expecting "%s" type`,
				s, ptypeNames[d.typ])
		}
		return s, nil
	case multiple:
		if !n.isArray() {
			if n.value != nil && *n.value == "" {
				return []any{}, nil
			}
			return nil, fmt.Errorf("Only arrays accepted. The bad value is: '%s'", deref(n.value))
		}
		out := make([]any, 0, len(n.keys))
		for _, k := range n.keys {
			x, err := validate(d.elem, n.kids[k])
			if err != nil {
				return nil, err
			}
			out = append(out, x)
		}
		return out, nil
	case single:
		if !n.isArray() {
			return nil, fmt.Errorf("Only arrays accepted. The bad value is: '%s'", deref(n.value))
		}
		out := map[string]any{}
		known := map[string]bool{}
		for _, f := range d.fields {
			known[f.name] = true
			c, ok := n.kids[f.name]
			if !ok {
				if f.required {
					return nil, fmt.Errorf("Missing required key in single structure: %s", f.name)
				}
				continue
			}
			x, err := validate(f.d, c)
			if err != nil {
				return nil, fmt.Errorf("%s => Invalid parameter value detected (%v)", f.name, err)
			}
			out[f.name] = x
		}
		var extra []string
		for _, k := range n.keys {
			if !known[k] {
				extra = append(extra, k)
			}
		}
		if len(extra) > 0 {
			return nil, fmt.Errorf("Unexpected keys (%s) detected in parameter array.", strings.Join(extra, ", "))
		}
		return out, nil
	}
	panic("moodletest: unknown description")
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

var (
	intRE       = regexp.MustCompile(`^-?(0|[1-9][0-9]*)$`)
	tagRE       = regexp.MustCompile(`<[a-zA-Z/!?][^>]*>`)
	usernameRE  = regexp.MustCompile(`^[-.@_a-z0-9]+$`)
	alphaRE     = regexp.MustCompile(`^[a-zA-Z]*$`)
	alnumExtRE  = regexp.MustCompile(`^[a-zA-Z0-9_-]*$`)
	pluginRE    = regexp.MustCompile(`^([a-z][a-z0-9_]*[a-z0-9])?$`)
	timezoneRE  = regexp.MustCompile(`^[A-Za-z0-9_/+.-]*$`)
	sequenceRE  = regexp.MustCompile(`[^0-9,]`)
	emailRE     = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s]+$`)
	allowedBool = []string{"0", "1"}
)

// validParam is validate_param: the value must come out of clean_param
// unchanged (PARAM_BOOL takes only 0 and 1 as text).
func validParam(t ptype, s string) bool {
	switch t {
	case pInt:
		return intRE.MatchString(s)
	case pBool:
		return slices.Contains(allowedBool, s)
	case pFloat:
		_, err := strconv.ParseFloat(s, 64)
		return err == nil
	case pRaw:
		return true
	case pRawTrimmed:
		return strings.TrimSpace(s) == s
	case pText, pNoTags:
		return !tagRE.MatchString(s)
	case pUsername:
		return s == "" || (strings.TrimSpace(s) == s && usernameRE.MatchString(s))
	case pAlpha:
		return alphaRE.MatchString(s)
	case pAlphaNumExt, pSafeDir:
		return alnumExtRE.MatchString(s)
	case pPlugin:
		return pluginRE.MatchString(s) && !strings.Contains(s, "__")
	case pTimezone:
		return timezoneRE.MatchString(s)
	}
	return false
}

// cleanInt is clean_param(PARAM_INT): the leading integer, or 0.
func cleanInt(s string) int64 {
	s = strings.TrimSpace(s)
	end := 0
	for end < len(s) && (s[end] >= '0' && s[end] <= '9' || end == 0 && s[end] == '-') {
		end++
	}
	n, _ := strconv.ParseInt(s[:end], 10, 64)
	return n
}

// cleanUsername is clean_param(PARAM_USERNAME).
func cleanUsername(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	return regexp.MustCompile(`[^-.@_a-z0-9]`).ReplaceAllString(s, "")
}

// schemas are the parameters of the modelled functions, as their
// execute_parameters() declare them.
var schemas = map[string]single{
	"core_user_create_users": fields(req("users", list(fields(
		opt("createpassword", v(pBool)),
		req("username", v(pUsername)),
		opt("auth", v(pPlugin)),
		opt("password", v(pRaw)),
		req("firstname", v(pNoTags)),
		req("lastname", v(pNoTags)),
		req("email", v(pRawTrimmed)),
		opt("maildisplay", v(pInt)),
		opt("city", v(pNoTags)),
		opt("country", v(pAlpha)),
		opt("timezone", v(pTimezone)),
		opt("description", v(pRaw)),
		opt("firstnamephonetic", v(pNoTags)),
		opt("lastnamephonetic", v(pNoTags)),
		opt("middlename", v(pNoTags)),
		opt("alternatename", v(pNoTags)),
		opt("interests", v(pText)),
		opt("idnumber", v(pRaw)),
		opt("institution", v(pText)),
		opt("department", v(pText)),
		opt("phone1", v(pNoTags)),
		opt("phone2", v(pNoTags)),
		opt("address", v(pText)),
		opt("lang", v(pSafeDir)),
		opt("calendartype", v(pPlugin)),
		opt("theme", v(pPlugin)),
		opt("mailformat", v(pInt)),
		opt("customfields", list(fields(req("type", v(pAlphaNumExt)), req("value", v(pRaw))))),
		opt("preferences", list(fields(req("type", v(pRaw)), req("value", v(pRaw))))),
	)))),
	"core_user_get_users_by_field": fields(req("field", v(pAlpha)), req("values", list(v(pRaw)))),
	"enrol_manual_enrol_users": fields(req("enrolments", list(fields(
		req("roleid", v(pInt)), req("userid", v(pInt)), req("courseid", v(pInt)),
		opt("timestart", v(pInt)), opt("timeend", v(pInt)), opt("suspend", v(pInt)),
	)))),
	"core_course_get_courses_by_field": fields(opt("field", v(pAlpha)), opt("value", v(pRaw))),
	"core_enrol_get_enrolled_users": fields(req("courseid", v(pInt)),
		opt("options", list(fields(req("name", v(pAlphaNumExt)), req("value", v(pRaw)))))),
	"core_completion_get_activities_completion_status": fields(req("courseid", v(pInt)), req("userid", v(pInt))),
	bulkFunction:                    fields(req("courseid", v(pInt)), opt("userids", list(v(pInt)))),
	"core_webservice_get_site_info": fields(opt("serviceshortnames", list(v(pAlphaNumExt)))),
}
