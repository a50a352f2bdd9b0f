package app

import (
	"context"

	"github.com/acme/notifier/domain"
)

// ProgressSource reads SCORM progress from Moodle.
type ProgressSource interface {
	// CourseProgress returns the progress of the given Moodle users in a
	// Moodle course, keyed by Moodle user id (every enrolled user when
	// moodleUserIDs is empty).
	CourseProgress(ctx context.Context, moodleCourseID int64, moodleUserIDs []int64) (map[int64]domain.Progress, error)
}
