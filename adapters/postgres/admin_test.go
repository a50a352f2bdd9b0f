package postgres_test

import (
	"testing"

	"github.com/acme/notifier/adapters/postgres"
	"github.com/acme/notifier/adapters/storetest"
)

func TestAdminStoreContract(t *testing.T) {
	postgres.SetIdempotencyPurgeBatch(t, storetest.PurgeBatch)
	storetest.RunAdmin(t, func(t *testing.T) storetest.AdminStores { return openStore(t) })
}
