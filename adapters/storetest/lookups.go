package storetest

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/notifier/app"
)

var lookupTests = []contractTest{
	{"FindStudentByMoodleID", testFindStudentByMoodleID},
	{"FindEnrollmentByMoodleIDs", testFindEnrollment},
}

func testFindStudentByMoodleID(t *testing.T, s app.Store) {
	st := mustStudent(t, s, 42)
	mustStudent(t, s, 43)
	got, err := s.FindStudentByMoodleID(t.Context(), 42)
	require.NoError(t, err)
	assert.Equal(t, st, got)
	_, err = s.FindStudentByMoodleID(t.Context(), 44)
	assert.ErrorIs(t, err, app.ErrNotFound)
}

func testFindEnrollment(t *testing.T, s app.Store) {
	f := seed(t, s, 1)
	seed(t, s, 2)
	got, err := s.FindEnrollment(t.Context(), f.Student.MoodleUserID, f.Course.MoodleCourseID)
	require.NoError(t, err)
	assert.Equal(t, f.Enrollment, got)
	_, err = s.FindEnrollment(t.Context(), 1, 102)
	assert.ErrorIs(t, err, app.ErrNotFound, "student 1 is not enrolled in course 102")
}
