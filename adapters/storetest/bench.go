package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/acme/notifier/app"
	"github.com/acme/notifier/domain"
)

// Benchmarks measures the store calls of an evaluation on the store s,
// with benchEnrollments enrollments that each have one earlier message:
// the unlocked read a scan makes of every enrollment, a locked evaluation
// that writes nothing and one that writes a row, and a send's two updates.
// They run only with -bench.
func Benchmarks(b *testing.B, s app.Store) {
	ctx := b.Context()
	ids := benchSeed(b, s)
	for _, n := range []int{1, 16} {
		b.Run(fmt.Sprintf("ReadEnrollmentStates/%d", n), func(b *testing.B) {
			for i := 0; b.Loop(); i++ {
				group := make([]int64, n)
				for j := range group {
					group[j] = ids[(i*n+j)%len(ids)]
				}
				if _, err := s.ReadEnrollmentStates(ctx, group...); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/enrollment")
		})
	}
	b.Run("EvaluateLocked/NothingFires", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if _, err := s.EvaluateLocked(ctx, ids[i%len(ids)], nil, func(app.EnrollmentState) ([]domain.MessageLog, error) {
				return nil, nil
			}); err != nil {
				b.Fatal(err)
			}
		}
	})
	var created []int64
	b.Run("EvaluateLocked/OneRow", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			rows, err := s.EvaluateLocked(ctx, ids[i%len(ids)], nil, func(st app.EnrollmentState) ([]domain.MessageLog, error) {
				return []domain.MessageLog{benchMessage(st, time.Now())}, nil
			})
			if err != nil || len(rows) != 1 {
				b.Fatalf("%d rows: %v", len(rows), err)
			}
			created = append(created, rows[0].ID)
		}
	})
	b.Run("UpdateMessage/ClaimAndRecord", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			id := created[i%len(created)]
			if _, err := s.UpdateMessage(ctx, id, func(m *domain.MessageLog) error {
				m.Attempts++
				return nil
			}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

const benchEnrollments = 200

func benchSeed(b *testing.B, s app.Store) []int64 {
	ctx := context.WithoutCancel(b.Context())
	var ids []int64
	for n := int64(1); n <= benchEnrollments; n++ {
		st, err := s.UpsertStudent(ctx, newStudent(n))
		if err != nil {
			b.Fatal(err)
		}
		c, err := s.UpsertCourse(ctx, newCourse(1+n%10))
		if err != nil {
			b.Fatal(err)
		}
		e, err := s.UpsertEnrollment(ctx, domain.Enrollment{StudentID: st.ID, CourseID: c.ID,
			Roles: []string{"student"}, Progress: domain.NewProgress(4, 2)})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.EvaluateLocked(ctx, e.ID, nil, func(st app.EnrollmentState) ([]domain.MessageLog, error) {
			return []domain.MessageLog{benchMessage(st, base)}, nil
		}); err != nil {
			b.Fatal(err)
		}
		ids = append(ids, e.ID)
	}
	return ids
}

func benchMessage(st app.EnrollmentState, at time.Time) domain.MessageLog {
	return domain.MessageLog{Rule: "progress", Template: "progress", Language: "es", Status: domain.StatusPending,
		Params: []string{st.Student.FirstName, st.Course.FullName, "50"}, StudentID: st.Student.ID,
		MoodleUserID: st.Student.MoodleUserID, CourseID: st.Course.ID, MoodleCourseID: st.Course.MoodleCourseID,
		EnrollmentID: st.Enrollment.ID, To: "+34600111222", CreatedAt: at,
		Trigger: domain.Trigger{Kind: domain.TriggerScan, Ref: fmt.Sprint(at.Unix())}}
}
