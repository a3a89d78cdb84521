package config

// Quota bounds the bytes each subject uploads, globally (quotas) or in
// one profile (profiles.<name>.quotas); both apply when both are set.
// The counts live in the sessions Redis, shared by every replica (see
// docs/upload-policy.md). 0 turns a limit off.
type Quota struct {
	// DailyBytes bounds the bytes a subject completes in a rolling day
	// (24 to 25 hours, counted per hour) plus the bytes its open uploads
	// have reserved. Default 0 (no limit).
	DailyBytes ByteSize `yaml:"daily_bytes"`
	// OpenBytes bounds the bytes a subject's open uploads have reserved:
	// their declared sizes (an upload of unknown size, from the Uppy
	// routes, reserves the profile's max_size). Default 0 (no limit).
	OpenBytes ByteSize `yaml:"open_bytes"`
}

// On reports whether a limit is set.
func (q Quota) On() bool { return q.DailyBytes > 0 || q.OpenBytes > 0 }

// validateQuotas checks the global quotas and every profile's.
func (c *Config) validateQuotas(add addFunc) {
	check := func(key string, q Quota) {
		if q.DailyBytes < 0 {
			add(key+".daily_bytes", "must not be negative (0 turns the limit off)")
		}
		if q.OpenBytes < 0 {
			add(key+".open_bytes", "must not be negative (0 turns the limit off)")
		}
	}
	check("quotas", c.Quotas)
	for _, name := range sortedKeys(c.Profiles) {
		check("profiles."+name+".quotas", c.Profiles[name].Quotas)
	}
}
