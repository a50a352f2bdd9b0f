// Package storetest is the contract every app.Store implementation passes:
// one suite, run by each adapter's tests against its own engine, so that
// PostgreSQL and SQLite behave the same to the application.
package storetest

import (
	"testing"

	"github.com/acme/notifier/app"
)

type contractTest struct {
	name string
	run  func(t *testing.T, s app.Store)
}

// Run runs the contract suite. open gives each test a store of its own:
// empty, migrated, and closed when the test ends. The tests run in parallel.
func Run(t *testing.T, open func(t *testing.T) app.Store) {
	groups := [][]contractTest{studentTests, courseTests, enrollmentTests, enrolledTests, lookupTests, evaluateTests,
		messageTests, concurrencyTests}
	for _, group := range groups {
		for _, tc := range group {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				tc.run(t, open(t))
			})
		}
	}
}
