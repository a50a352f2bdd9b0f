package moodle

import "time"

// SetNow replaces the client's clock (for the bulk recheck).
func SetNow(c *Client, now func() time.Time) { c.now = now }
