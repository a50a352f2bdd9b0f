// Package domain holds the notifier's entities and decisions: students,
// courses, enrollments, the MessageLog and its status machine, the messaging
// rules and the calendar and progress arithmetic they depend on.
//
// It performs no I/O. The only dependency outside the standard library is
// the phone-number metadata library used to normalise numbers to E.164.
package domain
