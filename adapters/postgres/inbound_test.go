package postgres_test

import (
	"testing"

	"github.com/acme/notifier/adapters/storetest"
	"github.com/acme/notifier/app"
)

func TestInboundStoreContract(t *testing.T) {
	storetest.RunInbound(t, func(t *testing.T) app.InboundStore { return openStore(t) })
}
