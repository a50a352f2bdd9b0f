package app

import (
	"context"
	"time"
)

// itemFinisher records finished scan items in groups (see grouper): an item
// is still recorded before its bus message is acknowledged; it only shares
// the statement and the commit with its neighbours.
type itemFinisher struct {
	group grouper[ScanItemResult, struct{}]
}

// maxFinishGroup bounds the items of one write.
const maxFinishGroup = 500

// finishTimeout bounds one write.
const finishTimeout = 10 * time.Second

func newItemFinisher(store ScanStore) *itemFinisher {
	return &itemFinisher{group: grouper[ScanItemResult, struct{}]{
		max: maxFinishGroup, timeout: finishTimeout,
		run: func(ctx context.Context, items []ScanItemResult) ([]struct{}, error) {
			return make([]struct{}, len(items)), store.FinishScanItems(ctx, items)
		},
	}}
}

// finish returns once item is written, or with the error of the write that
// held it (its handler is then retried).
func (f *itemFinisher) finish(ctx context.Context, item ScanItemResult) error {
	_, err := f.group.do(ctx, item)
	return err
}
