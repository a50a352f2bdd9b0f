package moodle

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/acme/notifier/app"
)

// Kinds of Moodle failure the rest of the code can act on. A Moodle answer
// that carries an exception is an *Error, which errors.Is matches against
// these (see (*Error).Is for the mapping).
var (
	// ErrNotConfigured: MOODLE_URL or MOODLE_TOKEN is empty.
	ErrNotConfigured = errors.New("moodle is not configured (MOODLE_URL and MOODLE_TOKEN)")
	// ErrInvalidToken: the token is missing, unknown or expired.
	ErrInvalidToken = errors.New("moodle: invalid web service token")
	// ErrAccessDenied: the token's user lacks a capability, or the service
	// or token is restricted (IP, user).
	ErrAccessDenied = errors.New("moodle: access denied")
	// ErrInvalidParameter: Moodle refused the parameters (missing, wrong
	// type, unknown key, an existing username or email, a weak password).
	ErrInvalidParameter = errors.New("moodle: invalid parameter")
	// ErrPasswordPolicy: the password breaks the site's password policy.
	// It also matches ErrInvalidParameter.
	ErrPasswordPolicy = errors.New("moodle: password breaks the password policy")
	// ErrMissingFunction: the function is not in the token's service, or
	// does not exist on the site (plugin not installed).
	ErrMissingFunction = errors.New("moodle: web service function not available")
	// ErrNotFound: a user, course or other record named in the call does
	// not exist (or the user is not enrolled where the call needs it).
	ErrNotFound = errors.New("moodle: record not found")
	// ErrBadResponse: the answer is neither Moodle's JSON nor one of its
	// error shapes (wrong MOODLE_URL, a proxy page, PHP notices printed
	// into the answer).
	ErrBadResponse = errors.New("moodle: unexpected response")
	// ErrOutcomeUnknown: a write (user creation, enrolment) may or may not
	// have been applied: the request was sent but no valid answer came back.
	// Such errors also match app.ErrUnavailable or ErrBadResponse; writes are
	// never retried here, the caller checks Moodle before repeating one.
	ErrOutcomeUnknown = errors.New("moodle: outcome of the write is unknown")
)

// Error is an exception Moodle answered (with HTTP 200, as it always does).
type Error struct {
	Function  string // wsfunction called
	Exception string // PHP class, e.g. core\exception\invalid_parameter_exception
	ErrorCode string // e.g. invalidtoken; for password policy errors, HTML text
	Message   string
	DebugInfo string // only when the site has developer debugging on
}

func (e *Error) Error() string {
	code := e.ErrorCode
	if !isErrorCode(code) {
		code = e.Exception
	}
	return fmt.Sprintf("moodle %s: %s [%s]", e.Function, e.Detail(), code)
}

// Detail is Moodle's message as plain text (HTML tags and the "error/"
// prefix of unknown string identifiers removed).
func (e *Error) Detail() string {
	msg := e.Message
	if !isErrorCode(e.ErrorCode) {
		// moodle_exception($text): the code is the text and the message is
		// "error/<text>".
		msg = e.ErrorCode
	}
	msg = tagRE.ReplaceAllString(msg, " ")
	return strings.Join(strings.Fields(msg), " ")
}

// Is matches e against the package's kinds:
//
//	errorcode / exception                          kinds
//	invalidtoken                                   ErrInvalidToken
//	accessexception (webservice_access_exception)  ErrMissingFunction, ErrAccessDenied
//	  ... with debuginfo about the token            ErrInvalidToken
//	  ... with debuginfo about an IP restriction    ErrAccessDenied
//	nopermissions, requireloginerror, accessdenied,
//	  wsusercannotassign, wscannotenrol, wsaccess*,
//	  required_capability_exception                ErrAccessDenied
//	invalidparameter (invalid_parameter_exception) ErrInvalidParameter
//	HTML or free text as errorcode (password)      ErrPasswordPolicy, ErrInvalidParameter
//	invalidrecord, invalidrecordunknown,
//	  invalidcourseid, invaliduser, invaliduserid,
//	  invalidcoursemodule, cannotfindsco,
//	  usernotenroled, dml_missing_record_exception ErrNotFound
//	  ... whose debuginfo names external_functions ErrMissingFunction (not ErrNotFound)
//	sitemaintenance, dbconnectionfailed            app.ErrUnavailable (retried for reads)
//
// Moodle answers an unknown wsfunction exactly like an unknown record
// (invalidrecordunknown) unless debugging is on, so ErrNotFound from a
// plugin function may mean the plugin is absent: CourseProgress handles that.
func (e *Error) Is(target error) bool {
	for _, k := range e.kinds() {
		if k == target {
			return true
		}
	}
	return false
}

func (e *Error) kinds() []error {
	code, exc, debug := e.ErrorCode, e.Exception, e.DebugInfo
	switch {
	case code == "invalidtoken":
		return []error{ErrInvalidToken}
	case code == "accessexception" || strings.HasSuffix(exc, "webservice_access_exception"):
		switch {
		case strings.Contains(strings.ToLower(debug), "token"):
			return []error{ErrInvalidToken}
		case strings.Contains(debug, "IP"):
			return []error{ErrAccessDenied}
		}
		return []error{ErrMissingFunction, ErrAccessDenied}
	case strings.Contains(debug, "external_functions"):
		return []error{ErrMissingFunction}
	case accessCodes[code] || strings.HasPrefix(code, "wsaccessuser") ||
		strings.HasSuffix(exc, "required_capability_exception") || strings.HasSuffix(exc, "require_login_exception"):
		return []error{ErrAccessDenied}
	case code != "" && !isErrorCode(code):
		if strings.Contains(strings.ToLower(code), "password") {
			return []error{ErrPasswordPolicy, ErrInvalidParameter}
		}
		return []error{ErrInvalidParameter}
	case code == "invalidparameter" || strings.HasSuffix(exc, "invalid_parameter_exception"):
		return []error{ErrInvalidParameter}
	case notFoundCodes[code] || strings.HasSuffix(exc, "dml_missing_record_exception"):
		return []error{ErrNotFound}
	case transientCodes[code]:
		return []error{app.ErrUnavailable}
	}
	return nil
}

var (
	accessCodes = map[string]bool{
		"nopermissions": true, "requireloginerror": true, "accessdenied": true, "wsusercannotassign": true,
		"wscannotenrol": true, "forbiddenwsuser": true, "usernotfullysetup": true, "sitepolicynotagreed": true,
	}
	notFoundCodes = map[string]bool{
		"invalidrecord": true, "invalidrecordunknown": true, "invalidcourseid": true, "invaliduser": true,
		"invaliduserid": true, "invalidcoursemodule": true, "cannotfindsco": true, "usernotenroled": true,
	}
	transientCodes = map[string]bool{"sitemaintenance": true, "dbconnectionfailed": true}

	codeRE = regexp.MustCompile(`^[a-z0-9_:/.-]+$`)
	tagRE  = regexp.MustCompile(`<[^>]*>|^error/`)
)

// isErrorCode reports whether s looks like a Moodle string identifier rather
// than a text that moodle_exception($text) put in the code.
func isErrorCode(s string) bool { return codeRE.MatchString(s) }

// unavailableError is a transport failure or a 5xx: worth retrying later.
type unavailableError struct {
	fn, what string
	err      error
	unknown  bool // a write that may have been applied
}

func (e *unavailableError) Error() string {
	msg := fmt.Sprintf("moodle %s: %s", e.fn, e.what)
	if e.err != nil {
		msg += ": " + e.err.Error()
	}
	if e.unknown {
		msg += " (the write may have been applied)"
	}
	return msg
}

func (e *unavailableError) Unwrap() []error {
	errs := []error{app.ErrUnavailable}
	if e.unknown {
		errs = append(errs, ErrOutcomeUnknown)
	}
	if e.err != nil {
		errs = append(errs, e.err)
	}
	return errs
}

// badResponseError is an answer that is not Moodle's JSON.
type badResponseError struct {
	fn, what string
	unknown  bool
}

func (e *badResponseError) Error() string {
	msg := fmt.Sprintf("moodle %s: unexpected response: %s", e.fn, e.what)
	if e.unknown {
		msg += " (the write may have been applied)"
	}
	return msg
}

func (e *badResponseError) Unwrap() []error {
	if e.unknown {
		return []error{ErrBadResponse, ErrOutcomeUnknown}
	}
	return []error{ErrBadResponse}
}
