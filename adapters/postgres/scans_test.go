package postgres_test

import (
	"testing"

	"github.com/acme/notifier/adapters/storetest"
)

func TestScanStoreContract(t *testing.T) {
	storetest.RunScans(t, func(t *testing.T) storetest.ScanStores { return openStore(t) })
}
