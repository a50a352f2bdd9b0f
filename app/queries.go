package app

import (
	"context"

	"github.com/acme/notifier/domain"
)

// Queries answer the admin API's reads.
type Queries struct {
	store Store
	rules []domain.Rule
}

// Messages lists MessageLog rows, newest first.
func (q *Queries) Messages(ctx context.Context, f MessageFilter) ([]domain.MessageLog, error) {
	return q.store.ListMessages(ctx, f)
}

// Message returns one MessageLog row.
func (q *Queries) Message(ctx context.Context, id int64) (domain.MessageLog, error) {
	return q.store.GetMessage(ctx, id)
}

// Rules are the rules in force.
func (q *Queries) Rules() []domain.Rule { return q.rules }
