package whatsapp

// TrackedRecipients is the number of recipients a MemoryLimiter remembers.
func TrackedRecipients(l *MemoryLimiter) int { return l.tracked() }
