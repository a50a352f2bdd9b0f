package sqlite

import "testing"

// SetIdempotencyPurgeBatch makes PurgeIdempotencyKeys delete n records per
// statement until the test ends, so that the contract purges several
// batches without inserting tens of thousands of records. Call it from a
// test that is not parallel, before its subtests start.
func SetIdempotencyPurgeBatch(t *testing.T, n int) {
	old := idempotencyPurgeBatch
	idempotencyPurgeBatch = n
	t.Cleanup(func() { idempotencyPurgeBatch = old })
}
