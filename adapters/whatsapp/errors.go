package whatsapp

import (
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// ErrorClass says what an error answer from the Cloud API proves about a
// send attempt.
type ErrorClass int

const (
	// ClassRetryLater: Meta refused before sending (throughput and rate
	// limits); the same row is sent again after a back-off.
	ClassRetryLater ErrorClass = iota + 1
	// ClassPermanent: Meta refused the message for good; the row fails with
	// the code and is never sent again.
	ClassPermanent
	// ClassUnknown: Meta's own server error; the message may or may not have
	// gone, so the row fails with outcome_unknown and is never re-sent
	// automatically (the Messages API has no idempotency key).
	ClassUnknown
)

func (c ErrorClass) String() string {
	switch c {
	case ClassRetryLater:
		return "retry-later"
	case ClassPermanent:
		return "permanent"
	case ClassUnknown:
		return "unknown"
	}
	return "ErrorClass(" + strconv.Itoa(int(c)) + ")"
}

// MetaError is one row of Meta's table of Cloud API error codes
// (developers.facebook.com, WhatsApp Business Platform, "Error codes"): the
// codes First..Last, what the notifier does with them, and what Meta says
// they mean.
type MetaError struct {
	First, Last int
	Class       ErrorClass
	// HTTPStatus is the status Meta answers the code with (documented
	// there); the fake Cloud API uses it. The client never decides on it.
	HTTPStatus int
	Title      string
	Meaning    string
	// Backoff is the first pause before a retry-later code is sent again;
	// it doubles with every attempt up to MaxBackoff.
	Backoff, MaxBackoff time.Duration
}

// metaErrors is the table, by code. Codes Meta does not list here are
// classified by classifyUnlisted.
var metaErrors = []MetaError{
	// Throttling: Meta proves nothing was sent.
	{First: 4, Class: ClassRetryLater, HTTPStatus: http.StatusBadRequest, Title: "API Too Many Calls",
		Meaning: "The app has reached its API call rate limit.", Backoff: time.Minute, MaxBackoff: time.Hour},
	{First: 80007, Class: ClassRetryLater, HTTPStatus: http.StatusBadRequest, Title: "Rate limit issues",
		Meaning: "The WhatsApp Business Account has reached its rate limit.", Backoff: time.Minute, MaxBackoff: time.Hour},
	{First: 130429, Class: ClassRetryLater, HTTPStatus: http.StatusBadRequest, Title: "Rate limit hit",
		Meaning: "Cloud API message throughput has been reached.", Backoff: 2 * time.Second, MaxBackoff: 5 * time.Minute},
	{First: 131056, Class: ClassRetryLater, HTTPStatus: http.StatusBadRequest,
		Title:   "(Business Account, Consumer Account) pair rate limit hit",
		Meaning: "Too many messages sent from this phone number to the same recipient in a short period of time.",
		Backoff: 6 * time.Second, MaxBackoff: 10 * time.Minute},
	{First: 131057, Class: ClassRetryLater, HTTPStatus: http.StatusInternalServerError, Title: "Account in maintenance mode",
		Meaning: "The business account is in maintenance mode, for example during a throughput upgrade; nothing is sent.",
		Backoff: time.Minute, MaxBackoff: 30 * time.Minute},

	// Throttling that waiting does not cure: the number's quality or tier.
	{First: 131048, Class: ClassPermanent, HTTPStatus: http.StatusBadRequest, Title: "Spam rate limit hit",
		Meaning: "Restricted because too many previous messages were blocked or flagged as spam; check the quality rating."},
	{First: 133016, Class: ClassPermanent, HTTPStatus: http.StatusBadRequest,
		Title:   "Account register deregister rate limit exceeded",
		Meaning: "Too many registration attempts for this phone number in a short period of time."},

	// Authorization: the configuration is wrong; every send fails until fixed.
	{First: 0, Class: ClassPermanent, HTTPStatus: http.StatusUnauthorized, Title: "AuthException",
		Meaning: "Meta could not authenticate the app user (token expired, invalidated or revoked)."},
	{First: 3, Class: ClassPermanent, HTTPStatus: http.StatusInternalServerError, Title: "API Method",
		Meaning: "Capability or permissions issue."},
	{First: 10, Class: ClassPermanent, HTTPStatus: http.StatusForbidden, Title: "Permission Denied",
		Meaning: "Permission is either not granted or has been removed."},
	{First: 190, Class: ClassPermanent, HTTPStatus: http.StatusUnauthorized, Title: "Access token has expired",
		Meaning: "The access token has expired or is invalid."},
	{First: 200, Last: 299, Class: ClassPermanent, HTTPStatus: http.StatusForbidden, Title: "API Permission",
		Meaning: "Permission is either not granted or has been removed."},

	// Integrity.
	{First: 368, Class: ClassPermanent, HTTPStatus: http.StatusForbidden, Title: "Temporarily blocked for policies violations",
		Meaning: "The WhatsApp Business Account is restricted or disabled for violating a platform policy."},
	{First: 130497, Class: ClassPermanent, HTTPStatus: http.StatusForbidden,
		Title:   "Business account is restricted from messaging users in this country",
		Meaning: "The business cannot message users in the recipient's country."},
	{First: 131031, Class: ClassPermanent, HTTPStatus: http.StatusForbidden, Title: "Account has been locked",
		Meaning: "The business account is restricted or disabled for a policy violation, or its data could not be verified."},

	// Meta's own failures: the message may have gone.
	{First: 1, Class: ClassUnknown, HTTPStatus: http.StatusBadRequest, Title: "API Unknown",
		Meaning: "Invalid request or possible server error."},
	{First: 2, Class: ClassUnknown, HTTPStatus: http.StatusServiceUnavailable, Title: "API Service",
		Meaning: "Temporary downtime or overload."},
	{First: 131000, Class: ClassUnknown, HTTPStatus: http.StatusInternalServerError, Title: "Something went wrong",
		Meaning: "The message failed to send because of an unknown error."},
	{First: 131016, Class: ClassUnknown, HTTPStatus: http.StatusServiceUnavailable, Title: "Service unavailable",
		Meaning: "A service is temporarily unavailable."},

	// Requests and recipients Meta refuses.
	{First: 33, Class: ClassPermanent, HTTPStatus: http.StatusBadRequest, Title: "Parameter value is not valid",
		Meaning: "The business phone number has been deleted."},
	{First: 100, Class: ClassPermanent, HTTPStatus: http.StatusBadRequest, Title: "Invalid parameter",
		Meaning: "The request included unsupported or misspelled parameters."},
	{First: 130472, Class: ClassPermanent, HTTPStatus: http.StatusBadRequest, Title: "User's number is part of an experiment",
		Meaning: "The message was not sent as part of an experiment."},
	{First: 131005, Class: ClassPermanent, HTTPStatus: http.StatusForbidden, Title: "Access denied",
		Meaning: "Permission is either not granted or has been removed."},
	{First: 131008, Class: ClassPermanent, HTTPStatus: http.StatusBadRequest, Title: "Required parameter is missing",
		Meaning: "The request is missing a required parameter."},
	{First: 131009, Class: ClassPermanent, HTTPStatus: http.StatusBadRequest, Title: "Parameter value is not valid",
		Meaning: "One or more parameter values are invalid."},
	{First: 131021, Class: ClassPermanent, HTTPStatus: http.StatusBadRequest, Title: "Recipient cannot be sender",
		Meaning: "The sender and the recipient phone numbers are the same."},
	{First: 131026, Class: ClassPermanent, HTTPStatus: http.StatusBadRequest, Title: "Message undeliverable",
		Meaning: "The recipient is not on WhatsApp, has not accepted the terms, or uses an old client."},
	{First: 131037, Class: ClassPermanent, HTTPStatus: http.StatusBadRequest,
		Title:   "WhatsApp provided number needs display name approval before message can be sent",
		Meaning: "The business phone number's display name is not approved yet."},
	{First: 131042, Class: ClassPermanent, HTTPStatus: http.StatusBadRequest, Title: "Business eligibility payment issue",
		Meaning: "A payment issue (no payment method, credit line over its limit, account suspended)."},
	{First: 131045, Class: ClassPermanent, HTTPStatus: http.StatusBadRequest, Title: "Incorrect certificate",
		Meaning: "The phone number is not registered correctly (certificate)."},
	{First: 131047, Class: ClassPermanent, HTTPStatus: http.StatusBadRequest, Title: "Re-engagement message",
		Meaning: "More than 24 hours have passed since the recipient last replied; only a template can be sent."},
	{First: 131049, Class: ClassPermanent, HTTPStatus: http.StatusBadRequest,
		Title:   "Meta chose not to deliver",
		Meaning: "The message was not delivered to maintain healthy ecosystem engagement (per-user marketing limit)."},
	{First: 131050, Class: ClassPermanent, HTTPStatus: http.StatusBadRequest, Title: "User stopped marketing messages",
		Meaning: "The recipient has chosen to stop receiving marketing messages from this business."},
	{First: 131051, Class: ClassPermanent, HTTPStatus: http.StatusBadRequest, Title: "Unsupported message type",
		Meaning: "The message type is not supported."},
	{First: 131052, Class: ClassPermanent, HTTPStatus: http.StatusBadRequest, Title: "Media download error",
		Meaning: "The media the user sent could not be downloaded."},
	{First: 131053, Class: ClassPermanent, HTTPStatus: http.StatusBadRequest, Title: "Media upload error",
		Meaning: "The media of the message could not be uploaded."},
	{First: 132000, Class: ClassPermanent, HTTPStatus: http.StatusBadRequest, Title: "Template Param Count Mismatch",
		Meaning: "The number of parameters does not match the template's."},
	{First: 132001, Class: ClassPermanent, HTTPStatus: http.StatusNotFound, Title: "Template does not exist",
		Meaning: "The template does not exist in this language or has not been approved."},
	{First: 132005, Class: ClassPermanent, HTTPStatus: http.StatusBadRequest, Title: "Template Hydrated Text Too Long",
		Meaning: "The text with its parameters is too long."},
	{First: 132007, Class: ClassPermanent, HTTPStatus: http.StatusBadRequest,
		Title: "Template Format Character Policy Violated", Meaning: "The template content violates a WhatsApp policy."},
	{First: 132012, Class: ClassPermanent, HTTPStatus: http.StatusBadRequest, Title: "Template Parameter Format Mismatch",
		Meaning: "A parameter has the wrong format."},
	{First: 132015, Class: ClassPermanent, HTTPStatus: http.StatusBadRequest, Title: "Template is Paused",
		Meaning: "The template is paused because of its low quality."},
	{First: 132016, Class: ClassPermanent, HTTPStatus: http.StatusBadRequest, Title: "Template is Disabled",
		Meaning: "The template was paused too many times and is disabled for good."},
	{First: 132000, Last: 132099, Class: ClassPermanent, HTTPStatus: http.StatusBadRequest, Title: "Template error",
		Meaning: "The template or its parameters cannot be used (template and flow errors)."},
	{First: 133000, Last: 133015, Class: ClassPermanent, HTTPStatus: http.StatusBadRequest,
		Title:   "Phone number registration error",
		Meaning: "The business phone number is not registered or its registration is incomplete."},
	{First: 135000, Class: ClassPermanent, HTTPStatus: http.StatusBadRequest, Title: "Generic user error",
		Meaning: "The message failed because of an unknown error with the request parameters."},
}

// LookupError returns the table's row for a Meta error code: the single
// code's row before a range's.
func LookupError(code int) (MetaError, bool) {
	var found *MetaError
	for i := range metaErrors {
		e := &metaErrors[i]
		switch {
		case e.Last == 0 && e.First == code:
			return *e, true
		case e.Last != 0 && code >= e.First && code <= e.Last && found == nil:
			found = e
		}
	}
	if found != nil {
		return *found, true
	}
	return MetaError{}, false
}

// MetaErrors lists the table (a copy), for documentation and tests.
func MetaErrors() []MetaError {
	return append([]MetaError(nil), metaErrors...)
}

// Classify decides what a Meta error answer proves: by its code, from the
// table; a code the table lacks is a refusal when Meta answered 4xx (it
// turned the request down) and an unknown outcome otherwise.
func Classify(code, httpStatus int) ErrorClass {
	if e, ok := LookupError(code); ok {
		return e.Class
	}
	if httpStatus >= 400 && httpStatus < 500 {
		return ClassPermanent
	}
	return ClassUnknown
}

// String names the code as the admin API shows it.
func (e MetaError) String() string {
	if e.Last != 0 {
		return fmt.Sprintf("%d-%d %s (%s)", e.First, e.Last, e.Title, e.Class)
	}
	return fmt.Sprintf("%d %s (%s)", e.First, e.Title, e.Class)
}
