package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/acme/notifier/app"
)

// CountMessagesByStatusRule counts every MessageLog row by status and rule,
// for the metrics scraped from the store. It reads the whole table; the
// metrics collector bounds how often.
func (s *Store) CountMessagesByStatusRule(ctx context.Context) ([]app.MessageTally, error) {
	rows, err := s.pool.Query(ctx, `SELECT status, rule, count(*) FROM message_logs
		GROUP BY status, rule ORDER BY rule, status`)
	if err != nil {
		return nil, fmt.Errorf("postgres: count messages by status and rule: %w", classify(err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (app.MessageTally, error) {
		var t app.MessageTally
		err := r.Scan(&t.Status, &t.Rule, &t.Count)
		return t, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: count messages by status and rule: %w", classify(err))
	}
	return out, nil
}
