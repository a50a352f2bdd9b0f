// Package moodleevent reads the body of a Moodle webhook (schema 1, CONTRACT
// section 3) into an app.MoodleEvent, and says precisely what is wrong with
// a body that breaks the schema: every bad field, by its JSON path.
package moodleevent

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/go-playground/validator/v10"

	"github.com/acme/notifier/app"
	"github.com/acme/notifier/domain"
)

// ErrSyntax is the error of a body that is not JSON (HTTP 400).
var ErrSyntax = errors.New("the body is not JSON")

// FieldError names one bad field by its JSON path (user.id, progress.percent;
// the empty path is the body itself).
type FieldError struct {
	Field   string
	Message string
}

// ValidationError is the error of JSON that breaks the schema (HTTP 422).
type ValidationError struct {
	Errors []FieldError
	// ID is the body's id when the body is an object whose id is a string
	// (valid or not), read as a valid event's would be: the webhook checks
	// it against webhook-id before it reports the errors.
	ID string
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Errors))
	for i, f := range e.Errors {
		parts[i] = f.Message
		if f.Field != "" {
			parts[i] = f.Field + ": " + f.Message
		}
	}
	return "moodleevent: invalid event: " + strings.Join(parts, "; ")
}

// timezoneDefault is Moodle's "the site's default time zone".
const timezoneDefault = "99"

// Decoder decodes and validates event bodies. It is safe for concurrent
// use and never changes after NewDecoder.
type Decoder struct {
	validate *validator.Validate
}

// NewDecoder builds a Decoder.
func NewDecoder() *Decoder {
	return &Decoder{validate: newValidator()}
}

// Decode reads a schema-1 body. Its error is either ErrSyntax (wrapped) when
// the body is not JSON, or a *ValidationError naming every field that breaks
// the schema. For an event name the notifier does not know, only the
// envelope is checked and the event holds just ID, Name and OccurredAt.
// Member names match exactly, and members the schema does not name are
// ignored (forward compatibility).
func (d *Decoder) Decode(body []byte) (app.MoodleEvent, error) {
	var (
		env  wireEnvelope
		rest wireBody
	)
	if err := decodeBody(body, &env, &rest); err != nil {
		return app.MoodleEvent{}, err
	}
	id, _ := env.ID.text()
	errs := d.check("", &env, "")
	name, _ := env.Event.text()
	if !app.KnownEvent(name) {
		if len(errs) > 0 {
			return app.MoodleEvent{}, &ValidationError{Errors: errs, ID: id}
		}
		return app.MoodleEvent{ID: env.ID.string(), Name: name, OccurredAt: env.OccurredAt.unix()}, nil
	}
	rest.EventName = name
	errs = append(errs, d.check("", &rest, name)...)
	var b blocks
	errs = append(errs, d.decodeBlocks(&rest, &b)...)
	if len(errs) > 0 {
		return app.MoodleEvent{}, &ValidationError{Errors: errs, ID: id}
	}
	return toEvent(&env, &b), nil
}

// decodeBody decodes the body, a JSON object, into the wire structs.
func decodeBody(body []byte, dst ...any) error {
	err := decodeMembers(body, dst...)
	var syntax *json.SyntaxError
	switch {
	case errors.As(err, &syntax):
		return fmt.Errorf("moodleevent: %w: %w", ErrSyntax, err)
	case err != nil && !startsObject(body):
		return &ValidationError{Errors: []FieldError{{Field: "", Message: "the body must be a JSON object"}}}
	case err != nil:
		// An object decodes into values whatever it holds: nothing else fails.
		return fmt.Errorf("moodleevent: decode: %w", err)
	case !startsObject(body):
		return &ValidationError{Errors: []FieldError{{Field: "", Message: "the body must be a JSON object"}}}
	}
	return nil
}

func startsObject(body []byte) bool {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	return len(trimmed) > 0 && trimmed[0] == '{'
}

// check validates one wire struct and names its bad fields under prefix.
func (d *Decoder) check(prefix string, s any, event string) []FieldError {
	err := d.validate.Struct(s)
	if err == nil {
		return nil
	}
	var verrs validator.ValidationErrors
	if !errors.As(err, &verrs) {
		// Only a bad argument (not a struct) gets here: a bug.
		return []FieldError{{Field: strings.TrimSuffix(prefix, "."), Message: "cannot be checked: " + err.Error()}}
	}
	out := make([]FieldError, len(verrs))
	for i, fe := range verrs {
		out[i] = FieldError{Field: prefix + fe.Field(), Message: message(fe, event)}
	}
	return out
}

// blocks are the event's optional parts that are objects, decoded.
type blocks struct {
	user      *wireUser
	course    *wireCourse
	enrolment *wireEnrolment
	progress  *wireProgress
}

// decodeBlocks decodes and checks each block that is an object; one that
// is not was reported by the body's json_object rule.
func (d *Decoder) decodeBlocks(w *wireBody, b *blocks) []FieldError {
	var errs []FieldError
	errs = append(errs, decodeBlock(d, "user", w.User, &b.user, w.EventName)...)
	errs = append(errs, decodeBlock(d, "course", w.Course, &b.course, w.EventName)...)
	errs = append(errs, decodeBlock(d, "enrolment", w.Enrolment, &b.enrolment, w.EventName)...)
	errs = append(errs, decodeBlock(d, "progress", w.Progress, &b.progress, w.EventName)...)
	return errs
}

func decodeBlock[T any](d *Decoder, path string, raw value, dst **T, event string) []FieldError {
	if raw == nil || raw[0] != '{' {
		return nil
	}
	block := new(T)
	if err := decodeMembers(raw, block); err != nil {
		// An object decodes into values whatever it holds: nothing else fails.
		return []FieldError{{Field: path, Message: "cannot be read: " + err.Error()}}
	}
	*dst = block
	return d.check(path+".", block, event)
}

// toEvent converts a valid event.
func toEvent(env *wireEnvelope, b *blocks) app.MoodleEvent {
	name, _ := env.Event.text()
	ev := app.MoodleEvent{ID: env.ID.string(), Name: name, OccurredAt: env.OccurredAt.unix()}
	if u := b.user; u != nil {
		ev.User = &app.MoodleUser{
			ID: u.ID.int64(), Username: u.Username.string(), FirstName: u.FirstName.string(),
			LastName: u.LastName.string(), Email: u.Email.string(), Phone: u.Phone.string(), Lang: u.Lang.string(),
			Timezone: timezone(u.Timezone.string()), Roles: roles(u.Roles),
		}
	}
	if c := b.course; c != nil {
		ev.Course = &app.MoodleCourse{
			ID: c.ID.int64(), ShortName: c.ShortName.string(), FullName: c.FullName.string(),
			StartDate: c.StartDate.unix(), EndDate: c.EndDate.unix(),
		}
	}
	if e := b.enrolment; e != nil {
		ev.Enrolment = &app.MoodleEnrolment{
			ID: e.ID.int64(), Status: domain.EnrolmentStatus(e.Status.int64()),
			TimeStart: e.TimeStart.unix(), TimeEnd: e.TimeEnd.unix(),
		}
	}
	if p := b.progress; p != nil {
		ev.Progress = progress(p)
	}
	return ev
}

// timezone maps Moodle's "99" (the site's default) to "": no zone of the
// user's own.
func timezone(tz string) string {
	if tz == timezoneDefault {
		return ""
	}
	return tz
}

// roles reads the role list; an empty one reads as nil.
func roles(v value) []string {
	list, _ := v.texts()
	if len(list) == 0 {
		return nil
	}
	return list
}

// progress keeps the percent as Moodle computed it (validated to agree
// with the counts); with no SCORM activity it is unknown.
func progress(p *wireProgress) *domain.Progress {
	out := &domain.Progress{Total: int(p.Total.int64()), Completed: int(p.Completed.int64())}
	if f, ok := p.Percent.number(); ok && out.Total > 0 {
		out.Percent = &f
	}
	return out
}
