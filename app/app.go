// Package app holds the notifier's use cases. It depends on the domain and on
// the interfaces declared here (the store, the sender); ports drive it and
// adapters implement its interfaces.
package app

import (
	"errors"
	"log/slog"
	"time"

	"github.com/acme/notifier/domain"
)

// Settings are the business settings the use cases apply.
type Settings struct {
	Rules       []domain.Rule
	Location    *time.Location // NOTIFIER_TIMEZONE
	PhoneRegion string         // NOTIFIER_PHONE_REGION
}

// Application gathers the use cases.
type Application struct {
	Evaluate *EvaluateHandler
	Send     *SendHandler
	Queries  *Queries
}

// Deps are what the application needs from outside.
type Deps struct {
	Store  Store
	Sender Sender
	Now    func() time.Time // nil: time.Now
	Logger *slog.Logger     // nil: slog.Default()
}

// New builds the application; it refuses missing dependencies and invalid
// settings.
func New(s Settings, d Deps) (*Application, error) {
	if d.Store == nil || d.Sender == nil {
		return nil, errors.New("app: store and sender are required")
	}
	if s.Location == nil {
		return nil, errors.New("app: location is required")
	}
	if err := domain.ValidateRules(s.Rules); err != nil {
		return nil, err
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	send := &SendHandler{store: d.Store, sender: d.Sender, now: d.Now, log: d.Logger}
	return &Application{
		Evaluate: &EvaluateHandler{settings: s, store: d.Store, send: send, now: d.Now, log: d.Logger},
		Send:     send,
		Queries:  &Queries{store: d.Store, rules: s.Rules},
	}, nil
}
