package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/acme/notifier/app"
	"github.com/acme/notifier/domain"
)

var enrolledTests = []contractTest{
	{"UpsertEnrolled/InsertsAllThree", testUpsertEnrolledInsert},
	{"UpsertEnrolled/UpdatesAsTheSeparateUpserts", testUpsertEnrolledUpdate},
	{"UpsertEnrolled/SameOutcomeAsTheThreeCalls", testUpsertEnrolledAsThreeCalls},
	{"UpsertEnrolled/NeedsBothMoodleIDs", testUpsertEnrolledMoodleIDs},
	{"UpsertEnrolled/AllOrNothing", testUpsertEnrolledAtomic},
	{"UpsertEnrolled/ConcurrentSameEnrollment", testUpsertEnrolledConcurrent},
	{"UpsertEnrolled/ConcurrentCrossedEnrollments", testUpsertEnrolledCrossed},
}

func testUpsertEnrolledInsert(t *testing.T, s app.Store) {
	ctx := t.Context()
	st, c := newStudent(42), newCourse(7)
	c.StartDate = time.Date(2026, time.December, 1, 9, 30, 0, 999999999, madrid)
	in := domain.Enrollment{
		StudentID: 9999, CourseID: 9999, // ignored: the upserted rows' ids are used
		MoodleEnrolmentID: 991, Status: domain.EnrolmentSuspended,
		TimeStart: base, TimeEnd: base.Add(90 * 24 * time.Hour).In(madrid),
		Roles:    []string{"student", "editingteacher"},
		Progress: domain.NewProgress(3, 1), Imported: true,
	}
	got, err := s.UpsertEnrolled(ctx, st, c, in)
	require.NoError(t, err)

	student, err := s.FindStudentByMoodleID(ctx, 42)
	require.NoError(t, err)
	assert.False(t, student.CreatedAt.IsZero())
	assert.Equal(t, student.CreatedAt, student.UpdatedAt)
	assert.Equal(t, student.CreatedAt, student.ContactChangedAt, "a new student's contact is new")
	wantStudent := st
	wantStudent.ID, wantStudent.CreatedAt, wantStudent.UpdatedAt = student.ID, student.CreatedAt, student.UpdatedAt
	wantStudent.ContactChangedAt = student.ContactChangedAt
	assert.Equal(t, wantStudent, student)

	course, err := s.GetCourse(ctx, got.CourseID)
	require.NoError(t, err)
	wantCourse := c
	wantCourse.ID, wantCourse.CreatedAt, wantCourse.UpdatedAt = course.ID, course.CreatedAt, course.UpdatedAt
	wantCourse.StartDate, wantCourse.EndDate = stored(c.StartDate), stored(c.EndDate)
	assert.Equal(t, wantCourse, course)
	assert.False(t, course.CreatedAt.IsZero())

	want := in
	want.ID, want.StudentID, want.CourseID = got.ID, student.ID, course.ID
	want.CreatedAt, want.UpdatedAt = got.CreatedAt, got.UpdatedAt
	want.TimeStart, want.TimeEnd = stored(in.TimeStart), stored(in.TimeEnd)
	assert.Equal(t, want, got)
	assert.Positive(t, got.ID)
	assert.False(t, got.CreatedAt.IsZero())

	fetched, err := s.GetEnrollment(ctx, got.ID)
	require.NoError(t, err)
	assert.Equal(t, got, fetched)
	found, err := s.FindEnrollment(ctx, 42, 7)
	require.NoError(t, err)
	assert.Equal(t, got, found)

	// An insert takes the opt-out given; zero values read back as zero
	// values.
	optedOut := newStudent(43)
	optedOut.OptedOut = true
	bare, err := s.UpsertEnrolled(ctx, optedOut, newCourse(8), domain.Enrollment{})
	require.NoError(t, err)
	student, err = s.GetStudent(ctx, bare.StudentID)
	require.NoError(t, err)
	assert.True(t, student.OptedOut)
	assert.Equal(t, int64(43), student.MoodleUserID)
	assert.Zero(t, bare.MoodleEnrolmentID)
	assert.True(t, bare.TimeStart.IsZero())
	assert.Nil(t, bare.Roles)
	assert.Equal(t, domain.Progress{}, bare.Progress)
	assert.False(t, bare.Imported)
	assert.NotEqual(t, got.CourseID, bare.CourseID)
}

func testUpsertEnrolledUpdate(t *testing.T, s app.Store) {
	ctx := t.Context()
	st, c := newStudent(1), newCourse(101)
	first, err := s.UpsertEnrolled(ctx, st, c, domain.Enrollment{
		MoodleEnrolmentID: 991, Roles: []string{"student"}, Progress: domain.NewProgress(3, 1), Imported: true,
	})
	require.NoError(t, err)
	before, err := s.GetStudent(ctx, first.StudentID)
	require.NoError(t, err)
	courseBefore, err := s.GetCourse(ctx, first.CourseID)
	require.NoError(t, err)

	// The student opts out; the enrollment is deleted.
	time.Sleep(2 * time.Millisecond)
	optedOut, err := s.UpdateStudent(ctx, first.StudentID, func(st *domain.Student) error {
		st.OptedOut = true
		return nil
	})
	require.NoError(t, err)
	_, err = s.UpdateEnrollment(ctx, first.ID, func(e *domain.Enrollment) error {
		e.Deleted = true
		return nil
	})
	require.NoError(t, err)

	// Moodle reports the enrolment again, with new names but the same
	// phone, without progress or enrolment id, and not from a sync.
	time.Sleep(2 * time.Millisecond)
	st.Username, st.FirstName, st.LastName, st.Email = "ana.r", "Ana María", "Ruiz Gil", "ana@example.org"
	st.Lang, st.Timezone = "pt_br", "99"
	c.ShortName, c.FullName, c.EndDate = "PRL-02", "Riesgos laborales", time.Time{}
	second, err := s.UpsertEnrolled(ctx, st, c, domain.Enrollment{
		Status: domain.EnrolmentSuspended, TimeStart: base, Roles: []string{"student", "teacher"},
	})
	require.NoError(t, err)
	assert.Equal(t, first.ID, second.ID)
	assert.Equal(t, first.StudentID, second.StudentID)
	assert.Equal(t, first.CourseID, second.CourseID)
	assert.Equal(t, first.CreatedAt, second.CreatedAt)
	assert.True(t, second.Imported, "Imported keeps its stored value")
	assert.False(t, second.Deleted, "an upsert revives a deleted enrollment")
	assert.Equal(t, first.Progress, second.Progress, "unknown progress keeps the stored one")
	assert.Equal(t, int64(991), second.MoodleEnrolmentID, "no enrolment id keeps the stored one")
	assert.Equal(t, domain.EnrolmentSuspended, second.Status)
	assert.Equal(t, stored(base), second.TimeStart)
	assert.Equal(t, []string{"student", "teacher"}, second.Roles)
	assert.True(t, second.UpdatedAt.After(first.UpdatedAt))
	fetched, err := s.GetEnrollment(ctx, second.ID)
	require.NoError(t, err)
	assert.Equal(t, second, fetched)

	student, err := s.GetStudent(ctx, second.StudentID)
	require.NoError(t, err)
	want := st
	want.ID, want.CreatedAt, want.UpdatedAt = before.ID, before.CreatedAt, student.UpdatedAt
	want.OptedOut, want.ContactChangedAt = true, optedOut.ContactChangedAt
	assert.Equal(t, want, student, "Moodle data must not undo an opt-out; the phone did not change")
	assert.True(t, student.UpdatedAt.After(optedOut.UpdatedAt))

	course, err := s.GetCourse(ctx, second.CourseID)
	require.NoError(t, err)
	wantCourse := c
	wantCourse.ID, wantCourse.CreatedAt, wantCourse.UpdatedAt = courseBefore.ID, courseBefore.CreatedAt, course.UpdatedAt
	wantCourse.StartDate = stored(c.StartDate)
	assert.Equal(t, wantCourse, course)
	assert.True(t, course.EndDate.IsZero(), "no end date")

	// A new phone moves ContactChangedAt; known progress replaces the
	// stored one, even when it went down.
	time.Sleep(2 * time.Millisecond)
	st.Phone = "+34 600 333 444"
	third, err := s.UpsertEnrolled(ctx, st, c, domain.Enrollment{
		MoodleEnrolmentID: 992, Roles: []string{"student"}, Progress: domain.NewProgress(4, 0),
	})
	require.NoError(t, err)
	assert.Equal(t, first.ID, third.ID)
	assert.Equal(t, domain.NewProgress(4, 0), third.Progress)
	assert.Equal(t, int64(992), third.MoodleEnrolmentID)
	assert.True(t, third.Imported)
	fetched, err = s.GetEnrollment(ctx, third.ID)
	require.NoError(t, err)
	assert.Equal(t, third, fetched)

	changed, err := s.GetStudent(ctx, third.StudentID)
	require.NoError(t, err)
	assert.Equal(t, "+34 600 333 444", changed.Phone)
	assert.True(t, changed.ContactChangedAt.After(student.ContactChangedAt), "the phone changed")
	assert.Equal(t, changed.UpdatedAt, changed.ContactChangedAt)
	assert.True(t, changed.OptedOut)
}

// One store gets the same inputs twice, under two pairs of Moodle ids:
// through the three upserts in sequence, and through UpsertEnrolled. The
// rows written must match but for ids and times.
func testUpsertEnrolledAsThreeCalls(t *testing.T, s app.Store) {
	ctx := t.Context()
	threeCalls := func(st domain.Student, c domain.Course, e domain.Enrollment) domain.Enrollment {
		t.Helper()
		student, err := s.UpsertStudent(ctx, st)
		require.NoError(t, err)
		course, err := s.UpsertCourse(ctx, c)
		require.NoError(t, err)
		e.StudentID, e.CourseID = student.ID, course.ID
		out, err := s.UpsertEnrollment(ctx, e)
		require.NoError(t, err)
		return out
	}
	oneCall := func(st domain.Student, c domain.Course, e domain.Enrollment) domain.Enrollment {
		t.Helper()
		out, err := s.UpsertEnrolled(ctx, st, c, e)
		require.NoError(t, err)
		return out
	}
	steps := []struct {
		name    string
		student func(*domain.Student)
		course  func(*domain.Course)
		e       domain.Enrollment
		after   func(domain.Enrollment)
	}{
		{name: "insert", e: domain.Enrollment{MoodleEnrolmentID: 5, Status: domain.EnrolmentActive, TimeStart: base,
			Roles: []string{"student"}, Progress: domain.NewProgress(2, 1), Imported: true},
			after: func(e domain.Enrollment) {
				_, err := s.UpdateStudent(ctx, e.StudentID, func(st *domain.Student) error { st.OptedOut = true; return nil })
				require.NoError(t, err)
				_, err = s.UpdateEnrollment(ctx, e.ID, func(e *domain.Enrollment) error { e.Deleted = true; return nil })
				require.NoError(t, err)
			}},
		{name: "no progress", student: func(st *domain.Student) { st.FirstName, st.OptedOut = "Eva", false },
			course: func(c *domain.Course) { c.FullName = "Otro" },
			e:      domain.Enrollment{Status: domain.EnrolmentSuspended, TimeEnd: base.Add(time.Hour)}},
		{name: "new phone, known progress", student: func(st *domain.Student) { st.Phone = "+34 699 000 000" },
			e: domain.Enrollment{MoodleEnrolmentID: 6, Roles: []string{"teacher"}, Progress: domain.NewProgress(2, 0),
				Deleted: true}},
	}
	type side struct {
		st       domain.Student
		c        domain.Course
		apply    func(domain.Student, domain.Course, domain.Enrollment) domain.Enrollment
		contacts []time.Time
	}
	sides := []*side{
		{st: newStudent(11), c: newCourse(111), apply: threeCalls},
		{st: newStudent(12), c: newCourse(112), apply: oneCall},
	}
	for _, step := range steps {
		time.Sleep(2 * time.Millisecond)
		var rows [2]struct {
			st domain.Student
			c  domain.Course
			e  domain.Enrollment
		}
		for i, sd := range sides {
			if step.student != nil {
				step.student(&sd.st)
			}
			if step.course != nil {
				step.course(&sd.c)
			}
			e := sd.apply(sd.st, sd.c, step.e)
			if step.after != nil {
				step.after(e)
			}
			var err error
			rows[i].e, err = s.GetEnrollment(ctx, e.ID)
			require.NoError(t, err)
			rows[i].st, err = s.GetStudent(ctx, e.StudentID)
			require.NoError(t, err)
			rows[i].c, err = s.GetCourse(ctx, e.CourseID)
			require.NoError(t, err)
			sd.contacts = append(sd.contacts, rows[i].st.ContactChangedAt)
			// What depends on the Moodle ids, the row ids and the clock.
			rows[i].e.ID, rows[i].e.StudentID, rows[i].e.CourseID = 0, 0, 0
			rows[i].e.CreatedAt, rows[i].e.UpdatedAt = time.Time{}, time.Time{}
			rows[i].st.ID, rows[i].st.MoodleUserID, rows[i].st.Username, rows[i].st.Email = 0, 0, "", ""
			rows[i].st.CreatedAt, rows[i].st.UpdatedAt, rows[i].st.ContactChangedAt = time.Time{}, time.Time{}, time.Time{}
			rows[i].c.ID, rows[i].c.MoodleCourseID, rows[i].c.ShortName = 0, 0, ""
			rows[i].c.CreatedAt, rows[i].c.UpdatedAt = time.Time{}, time.Time{}
		}
		assert.Equal(t, rows[0], rows[1], step.name)
	}
	moved := func(contacts []time.Time) []bool {
		var out []bool
		for i := 1; i < len(contacts); i++ {
			out = append(out, contacts[i].After(contacts[i-1]))
		}
		return out
	}
	assert.Equal(t, []bool{false, true}, moved(sides[0].contacts), "the names did not move it, the phone did")
	assert.Equal(t, moved(sides[0].contacts), moved(sides[1].contacts), "ContactChangedAt moves alike")
}

func testUpsertEnrolledMoodleIDs(t *testing.T, s app.Store) {
	ctx := t.Context()
	_, err := s.UpsertEnrolled(ctx, newStudent(0), newCourse(7), domain.Enrollment{})
	assert.Error(t, err, "a student without a Moodle id")
	_, err = s.UpsertEnrolled(ctx, newStudent(5), domain.Course{ShortName: "no id"}, domain.Enrollment{})
	assert.Error(t, err, "a course without a Moodle id")
	_, err = s.FindStudentByMoodleID(ctx, 5)
	assert.ErrorIs(t, err, app.ErrNotFound, "nothing was written")
}

// An enrollment the database refuses (a status out of its range) leaves the
// student and the course as they were: one transaction.
func testUpsertEnrolledAtomic(t *testing.T, s app.Store) {
	ctx := t.Context()
	bad := domain.Enrollment{Status: domain.EnrolmentStatus(7)}
	_, err := s.UpsertEnrolled(ctx, newStudent(5), newCourse(105), bad)
	require.Error(t, err)
	assert.NotErrorIs(t, err, app.ErrUnavailable)
	_, err = s.FindStudentByMoodleID(ctx, 5)
	assert.ErrorIs(t, err, app.ErrNotFound, "no student")
	_, err = s.FindEnrollment(ctx, 5, 105)
	assert.ErrorIs(t, err, app.ErrNotFound, "no enrollment")

	f := seed(t, s, 6)
	st, c := f.Student, f.Course
	st.FirstName, st.Phone, c.FullName = "Eva", "+34 699 000 000", "Otro"
	_, err = s.UpsertEnrolled(ctx, st, c, bad)
	require.Error(t, err)
	student, err := s.GetStudent(ctx, f.Student.ID)
	require.NoError(t, err)
	assert.Equal(t, f.Student, student, "the student's update was rolled back")
	course, err := s.GetCourse(ctx, f.Course.ID)
	require.NoError(t, err)
	assert.Equal(t, f.Course, course, "the course's update was rolled back")
	e, err := s.GetEnrollment(ctx, f.Enrollment.ID)
	require.NoError(t, err)
	assert.Equal(t, f.Enrollment, e)
}

// Deliveries of one event racing: every call succeeds, and all of them
// land on one student, one course and one enrollment.
func testUpsertEnrolledConcurrent(t *testing.T, s app.Store) {
	ctx := t.Context()
	const n = 32
	st, c := newStudent(1), newCourse(101)
	in := domain.Enrollment{MoodleEnrolmentID: 991, Status: domain.EnrolmentActive, Roles: []string{"student"},
		Progress: domain.NewProgress(3, 1)}
	type result struct {
		e   domain.Enrollment
		err error
	}
	results := concurrently(n, func(int) result {
		e, err := s.UpsertEnrolled(ctx, st, c, in)
		return result{e, err}
	})
	for i, r := range results {
		require.NoError(t, r.err, "call %d", i)
	}
	first := results[0].e
	for i, r := range results {
		assert.Equal(t, first.ID, r.e.ID, "call %d: one enrollment", i)
		assert.Equal(t, first.StudentID, r.e.StudentID, "call %d: one student", i)
		assert.Equal(t, first.CourseID, r.e.CourseID, "call %d: one course", i)
	}
	student, err := s.FindStudentByMoodleID(ctx, 1)
	require.NoError(t, err)
	assert.Equal(t, first.StudentID, student.ID)
	course, err := s.GetCourse(ctx, first.CourseID)
	require.NoError(t, err)
	assert.Equal(t, int64(101), course.MoodleCourseID)
	found, err := s.FindEnrollment(ctx, 1, 101)
	require.NoError(t, err)
	assert.Equal(t, first.ID, found.ID)
	assert.Equal(t, domain.NewProgress(3, 1), found.Progress)
	assert.Equal(t, int64(991), found.MoodleEnrolmentID)
}

// Events of students sharing courses, and of courses sharing students,
// racing: none fails (lock waits, no deadlock left unresolved) and each
// pair gets its one enrollment.
func testUpsertEnrolledCrossed(t *testing.T, s app.Store) {
	ctx := t.Context()
	const n, side = 32, 4
	pair := func(i int) (int64, int64) { return int64(1 + i%side), int64(101 + (i/side)%side) }
	errs := concurrently(n, func(i int) error {
		u, c := pair(i)
		_, err := s.UpsertEnrolled(ctx, newStudent(u), newCourse(c), domain.Enrollment{
			MoodleEnrolmentID: u*1000 + c, Status: domain.EnrolmentActive, Roles: []string{"student"},
		})
		return err
	})
	for i, err := range errs {
		require.NoError(t, err, "call %d", i)
	}
	seen := map[int64]bool{}
	for i := range side * side {
		u, c := pair(i)
		e, err := s.FindEnrollment(ctx, u, c)
		require.NoError(t, err, fmt.Sprintf("user %d, course %d", u, c))
		assert.Equal(t, u*1000+c, e.MoodleEnrolmentID)
		seen[e.ID] = true
	}
	assert.Len(t, seen, side*side)
}
