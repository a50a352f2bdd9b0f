package app

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/acme/notifier/domain"
)

// The compact form of a course's answer gives back each student's progress
// as Moodle gave it, and nothing for a student it did not list.
func TestCourseProgressGivesBackWhatMoodleSaid(t *testing.T) {
	half := domain.NewProgress(4, 2)
	byUser := map[int64]domain.Progress{
		42: half,
		7:  domain.NewProgress(3, 3),
		99: {},                           // no tracked activities: unknown
		1:  {Total: 2, Completed: 0},     // counts without a percentage
		5:  domain.NewProgress(1<<20, 1), // many activities
	}
	c := newCourseProgress(byUser)
	for user, want := range byUser {
		got, ok := c.of(user)
		assert.True(t, ok, "user %d", user)
		assert.True(t, want.Equal(got), "user %d: got %+v, want %+v", user, got, want)
	}
	for _, user := range []int64{0, 6, 43, 1000} {
		_, ok := c.of(user)
		assert.False(t, ok, "user %d was not listed", user)
	}
	_, ok := newCourseProgress(nil).of(42)
	assert.False(t, ok)

	// Each lookup gets its own percentage: changing one changes no other.
	p, _ := c.of(42)
	*p.Percent = 1
	again, _ := c.of(42)
	assert.True(t, half.Equal(again))
}
