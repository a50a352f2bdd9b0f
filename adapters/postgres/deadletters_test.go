package postgres_test

import (
	"testing"

	"github.com/acme/notifier/adapters/storetest"
	"github.com/acme/notifier/app"
)

func TestDeadLetterContract(t *testing.T) {
	storetest.RunDeadLetters(t, func(t *testing.T) app.DeadLetterStore { return openStore(t) })
}
