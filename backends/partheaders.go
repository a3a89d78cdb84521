package backends

import (
	"strconv"
	"sync/atomic"
)

// partHeaderBits sets the size of partHeaderCache: 1<<partHeaderBits
// sizes (64; a few hundred bytes each).
const partHeaderBits = 6

// partHeaderCache holds, for recently signed part sizes, the decimal
// size and the Headers map PresignPart returns for a part of that size
// with neither checksum nor content type ({"Content-Length": size}), so
// that the parts of an upload, which nearly all have one size, share one
// map instead of allocating one per URL.
//
// The maps are shared: callers must treat PresignedRequest.Headers as
// read-only (PresignPart's doc says so; nothing in Chute writes to it).
// As a guard against a caller that writes anyway, a map that no longer
// holds exactly its one header is replaced, never handed out again.
//
// It is bounded (direct-mapped: a size goes in the slot its hash picks,
// replacing whatever was there), needs no lock and is safe for
// concurrent use; an entry is never changed once published.
type partHeaderCache struct {
	slots [1 << partHeaderBits]atomic.Pointer[partHeaders]
}

// partHeaders is one entry of partHeaderCache.
type partHeaders struct {
	size    int64
	length  string            // size in decimal
	headers map[string]string // {headerContentLength: length}
}

// get returns the entry for size, making it when its slot holds another
// size (or a map a caller changed).
func (c *partHeaderCache) get(size int64) *partHeaders {
	// Fibonacci hashing: part sizes are mostly multiples of a MiB, whose
	// low bits say nothing; the top bits of the product mix all of them.
	slot := &c.slots[uint64(size)*0x9e3779b97f4a7c15>>(64-partHeaderBits)]
	if p := slot.Load(); p != nil && p.size == size && len(p.headers) == 1 && p.headers[headerContentLength] == p.length {
		return p
	}
	length := strconv.FormatInt(size, 10)
	p := &partHeaders{size: size, length: length, headers: map[string]string{headerContentLength: length}}
	slot.Store(p)
	return p
}
