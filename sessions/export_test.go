package sessions

import "time"

// SetQuotaClock sets the clock of q (tests move it across the rolling day).
func SetQuotaClock(q *QuotaStore, now func() time.Time) { q.now = now }
