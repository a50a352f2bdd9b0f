package domain

import "fmt"

// Status is the delivery state of one send attempt (one MessageLog row).
type Status string

const (
	StatusPending   Status = "PENDING"
	StatusSent      Status = "SENT"
	StatusDelivered Status = "DELIVERED"
	StatusRead      Status = "READ"
	StatusFailed    Status = "FAILED"
)

// Statuses lists every status in the order the API documents them.
var Statuses = []Status{StatusPending, StatusSent, StatusDelivered, StatusRead, StatusFailed}

// rank orders the statuses that move forward; FAILED is handled apart.
var rank = map[Status]int{StatusPending: 0, StatusSent: 1, StatusDelivered: 2, StatusRead: 3}

// ParseStatus accepts one of the five status names.
func ParseStatus(s string) (Status, error) {
	st := Status(s)
	if st.Valid() {
		return st, nil
	}
	return "", fmt.Errorf("unknown status %q (want PENDING, SENT, DELIVERED, READ or FAILED)", s)
}

// Valid reports whether s is one of the five statuses.
func (s Status) Valid() bool {
	_, ok := rank[s]
	return ok || s == StatusFailed
}

// CanMoveTo reports whether a row in status s may take status next.
// Statuses only move forward (PENDING < SENT < DELIVERED < READ); FAILED may
// replace PENDING or SENT only, so a late failure never undoes a delivery,
// and FAILED is terminal. Moving to the same status is not a move.
func (s Status) CanMoveTo(next Status) bool {
	if s == StatusFailed || s == next || !s.Valid() || !next.Valid() {
		return false
	}
	if next == StatusFailed {
		return s == StatusPending || s == StatusSent
	}
	return rank[next] > rank[s]
}

// CountsForDedup reports whether a row in this status blocks another send of
// the same rule: every status but FAILED does.
func (s Status) CountsForDedup() bool { return s != StatusFailed }
