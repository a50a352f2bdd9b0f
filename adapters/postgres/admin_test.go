package postgres_test

import (
	"testing"

	"github.com/acme/notifier/adapters/storetest"
)

func TestAdminStoreContract(t *testing.T) {
	storetest.RunAdmin(t, func(t *testing.T) storetest.AdminStores { return openStore(t) })
}
