package app

import "github.com/acme/notifier/domain"

// ScanObserver hears of each scan as it finishes, once across all replicas
// (the replica whose CompleteScans closed it). cmd/notifier turns it into
// metrics; the use cases stay free of any metrics library.
type ScanObserver interface {
	ScanFinished(sc Scan)
}

// ObserveScans makes the handler tell o of every scan it completes. Call it
// before the scheduler runs.
func (h *ScanHandler) ObserveScans(o ScanObserver) { h.observer = o }

// MessageTally is how many MessageLog rows hold one status under one rule:
// what the stores count for the metrics.
type MessageTally struct {
	Status domain.Status
	Rule   string
	Count  int
}
