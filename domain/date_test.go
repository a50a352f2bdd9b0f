package domain_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/notifier/domain"
)

func TestParseDate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want domain.Date
		bad  bool
	}{
		{in: "2026-03-29", want: date(2026, time.March, 29)},
		{in: "2026-10-25", want: date(2026, time.October, 25)},
		{in: "2026-12-31", want: date(2026, time.December, 31)},
		{in: "2028-02-29", want: date(2028, time.February, 29)},
		{in: "2026-02-29", bad: true}, // not a leap year
		{in: "2026-04-31", bad: true},
		{in: "2026-13-01", bad: true},
		{in: "2026-00-10", bad: true},
		{in: "2026-3-29", bad: true},
		{in: "26-03-29", bad: true},
		{in: "20260329", bad: true},
		{in: "2026/03/29", bad: true},
		{in: "29-03-2026", bad: true},
		{in: " 2026-03-29", bad: true},
		{in: "2026-03-29 ", bad: true},
		{in: "2026-03-29T00:00:00Z", bad: true},
		{in: "", bad: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := domain.ParseDate(tc.in)
			if tc.bad {
				require.Error(t, err)
				assert.Contains(t, err.Error(), "YYYY-MM-DD")
				assert.True(t, got.IsZero())
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.in, got.String(), "round trip")
		})
	}
}

func TestDateAddDays(t *testing.T) {
	for _, tc := range []struct {
		from domain.Date
		n    int
		want domain.Date
	}{
		{date(2026, time.June, 15), 0, date(2026, time.June, 15)},
		{date(2026, time.January, 31), 1, date(2026, time.February, 1)},
		{date(2026, time.February, 28), 1, date(2026, time.March, 1)},
		{date(2028, time.February, 28), 1, date(2028, time.February, 29)},
		{date(2028, time.February, 29), 1, date(2028, time.March, 1)},
		{date(2026, time.March, 1), -1, date(2026, time.February, 28)},
		{date(2026, time.April, 30), 1, date(2026, time.May, 1)},
		{date(2026, time.December, 31), 1, date(2027, time.January, 1)},
		{date(2027, time.January, 1), -1, date(2026, time.December, 31)},
		{date(2026, time.December, 30), 3, date(2027, time.January, 2)},
		{date(2026, time.January, 1), 365, date(2027, time.January, 1)},
		{date(2028, time.December, 31), -366, date(2027, time.December, 31)},
		// Madrid's daylight-saving days are days like any other.
		{date(2026, time.March, 28), 1, date(2026, time.March, 29)},
		{date(2026, time.March, 29), 1, date(2026, time.March, 30)},
		{date(2026, time.March, 30), -1, date(2026, time.March, 29)},
		{date(2026, time.March, 28), 2, date(2026, time.March, 30)},
		{date(2026, time.October, 24), 1, date(2026, time.October, 25)},
		{date(2026, time.October, 25), 1, date(2026, time.October, 26)},
		{date(2026, time.October, 26), -2, date(2026, time.October, 24)},
	} {
		t.Run(tc.from.String(), func(t *testing.T) {
			assert.Equal(t, tc.want, tc.from.AddDays(tc.n), "%s %+d", tc.from, tc.n)
		})
	}
}

func TestDateOf(t *testing.T) {
	utc := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339, s)
		require.NoError(t, err)
		return tm
	}
	for _, tc := range []struct {
		instant string
		loc     *time.Location
		want    domain.Date
	}{
		// Spring forward, 2026-03-29 02:00 CET → 03:00 CEST.
		{"2026-03-28T22:59:59Z", madrid, date(2026, time.March, 28)},
		{"2026-03-28T23:00:00Z", madrid, date(2026, time.March, 29)}, // local midnight
		{"2026-03-28T23:00:00Z", time.UTC, date(2026, time.March, 28)},
		{"2026-03-29T00:59:59Z", madrid, date(2026, time.March, 29)}, // 01:59:59 CET
		{"2026-03-29T01:00:00Z", madrid, date(2026, time.March, 29)}, // 03:00 CEST
		{"2026-03-29T21:59:59Z", madrid, date(2026, time.March, 29)}, // 23:59:59 CEST
		{"2026-03-29T22:00:00Z", madrid, date(2026, time.March, 30)},
		{"2026-03-29T22:00:00Z", time.UTC, date(2026, time.March, 29)},
		// Fall back, 2026-10-25 03:00 CEST → 02:00 CET.
		{"2026-10-24T21:59:59Z", madrid, date(2026, time.October, 24)},
		{"2026-10-24T22:00:00Z", madrid, date(2026, time.October, 25)}, // local midnight
		{"2026-10-24T22:00:00Z", time.UTC, date(2026, time.October, 24)},
		{"2026-10-25T00:30:00Z", madrid, date(2026, time.October, 25)}, // 02:30 CEST
		{"2026-10-25T01:30:00Z", madrid, date(2026, time.October, 25)}, // 02:30 CET
		{"2026-10-25T22:59:59Z", madrid, date(2026, time.October, 25)}, // 23:59:59 CET
		{"2026-10-25T23:00:00Z", madrid, date(2026, time.October, 26)},
		{"2026-10-25T23:00:00Z", time.UTC, date(2026, time.October, 25)},
		// New year.
		{"2026-12-31T23:30:00Z", madrid, date(2027, time.January, 1)},
		{"2026-12-31T23:30:00Z", time.UTC, date(2026, time.December, 31)},
	} {
		t.Run(tc.instant+"_"+tc.loc.String(), func(t *testing.T) {
			assert.Equal(t, tc.want, domain.DateOf(utc(tc.instant), tc.loc))
		})
	}
}

func TestDateCompare(t *testing.T) {
	for _, tc := range []struct {
		a, b domain.Date
		want int
	}{
		{date(2026, time.March, 29), date(2026, time.March, 29), 0},
		{date(2026, time.March, 28), date(2026, time.March, 29), -1},
		{date(2026, time.March, 30), date(2026, time.March, 29), 1},
		{date(2026, time.February, 28), date(2026, time.March, 1), -1},
		{date(2026, time.December, 31), date(2027, time.January, 1), -1},
		{date(2027, time.January, 1), date(2026, time.December, 31), 1},
		{date(2026, time.November, 1), date(2026, time.October, 31), 1},
	} {
		t.Run(tc.a.String()+"_"+tc.b.String(), func(t *testing.T) {
			assert.Equal(t, tc.want, tc.a.Compare(tc.b))
			assert.Equal(t, -tc.want, tc.b.Compare(tc.a))
			assert.Equal(t, tc.want < 0, tc.a.Before(tc.b))
		})
	}
}

func TestDateStringAndIsZero(t *testing.T) {
	assert.Equal(t, "2026-03-09", date(2026, time.March, 9).String())
	assert.Equal(t, "0999-01-02", date(999, time.January, 2).String())
	assert.True(t, domain.Date{}.IsZero())
	assert.False(t, date(2026, time.March, 9).IsZero())
}

func TestDateStart(t *testing.T) {
	utc := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339, s)
		require.NoError(t, err)
		return tm
	}
	for _, tc := range []struct {
		name string
		d    domain.Date
		loc  *time.Location
		want time.Time
	}{
		{"Madrid, an ordinary winter day", date(2026, time.January, 15), madrid, utc("2026-01-14T23:00:00Z")},
		{"Madrid, spring forward day", date(2026, time.March, 29), madrid, utc("2026-03-28T23:00:00Z")},
		{"Madrid, the day after spring forward", date(2026, time.March, 30), madrid, utc("2026-03-29T22:00:00Z")},
		{"Madrid, fall back day", date(2026, time.October, 25), madrid, utc("2026-10-24T22:00:00Z")},
		{"Madrid, the day after fall back", date(2026, time.October, 26), madrid, utc("2026-10-25T23:00:00Z")},
		{"UTC", date(2026, time.March, 29), time.UTC, utc("2026-03-29T00:00:00Z")},
		// Zones whose clocks jump from 23:59:59 to 01:00: the day starts at 01:00.
		{"Santiago, midnight skipped", date(2026, time.September, 6), santiago, utc("2026-09-06T04:00:00Z")},
		{"Havana, midnight skipped", date(2026, time.March, 8), havana, utc("2026-03-08T05:00:00Z")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.d.Start(tc.loc)
			assert.True(t, tc.want.Equal(got), "want %s, got %s", tc.want.In(tc.loc), got)
			assert.Equal(t, tc.d, domain.DateOf(got, tc.loc), "the start lies in the day")
			assert.Equal(t, tc.d.AddDays(-1), domain.DateOf(got.Add(-time.Nanosecond), tc.loc), "and just before it is the day before")
		})
	}
}

func TestCourseHasEnded(t *testing.T) {
	today := date(2026, time.March, 29)
	for _, tc := range []struct {
		name string
		end  time.Time
		loc  *time.Location
		want bool
	}{
		{"no end date", time.Time{}, madrid, false},
		{"ended yesterday", inMadrid(2026, time.March, 28, 12, 0), madrid, true},
		{"ended yesterday at 23:59", inMadrid(2026, time.March, 28, 23, 59), madrid, true},
		{"ends today at local midnight", inMadrid(2026, time.March, 29, 0, 0), madrid, false},
		{"ends today at local midnight, read in UTC (the day before there)", inMadrid(2026, time.March, 29, 0, 0), time.UTC, true},
		{"ends tomorrow", inMadrid(2026, time.March, 30, 0, 0), madrid, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, domain.Course{EndDate: tc.end}.HasEnded(today, tc.loc))
		})
	}
}
