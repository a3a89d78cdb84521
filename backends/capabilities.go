package backends

import (
	"slices"

	"github.com/chute-dev/chute/broker"
)

// Capabilities describes what this store can do beyond the ObjectStore
// port (broker.Describer): the abilities every S3 adapter has (reading
// heads and whole objects, server-side copies, POST policies, unsized
// parts), and those its provider preset claims (POST policy uploads,
// the checksums the store verifies, conditional writes). An ability the
// preset does not claim is reported as missing, whatever the store may
// do.
func (s *S3) Capabilities() broker.Capabilities {
	c := broker.Capabilities{
		Heads:        s,
		Reader:       s,
		Copier:       s,
		Post:         s,
		UnsizedParts: s,
		PostPolicy:   s.preset.PostPolicy(),
		Checksums: broker.ChecksumSupport{
			Parts:      slices.Clone(s.preset.PartChecksums),
			FullObject: slices.Clone(s.preset.FullObjectChecksums),
			ListsParts: s.preset.ListsPartChecksums,
		},
		ConditionalWrites: s.preset.ConditionalWrites,
		ConditionalCopy:   s.preset.ConditionalCopy,
		Bucket:            s.bucket,
	}
	if p := s.probed; p != nil {
		c.Checksums.Parts = mergeAlgs(c.Checksums.Parts, p.PartChecksums)
		c.Checksums.FullObject = mergeAlgs(c.Checksums.FullObject, p.FullObjectChecksums)
		c.Checksums.ListsParts = c.Checksums.ListsParts || p.ListsPartChecksums
		c.ConditionalWrites = c.ConditionalWrites || p.ConditionalWrites
	}
	return c
}
