package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/chute-dev/chute/checksum"
)

// NoChecksum turns checksums off (UploadOptions.Checksum).
const NoChecksum checksum.Algorithm = "none"

// DefaultChecksum is the algorithm Upload uses when none is set.
const DefaultChecksum = checksum.CRC64NVME

// DefaultChecksumPassMax is the default UploadOptions.ChecksumPassMax.
const DefaultChecksumPassMax = 64 << 20

// ChecksumError is a stored object whose checksum differs from the file's.
type ChecksumError struct {
	Algorithm checksum.Algorithm
	Stored    string // the store's value, as Chute reported it
	Computed  string // the value of the bytes the client sent
}

func (e *ChecksumError) Error() string {
	return fmt.Sprintf("checksum mismatch: the stored object's %s is %s, the file's is %s", e.Algorithm, e.Stored, e.Computed)
}

// algorithm returns the algorithm opts ask for; "" for none.
func (o UploadOptions) algorithm() (checksum.Algorithm, error) {
	switch {
	case o.Checksum == NoChecksum:
		return "", nil
	case o.Checksum == "" && o.Checksums:
		return checksum.SHA256, nil
	case o.Checksum == "":
		return DefaultChecksum, nil
	case !o.Checksum.Valid():
		return "", fmt.Errorf("unknown checksum algorithm %q (want one of %s, or none)", o.Checksum, checksum.List(checksum.All))
	}
	return o.Checksum, nil
}

func (o UploadOptions) passMax() int64 {
	if o.ChecksumPassMax == 0 {
		return DefaultChecksumPassMax
	}
	return o.ChecksumPassMax
}

// isChecksumRefusal reports whether err is Chute refusing a checksum it
// was asked for: a 400 whose message is about the checksum (an algorithm
// the store cannot verify, or a server that does not know the field).
func isChecksumRefusal(err error) (*APIError, bool) {
	var ae *APIError
	if errors.As(err, &ae) && ae.Status == http.StatusBadRequest && strings.Contains(strings.ToLower(ae.Message), "checksum") {
		return ae, true
	}
	return nil, false
}

// hashRange returns the digest of size bytes of file at off.
func hashRange(ctx context.Context, alg checksum.Algorithm, file io.ReaderAt, off, size int64) ([]byte, error) {
	h := alg.New()
	r := io.NewSectionReader(file, off, size)
	buf := make([]byte, 1<<20)
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		n, err := r.Read(buf)
		h.Write(buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	return h.Sum(nil), nil
}

// sums is what one upload knows of its checksums.
type sums struct {
	alg      checksum.Algorithm // "" none
	declared string             // whole value declared at create
	note     string             // why checks were dropped

	mu    sync.Mutex
	parts map[int][]byte // part digests
	off   bool           // part checksums refused on resume
}

// enabled reports whether parts are to be checksummed.
func (s *sums) enabled() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.alg != "" && !s.off
}

func (s *sums) set(n int, d []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.parts == nil {
		s.parts = map[int][]byte{}
	}
	s.parts[n] = d
}

func (s *sums) get(n int) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.parts[n]
}

// turnOff records that Chute refused part checksums.
func (s *sums) turnOff(why string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.off {
		s.off = true
		s.note = why
	}
}

// verify fills res.Checksum (or res.ChecksumNote) after complete answered
// cm. m is nil for a single upload.
func (c *Client) verify(ctx context.Context, s *sums, m *multi, cm *Completed, res *Result) error {
	if s == nil || s.alg == "" {
		if s != nil && s.note != "" {
			res.ChecksumNote = s.note
		}
		return nil
	}
	if s.off {
		res.ChecksumNote = s.note
		return nil
	}
	stored := cm.Checksum
	if s.declared != "" {
		// Chute compared the stored object with it before answering.
		res.Checksum = checksum.Value{Algorithm: s.alg, Value: s.declared}
		if stored != nil && checksum.Algorithm(stored.Algorithm) == s.alg && stored.Value != "" && !strings.Contains(stored.Value, "-") && stored.Value != s.declared {
			return &ChecksumError{Algorithm: s.alg, Stored: stored.Value, Computed: s.declared}
		}
		return nil
	}
	if stored == nil || stored.Value == "" || checksum.Algorithm(stored.Algorithm) != s.alg || m == nil {
		res.ChecksumNote = fmt.Sprintf("Chute reported no %s value for the whole object: each part was verified by the store as it arrived, the whole file was not compared", s.alg)
		return nil
	}
	local, err := localValue(ctx, s, m, stored.Value)
	if err != nil {
		return err
	}
	if local == "" {
		res.ChecksumNote = fmt.Sprintf("the stored object's %s (%s) cannot be compared without reading the file again; each part was verified by the store", s.alg, stored.Value)
		return nil
	}
	if local != stored.Value {
		return &ChecksumError{Algorithm: s.alg, Stored: stored.Value, Computed: local}
	}
	res.Checksum = checksum.Value{Algorithm: s.alg, Value: stored.Value}
	return nil
}

// localValue is the file's value in the form the store reported (a full
// object value, or COMPOSITE "-N"), from the digests the upload computed;
// "" when it cannot be had without reading the whole file again.
func localValue(ctx context.Context, s *sums, m *multi, stored string) (string, error) {
	composite := strings.Contains(stored, "-")
	if !composite && !s.alg.IsCRC() {
		return "", nil
	}
	digests := make([][]byte, m.count)
	ranges := make([]checksum.Range, m.count)
	for n := 1; n <= m.count; n++ {
		d := s.get(n)
		if d == nil {
			// Sent by an earlier run (resume): hash it now.
			var err error
			if d, err = hashRange(ctx, s.alg, m.file, int64(n-1)*m.partSize, m.sizeOf(n)); err != nil {
				return "", fmt.Errorf("reading part %d: %w", n, err)
			}
		}
		digests[n-1] = d
		ranges[n-1] = checksum.Range{Digest: d, Size: m.sizeOf(n)}
	}
	if composite {
		return checksum.CompositeOf(s.alg, digests), nil
	}
	whole, err := checksum.CombineAll(s.alg, ranges...)
	if err != nil {
		return "", err
	}
	return checksum.Encode(whole), nil
}
