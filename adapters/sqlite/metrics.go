package sqlite

import (
	"context"
	"fmt"

	"github.com/acme/notifier/app"
)

// CountMessagesByStatusRule counts every MessageLog row by status and rule,
// for the metrics scraped from the store. It reads the whole table; the
// metrics collector bounds how often.
func (s *Store) CountMessagesByStatusRule(ctx context.Context) (_ []app.MessageTally, err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("sqlite: count messages by status and rule: %w", classify(err))
		}
	}()
	rows, err := s.read.QueryContext(ctx, `SELECT status, rule, count(*) FROM message_logs
		GROUP BY status, rule ORDER BY rule, status`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []app.MessageTally
	for rows.Next() {
		var t app.MessageTally
		if err := rows.Scan(&t.Status, &t.Rule, &t.Count); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}
