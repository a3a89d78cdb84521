package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/chute-dev/chute/checksum"
)

// urlBatch is how many part URLs Upload asks for at once (the API allows
// 1000; fewer keeps URLs fresh on long uploads).
const urlBatch = 100

// progressEvery is how often OnProgress is called at most.
var progressEvery = 200 * time.Millisecond

// Progress is a snapshot of an upload's progress.
type Progress struct {
	Uploaded  int64 // bytes in the store (or on the wire right now)
	Total     int64 // the file's size
	PartsDone int   // parts stored and reported
	Parts     int   // parts in all (1 for a single upload)
}

// UploadOptions describes an upload.
type UploadOptions struct {
	Filename    string            // a hint for the key's extension and Content-Disposition
	ContentType string            // required by Chute; "application/octet-stream" if empty
	Profile     string            // "" is the server's "default"
	Metadata    map[string]string // stored as object metadata
	Parallel    int               // parts in flight; 0 takes the client's (WithParallel)

	// ResumeID continues a session started earlier (see OnSession) instead
	// of creating one: Upload asks for its status with sync=true and sends
	// only the parts the store does not hold yet. The file must be the
	// same.
	ResumeID string

	// Checksum is the algorithm the bytes are checked with end to end
	// (see "Checksums" in the package doc): "" is DefaultChecksum
	// (CRC64NVME), NoChecksum turns checks off. Each part is read once more
	// to compute its checksum before it is sent, and signed on its own
	// (one part-urls call per part).
	Checksum checksum.Algorithm

	// ChecksumPassMax is the largest file whose whole checksum is computed
	// (one read of the file) before create, so that Chute checks the whole
	// object against it at complete. 0 is DefaultChecksumPassMax (64 MiB);
	// a negative value never reads ahead.
	ChecksumPassMax int64

	// Checksums is the older switch for SHA-256 part checksums.
	//
	// Deprecated: checksums are on by default; Checksums: true with no
	// Checksum is Checksum: checksum.SHA256.
	Checksums bool

	// OnProgress, if set, is called from one goroutine at a time as bytes
	// flow (at most every 200ms) and once at the end.
	OnProgress func(Progress)

	// OnSession, if set, is called with the session id before any bytes
	// are sent, so the caller can save it and resume after a failure.
	OnSession func(id string)
}

// Result is a finished upload.
type Result struct {
	ID          string
	Key         string
	ETag        string
	Size        int64
	DownloadURL string // presigned GET; a bearer credential, do not log it

	// Checksum is the whole object's checksum, checked end to end: the
	// value declared at create (which Chute checked at complete), or the
	// stored object's value as Chute reported it, equal to the one Upload
	// computed from the bytes it sent. Zero when nothing was compared.
	Checksum checksum.Value
	// ChecksumNote says why Checksum is zero although checksums were on:
	// Chute refused the algorithm (the store cannot verify it), or reported
	// no whole-object value to compare with.
	ChecksumNote string
}

// Upload sends size bytes of file through Chute: one presigned PUT for a
// single upload, or parallel part PUTs for a multipart upload, each read
// from an io.SectionReader so that memory stays at a few small buffers per
// part in flight. Network errors, 5xx and 429 from the store are retried
// with backoff; a part URL the store refuses with 403 (expired) is signed
// again. Each part is reported, then the session is completed.
//
// On error the session is left open so that it can be resumed with
// UploadOptions.ResumeID; call Abort to drop it instead.
func (c *Client) Upload(ctx context.Context, file io.ReaderAt, size int64, opts UploadOptions) (*Result, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if opts.ContentType == "" {
		opts.ContentType = "application/octet-stream"
	}
	parallel := opts.Parallel
	if parallel <= 0 {
		parallel = c.parallel
	}

	alg, err := opts.algorithm()
	if err != nil {
		return nil, err
	}
	sm := &sums{alg: alg}
	m := &multi{c: c, file: file, size: size, sums: sm, urls: map[int]PartURL{}}
	var single *SignedRequest
	done := map[int]bool{}
	if opts.ResumeID != "" {
		st, err := c.Status(ctx, opts.ResumeID, true)
		if err != nil {
			return nil, err
		}
		if st.Size != size {
			return nil, fmt.Errorf("resume %s: the session is for %d bytes, the file has %d", st.ID, st.Size, size)
		}
		if st.Checksum != nil && st.Checksum.Algorithm != "" {
			// The session's algorithm wins: its part URLs are signed
			// with it.
			sm.alg, sm.declared = checksum.Algorithm(st.Checksum.Algorithm), st.Checksum.Value
		}
		if st.Strategy == "multipart" {
			m.id, m.partSize, m.count = st.ID, st.PartSize, st.PartCount
		}
		switch st.State {
		case "completed":
			var mm *multi
			if st.Strategy == "multipart" {
				mm = m
			}
			return c.finish(ctx, st.ID, opts, size, 1, 1, sm, mm)
		case "pending", "uploading":
		case "rejected":
			reason := st.Reason
			if reason == "" {
				reason = "the application rejected the upload"
			}
			return nil, &APIError{Status: 422, Code: CodeRejected, Message: reason}
		default:
			return nil, fmt.Errorf("resume %s: session is %s", st.ID, st.State)
		}
		m.id = st.ID
		if st.Strategy == "single" {
			// The PUT URL is not kept: the upload can only be resumed if
			// the object is already there.
			res, err := c.finish(ctx, st.ID, opts, size, 1, 1, sm, nil)
			if err != nil {
				return nil, fmt.Errorf("resume %s: a single upload cannot be resumed unless its PUT finished (upload again): %w", st.ID, err)
			}
			return res, nil
		}
		for _, p := range st.Parts {
			if p.ETag != "" && p.Number >= 1 && p.Number <= m.count && p.Size == m.sizeOf(p.Number) {
				done[p.Number] = true
			}
		}
	} else {
		u, err := c.create(ctx, file, size, opts, sm)
		if err != nil {
			return nil, err
		}
		m.id, m.partSize, m.count, single = u.ID, u.PartSize, u.PartCount, u.Upload
		if u.Strategy == "single" && single == nil {
			return nil, errors.New("chute: single upload without a PUT request")
		}
		if sm.alg == "" {
			// With checksums each part is signed with its own.
			for _, p := range u.Parts {
				m.urls[p.PartNumber] = p
			}
		}
	}
	if opts.OnSession != nil {
		opts.OnSession(m.id)
	}

	parts := m.count
	if single != nil {
		parts = 1
	}
	prog := &progress{total: size, parts: parts}
	for n := range done {
		prog.uploaded.Add(m.sizeOf(n))
		prog.done.Add(1)
	}
	m.prog = prog
	stop := prog.run(opts.OnProgress)
	if single != nil {
		err = c.putSingle(ctx, single, file, size, prog)
	} else {
		for n := 1; n <= m.count; n++ {
			if !done[n] {
				m.pending = append(m.pending, n)
			}
		}
		err = m.run(ctx, parallel)
	}
	stop()
	if err != nil {
		return nil, err
	}
	var mm *multi
	if single == nil {
		mm = m
	}
	return c.finish(ctx, m.id, opts, size, parts, parts, sm, mm)
}

// create opens the session, asking for sm.alg (and declaring the whole
// file's value when the file is small enough to read first). If Chute
// refuses the checksum it creates the session without one and notes why
// in sm.
func (c *Client) create(ctx context.Context, file io.ReaderAt, size int64, opts UploadOptions, sm *sums) (*Upload, error) {
	req := CreateRequest{Filename: opts.Filename, ContentType: opts.ContentType, Size: &size, Profile: opts.Profile, Metadata: opts.Metadata}
	if sm.alg != "" {
		req.Checksum = &ChecksumRequest{Algorithm: string(sm.alg)}
		if pm := opts.passMax(); pm >= 0 && size <= pm {
			d, err := hashRange(ctx, sm.alg, file, 0, size)
			if err != nil {
				return nil, fmt.Errorf("reading the file for its checksum: %w", err)
			}
			req.Checksum.Value = checksum.Encode(d)
		}
	}
	u, err := c.Create(ctx, req)
	if ae, ok := isChecksumRefusal(err); ok && req.Checksum != nil {
		c.log.Warn("Chute refused the checksum; uploading without one", "algorithm", sm.alg, "err", ae.Message)
		sm.note = fmt.Sprintf("uploaded without a checksum: Chute refused %s (%s)", sm.alg, ae.Message)
		sm.alg = ""
		req.Checksum = nil
		u, err = c.Create(ctx, req)
	}
	if err != nil {
		return nil, err
	}
	if sm.alg != "" && req.Checksum.Value == "" && u.Strategy == "single" {
		// The one URL of a single upload must carry the whole value (the
		// store wants a checksum with every part of such a session), and
		// it is signed at create. The file is at most single_max: hash it
		// and start again with the value.
		d, err := hashRange(ctx, sm.alg, file, 0, size)
		if err != nil {
			return nil, fmt.Errorf("reading the file for its checksum: %w", err)
		}
		if _, err := c.Abort(ctx, u.ID); err != nil {
			c.log.Warn("could not abort a session created without the file's checksum", "id", u.ID, "err", err)
		}
		req.Checksum.Value = checksum.Encode(d)
		if u, err = c.Create(ctx, req); err != nil {
			return nil, err
		}
	}
	if sm.alg != "" {
		sm.declared = req.Checksum.Value
	}
	return u, nil
}

// finish completes the session, checks the whole object's checksum and
// builds the Result. m is nil for a single upload.
func (c *Client) finish(ctx context.Context, id string, opts UploadOptions, size int64, done, parts int, sm *sums, m *multi) (*Result, error) {
	cm, err := c.Complete(ctx, id, nil)
	if err != nil {
		return nil, err
	}
	res := &Result{ID: cm.ID, Key: cm.Key, ETag: cm.ETag, Size: cm.Size}
	if cm.Download != nil {
		res.DownloadURL = cm.Download.URL
	}
	if m != nil && m.count == 0 {
		m = nil
	}
	if err := c.verify(ctx, sm, m, cm, res); err != nil {
		return nil, err
	}
	if opts.OnProgress != nil {
		opts.OnProgress(Progress{Uploaded: size, Total: size, PartsDone: done, Parts: parts})
	}
	return res, nil
}

// putSingle sends the whole file to a single upload's PUT URL.
func (c *Client) putSingle(ctx context.Context, r *SignedRequest, file io.ReaderAt, size int64, prog *progress) error {
	for attempt := 1; ; attempt++ {
		_, err := c.put(ctx, 0, r, file, 0, size, prog)
		if err == nil {
			prog.done.Add(1)
			return nil
		}
		if !c.retryable(ctx, err, attempt) {
			return err
		}
		c.log.Warn("single PUT failed, retrying", "attempt", attempt, "err", err)
		if err := c.sleep(ctx, attempt); err != nil {
			return err
		}
	}
}

// retryable reports whether a failed store request may be tried again
// with the same URL.
func (c *Client) retryable(ctx context.Context, err error, attempt int) bool {
	if attempt >= c.maxAttempts || ctx.Err() != nil {
		return false
	}
	var se *StoreError
	if errors.As(err, &se) {
		return se.Status >= 500 || se.Status == http.StatusTooManyRequests
	}
	return isNetErr(err)
}

// put sends size bytes at off to a presigned request and returns the ETag.
func (c *Client) put(ctx context.Context, part int, r *SignedRequest, file io.ReaderAt, off, size int64, prog *progress) (string, error) {
	cr := &countingReader{r: io.NewSectionReader(file, off, size), prog: prog}
	var body io.Reader = cr
	if size == 0 {
		body = http.NoBody
	}
	method := r.Method
	if method == "" {
		method = http.MethodPut
	}
	req, err := http.NewRequestWithContext(ctx, method, r.URL, body)
	if err != nil {
		return "", errors.New("invalid presigned URL")
	}
	for k, v := range r.Headers {
		switch {
		case strings.EqualFold(k, "Content-Length"):
			// Set below, from size: it is signed, so it must match.
		case strings.EqualFold(k, "Host"):
			req.Host = v
		default:
			req.Header.Set(k, v)
		}
	}
	req.ContentLength = size
	resp, err := c.hc.Do(req)
	if err != nil {
		prog.uploaded.Add(-cr.n.Load())
		return "", scrub(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		prog.uploaded.Add(-cr.n.Load())
		return "", &StoreError{Part: part, Status: resp.StatusCode, Code: xmlCode(data)}
	}
	// A short body the transport did not catch would be refused by the
	// store anyway (Content-Length is signed); count what was sent.
	return resp.Header.Get("ETag"), nil
}

// xmlCode returns the <Code> of an S3 XML error body.
func xmlCode(data []byte) string {
	s := string(data)
	i := strings.Index(s, "<Code>")
	j := strings.Index(s, "</Code>")
	if i < 0 || j < i {
		return ""
	}
	code := s[i+len("<Code>") : j]
	if len(code) > 64 {
		code = code[:64]
	}
	return code
}

// multi is one multipart upload in flight.
type multi struct {
	c        *Client
	id       string
	file     io.ReaderAt
	size     int64
	partSize int64
	count    int
	sums     *sums
	prog     *progress
	pending  []int // parts to send, ascending

	mu     sync.Mutex
	urls   map[int]PartURL // signed, not used yet
	issued map[int]bool    // parts whose URL a worker has taken
}

// sizeOf returns part n's planned size.
func (m *multi) sizeOf(n int) int64 {
	if n < m.count {
		return m.partSize
	}
	return m.size - int64(m.count-1)*m.partSize
}

// run sends the pending parts with parallel workers; the first error
// stops the others.
func (m *multi) run(ctx context.Context, parallel int) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan int)
	var (
		wg       sync.WaitGroup
		errOnce  sync.Once
		firstErr error
	)
	for range min(parallel, max(len(m.pending), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range jobs {
				if err := m.sendPart(ctx, n); err != nil {
					errOnce.Do(func() { firstErr = err; cancel() })
					return
				}
			}
		}()
	}
feed:
	for _, n := range m.pending {
		select {
		case jobs <- n:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}

// sendPart PUTs part n and reports it.
func (m *multi) sendPart(ctx context.Context, n int) error {
	off, size := int64(n-1)*m.partSize, m.sizeOf(n)
	var sum string
	if m.sums.enabled() {
		d, err := hashRange(ctx, m.sums.alg, m.file, off, size)
		if err != nil {
			return fmt.Errorf("reading part %d: %w", n, err)
		}
		m.sums.set(n, d)
		sum = checksum.Encode(d)
	}
	var cur *PartURL
	for attempt := 1; ; attempt++ {
		if cur == nil || time.Until(cur.ExpiresAt) < 5*time.Second && !cur.ExpiresAt.IsZero() {
			u, err := m.url(ctx, n, sum)
			if err != nil {
				return err
			}
			cur = &u
		}
		signed := SignedRequest{Method: cur.Method, URL: cur.URL, Headers: cur.Headers, ExpiresAt: cur.ExpiresAt}
		etag, err := m.c.put(ctx, n, &signed, m.file, off, size, m.prog)
		if err == nil {
			if etag == "" {
				return fmt.Errorf("part %d: the store answered no ETag", n)
			}
			if _, err := m.c.ReportPart(ctx, m.id, n, etag, size); err != nil {
				return fmt.Errorf("reporting part %d: %w", n, err)
			}
			m.prog.done.Add(1)
			return nil
		}
		var se *StoreError
		if errors.As(err, &se) && se.Status == http.StatusForbidden && attempt < m.c.maxAttempts && ctx.Err() == nil {
			// Most likely an expired URL: sign it again.
			m.c.log.Info("store refused part URL, signing it again", "part", n, "code", se.Code, "attempt", attempt)
			cur = nil
			continue
		}
		if !m.c.retryable(ctx, err, attempt) {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		m.c.log.Warn("part PUT failed, retrying", "part", n, "attempt", attempt, "err", err)
		if err := m.c.sleep(ctx, attempt); err != nil {
			return err
		}
	}
}

// url returns a fresh signed URL for part n. Without checksums it asks for
// a batch (n and the other pending parts no worker has asked for yet, in
// their order, up to urlBatch) and keeps the rest. Parts before n count
// too: workers take parts in order but reach this lock in any order.
func (m *multi) url(ctx context.Context, n int, sum string) (PartURL, error) {
	if sum != "" {
		got, err := m.c.PartURLs(ctx, m.id, []int{n}, map[int]string{n: sum})
		if ae, ok := isChecksumRefusal(err); ok {
			// A resumed session created without this algorithm: go on
			// without part checksums, and say so.
			m.c.log.Warn("Chute refused part checksums; sending parts without", "algorithm", m.sums.alg, "err", ae.Message)
			m.sums.turnOff(fmt.Sprintf("parts sent without checksums: Chute refused %s part checksums for this session (%s)", m.sums.alg, ae.Message))
			return m.url(ctx, n, "")
		}
		if err != nil {
			return PartURL{}, fmt.Errorf("signing part %d: %w", n, err)
		}
		for _, u := range got {
			if u.PartNumber == n {
				return u, nil
			}
		}
		return PartURL{}, fmt.Errorf("signing part %d: not in the answer", n)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.issued == nil {
		m.issued = map[int]bool{}
	}
	m.issued[n] = true
	if u, ok := m.urls[n]; ok {
		delete(m.urls, n)
		if u.ExpiresAt.IsZero() || time.Until(u.ExpiresAt) > 30*time.Second {
			return u, nil
		}
	}
	batch := []int{n}
	for _, k := range m.pending {
		if len(batch) >= urlBatch {
			break
		}
		if _, ok := m.urls[k]; k != n && !ok && !m.issued[k] {
			batch = append(batch, k)
		}
	}
	got, err := m.c.PartURLs(ctx, m.id, batch, nil)
	if err != nil {
		return PartURL{}, fmt.Errorf("signing part %d: %w", n, err)
	}
	for _, u := range got {
		m.urls[u.PartNumber] = u
	}
	u, ok := m.urls[n]
	if !ok {
		return PartURL{}, fmt.Errorf("signing part %d: not in the answer", n)
	}
	delete(m.urls, n)
	return u, nil
}

// progress counts bytes and parts; run reports them.
type progress struct {
	total    int64
	parts    int
	uploaded atomic.Int64
	done     atomic.Int64
}

func (p *progress) snapshot() Progress {
	return Progress{Uploaded: min(max(p.uploaded.Load(), 0), p.total), Total: p.total, PartsDone: int(p.done.Load()), Parts: p.parts}
}

// run calls fn every progressEvery while something changed, until the
// returned stop is called. stop waits for the last call to return.
func (p *progress) run(fn func(Progress)) (stop func()) {
	if fn == nil {
		return func() {}
	}
	fn(p.snapshot())
	quit, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		last := Progress{Uploaded: -1}
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				if s := p.snapshot(); s != last {
					last = s
					fn(s)
				}
			}
		}
	}()
	return func() { close(quit); <-finished }
}

// countingReader adds what is read to the progress.
type countingReader struct {
	r    io.Reader
	prog *progress
	n    atomic.Int64 // the transport may read after Do returns
}

func (r *countingReader) Read(b []byte) (int, error) {
	n, err := r.r.Read(b)
	r.n.Add(int64(n))
	r.prog.uploaded.Add(int64(n))
	return n, err
}
