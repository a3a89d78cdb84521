package backends

import "github.com/chute-dev/chute/broker"

// Capabilities describes what this store can do beyond the ObjectStore
// port (broker.Describer): the abilities every S3 adapter has, and those
// its provider preset allows.
func (s *S3) Capabilities() broker.Capabilities {
	return broker.Capabilities{
		Heads:        s,
		Reader:       s,
		Copier:       s,
		Post:         s,
		UnsizedParts: s,
		PostPolicy:   s.preset.PostPolicy(),
		Bucket:       s.bucket,
	}
}
