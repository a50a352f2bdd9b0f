package moodleevent

import (
	"fmt"
	"math"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"unicode"

	"github.com/go-playground/validator/v10"
)

// maxUnix is the last second of year 9999: later times cannot be stored
// (PostgreSQL's timestamptz, SQLite's microseconds), so they are refused at
// the door rather than failing in a handler.
const maxUnix = 253402300799

// percentTolerance is how far progress.percent may stray from
// scorm_completed / scorm_total × 100: the plugin may round it.
const percentTolerance = 1.0

// eventID is the contract's id: 1 to 64 characters of [A-Za-z0-9._:-].
var eventID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)

// Tags of the cross-field progress rules, reported by progressRules.
const (
	tagCompletedOverTotal = "progress_completed_over_total"
	tagPercentNotNull     = "progress_percent_not_null"
	tagPercentNull        = "progress_percent_null"
	tagPercentInconsist   = "progress_percent_inconsistent"
)

// newValidator builds the validator of the wire structs: field names are
// their JSON names, and the json_* tags check the raw values' JSON types.
func newValidator() *validator.Validate {
	v := validator.New()
	v.RegisterTagNameFunc(jsonName)
	rules := map[string]validator.Func{
		"json_int":       isInt,
		"json_int_min":   intMin,
		"json_int_max":   intMax,
		"json_int_oneof": intOneOf,
		"json_unix":      isUnix,
		"json_string":    isString,
		"json_strings":   isStrings,
		"json_number":    isNumber,
		"json_percent":   isPercent,
		"json_object":    isObject,
		"event_id":       isEventID,
		"event_name":     isEventName,
	}
	for tag, fn := range rules {
		if err := v.RegisterValidation(tag, fn); err != nil {
			// Only an empty tag or a nil function fails: a bug here.
			panic(fmt.Sprintf("moodleevent: register %s: %v", tag, err))
		}
	}
	v.RegisterStructValidation(progressRules, wireProgress{})
	return v
}

// jsonName names a field as the JSON does, so errors carry JSON paths.
func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "-" {
		return ""
	}
	return name
}

// raw is the value under validation. Every rule but required passes an
// absent value: whether a field must be there is required's business.
func raw(fl validator.FieldLevel) value { return value(fl.Field().Bytes()) }

func isInt(fl validator.FieldLevel) bool {
	v := raw(fl)
	_, ok := v.integer()
	return v == nil || ok
}

func intMin(fl validator.FieldLevel) bool {
	n, ok := raw(fl).integer()
	return !ok || n >= paramInt(fl.Param())
}

func intMax(fl validator.FieldLevel) bool {
	n, ok := raw(fl).integer()
	return !ok || n <= paramInt(fl.Param())
}

func intOneOf(fl validator.FieldLevel) bool {
	n, ok := raw(fl).integer()
	if !ok {
		return true
	}
	for _, p := range strings.Fields(fl.Param()) {
		if n == paramInt(p) {
			return true
		}
	}
	return false
}

func isUnix(fl validator.FieldLevel) bool {
	n, ok := raw(fl).integer()
	return !ok || (n >= 0 && n <= maxUnix)
}

// isString refuses NUL characters as well: PostgreSQL cannot store them in
// text, and a poisoned event would only fail later, in a handler.
func isString(fl validator.FieldLevel) bool {
	v := raw(fl)
	s, ok := v.text()
	return v == nil || (ok && !strings.ContainsRune(s, 0))
}

func isStrings(fl validator.FieldLevel) bool {
	v := raw(fl)
	_, ok := v.texts()
	return v == nil || ok
}

func isNumber(fl validator.FieldLevel) bool {
	v := raw(fl)
	_, ok := v.number()
	return v == nil || ok
}

func isPercent(fl validator.FieldLevel) bool {
	f, ok := raw(fl).number()
	return !ok || (f >= 0 && f <= 100)
}

func isObject(fl validator.FieldLevel) bool {
	v := raw(fl)
	return v == nil || v[0] == '{'
}

func isEventID(fl validator.FieldLevel) bool {
	s, ok := raw(fl).text()
	return !ok || eventID.MatchString(s)
}

// isEventName accepts any name (an unknown one is recorded and ignored) but
// an empty one or one with control characters, which no event has and
// which could not be stored as text.
func isEventName(fl validator.FieldLevel) bool {
	s, ok := raw(fl).text()
	return !ok || (s != "" && !strings.ContainsFunc(s, unicode.IsControl))
}

// progressRules checks what ties the progress fields together; each rule
// runs only when the fields it reads are valid on their own, so that one
// mistake is reported once.
func progressRules(sl validator.StructLevel) {
	p := sl.Current().Interface().(wireProgress)
	total, totalOK := count(p.Total)
	completed, completedOK := count(p.Completed)
	if !totalOK {
		return
	}
	if completedOK && completed > total {
		sl.ReportError(p.Completed, "scorm_completed", "Completed", tagCompletedOverTotal, strconv.FormatInt(total, 10))
		return
	}
	percent, percentOK := p.Percent.number()
	switch {
	case p.Percent != nil && !percentOK:
		return // not a number: reported by json_number
	case total == 0 && p.Percent != nil:
		sl.ReportError(p.Percent, "percent", "Percent", tagPercentNull, "")
	case total > 0 && p.Percent == nil:
		sl.ReportError(p.Percent, "percent", "Percent", tagPercentNotNull, "")
	case total > 0 && completedOK && percent >= 0 && percent <= 100:
		want := float64(completed) * 100 / float64(total)
		if math.Abs(percent-want) > percentTolerance {
			sl.ReportError(p.Percent, "percent", "Percent", tagPercentInconsist, strconv.FormatFloat(want, 'f', 2, 64))
		}
	}
}

// maxCount bounds the SCORM counts, as json_int_max on wireProgress: the
// stores keep them in 32-bit integer columns.
const maxCount = math.MaxInt32

// count is v as a SCORM count when it is a valid one on its own.
func count(v value) (int64, bool) {
	n, ok := v.integer()
	return n, ok && n >= 0 && n <= maxCount
}

// paramInt reads a tag parameter; the parameters are constants of this
// package, so a bad one is a bug.
func paramInt(p string) int64 {
	n, err := strconv.ParseInt(p, 10, 64)
	if err != nil {
		panic(fmt.Sprintf("moodleevent: bad tag parameter %q", p))
	}
	return n
}

// message says what is wrong with a field, for the person who reads the
// 422 answer. event is the event's name.
func message(fe validator.FieldError, event string) string {
	v, _ := fe.Value().(value)
	switch fe.Tag() {
	case "required":
		return "is required"
	case "required_unless":
		return fmt.Sprintf("is required for %s events", event)
	case "json_int":
		return intProblem(v)
	case "json_int_min":
		switch fe.Param() {
		case "0":
			return "must not be negative"
		case "1":
			return "must be a positive integer"
		}
		return "must be at least " + fe.Param()
	case "json_int_max":
		return "must be at most " + fe.Param()
	case "json_int_oneof":
		return "must be " + strings.Join(strings.Fields(fe.Param()), " or ")
	case "json_unix":
		return fmt.Sprintf("must be Unix seconds from 0 to %d", int64(maxUnix))
	case "json_string":
		if _, ok := v.text(); ok {
			return "must not contain the NUL character"
		}
		return "must be a string, not " + v.kind()
	case "json_strings":
		return "must be an array of strings"
	case "json_number":
		if v.isNumber() {
			return "is out of range"
		}
		return "must be a number, not " + v.kind()
	case "json_percent":
		return "must be between 0 and 100"
	case "json_object":
		return "must be an object, not " + v.kind()
	case "event_id":
		return "must be 1 to 64 characters of A-Z, a-z, 0-9, '.', '_', ':' and '-'"
	case "event_name":
		if s, _ := v.text(); s == "" {
			return "must not be empty"
		}
		return "must not contain control characters"
	}
	return progressMessage(fe)
}

func progressMessage(fe validator.FieldError) string {
	switch fe.Tag() {
	case tagCompletedOverTotal:
		return fmt.Sprintf("must not exceed scorm_total (%s)", fe.Param())
	case tagPercentNull:
		return "must be null when scorm_total is 0"
	case tagPercentNotNull:
		return "must be a number when scorm_total is above 0"
	case tagPercentInconsist:
		return fmt.Sprintf("must be scorm_completed / scorm_total × 100 (%s), within %g", fe.Param(), percentTolerance)
	}
	return "is invalid (" + fe.Tag() + ")"
}

// intProblem explains why v is not an integer.
func intProblem(v value) string {
	if !v.isNumber() {
		return "must be an integer, not " + v.kind()
	}
	if strings.ContainsAny(string(v), ".eE") {
		if len(v) <= 32 {
			return "must be an integer, not " + string(v)
		}
		return "must be an integer, not a number with a fraction or an exponent"
	}
	return "is out of range for a 64-bit integer"
}
