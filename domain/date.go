package domain

import (
	"fmt"
	"time"
)

// Date is a civil date (a day on a wall calendar) with no zone attached.
// Rules compare dates, never instants, so that "tomorrow" is the next
// calendar day even across a daylight-saving change.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// DateOf is the calendar day of instant t in loc.
func DateOf(t time.Time, loc *time.Location) Date {
	y, m, d := t.In(loc).Date()
	return Date{y, m, d}
}

// ParseDate reads YYYY-MM-DD.
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return Date{}, fmt.Errorf("date %q: want YYYY-MM-DD", s)
	}
	return DateOf(t, time.UTC), nil
}

// AddDays moves the date by n calendar days.
func (d Date) AddDays(n int) Date {
	// Noon UTC never meets a zone transition, so the arithmetic is exact.
	return DateOf(time.Date(d.Year, d.Month, d.Day+n, 12, 0, 0, 0, time.UTC), time.UTC)
}

// Before reports whether d is an earlier day than o.
func (d Date) Before(o Date) bool { return d.Compare(o) < 0 }

// Compare returns -1, 0 or +1 as d is before, equal to or after o.
func (d Date) Compare(o Date) int {
	switch {
	case d.Year != o.Year:
		return cmpInt(d.Year, o.Year)
	case d.Month != o.Month:
		return cmpInt(int(d.Month), int(o.Month))
	}
	return cmpInt(d.Day, o.Day)
}

// IsZero reports whether d is the zero Date.
func (d Date) IsZero() bool { return d == Date{} }

// String formats YYYY-MM-DD.
func (d Date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day) }

// Start is the first instant of the day in loc.
func (d Date) Start(loc *time.Location) time.Time {
	t := time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, loc)
	if DateOf(t, loc).Before(d) {
		// A DST jump skipped midnight (America/Santiago, America/Havana)
		// and time.Date, which does not guarantee which side of a gap it
		// picks, landed on the evening before: the day starts at the jump.
		_, end := t.ZoneBounds()
		t = end
	}
	return t
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
