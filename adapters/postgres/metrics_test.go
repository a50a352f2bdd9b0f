package postgres_test

import (
	"testing"

	"github.com/acme/notifier/adapters/storetest"
)

func TestMetricsStoreContract(t *testing.T) {
	storetest.RunMetrics(t, func(t *testing.T) storetest.MetricsStore { return openStore(t) })
}
