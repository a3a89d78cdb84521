package backends

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/s3utils"

	"github.com/chute-dev/chute/checksum"
)

// This file holds the fast path for presigned URLs. minio-go's presigner
// re-derives the SigV4 signing key (four HMACs) for every URL, parses and
// re-encodes the URL twice and allocates about 150 times; Chute signs a
// URL per part, so that cost is most of what a part-urls request costs.
//
// fastSigner produces the very same URLs, byte for byte (presign_test.go
// checks this against minio-go's PresignHeader over many inputs): the
// signing key is derived once per UTC day (the region and service never
// change for one adapter) and the canonical request, string to sign and
// URL are written into one buffer. It handles only the plain case: static
// SigV4 credentials without a session token, an endpoint whose URLs
// minio-go builds as "<base>/<EncodePath(key)>", no headers or query
// parameters that minio-go would treat specially. For anything else the
// adapter keeps using minio-go, which stays the reference.

// Service and algorithm of the SigV4 scope the fast path signs for.
const (
	sigV4Algorithm = "AWS4-HMAC-SHA256"
	sigV4Service   = "s3"
	sigV4Terminal  = "aws4_request"
	amzDateLayout  = "20060102T150405Z"
	amzDayLayout   = "20060102"
	unsignedBody   = "UNSIGNED-PAYLOAD"
)

// fastSigner presigns URLs for one bucket of one endpoint with one pair
// of static credentials. It is safe for concurrent use.
type fastSigner struct {
	accessKey string
	secretKey string
	region    string
	// base is what precedes the encoded object key in every URL:
	// scheme, host and, for path-style addressing, "/bucket/".
	base string
	// host is the value of the signed Host header.
	host string
	// pathPrefix is base's path, the start of the canonical URI.
	pathPrefix string

	// day caches the signing key of the current UTC day.
	day atomic.Pointer[signingDay]
	// stamp caches the X-Amz-Date of the current second (a batch of
	// part URLs is signed within one or two seconds).
	stamp atomic.Pointer[signingStamp]
}

// signingStamp is the X-Amz-Date of one second and its signing day.
type signingStamp struct {
	sec     int64
	amzDate string
	day     *signingDay
	// query is the start of the X-Amz-* query parameters signed in
	// this second, up to the value of X-Amz-Expires:
	// "X-Amz-Algorithm=…&X-Amz-Credential=…&X-Amz-Date=…&X-Amz-Expires=".
	query string
}

// stampFor returns the X-Amz-Date and signing day of t (UTC), formatting
// them at most once a second (two goroutines crossing a second together
// may both format it; either result is correct).
func (f *fastSigner) stampFor(t time.Time) *signingStamp {
	sec := t.Unix()
	if st := f.stamp.Load(); st != nil && st.sec == sec {
		return st
	}
	st := &signingStamp{sec: sec, amzDate: t.Format(amzDateLayout), day: f.dayFor(t)}
	// Neither the algorithm nor a date needs escaping; cred is escaped.
	st.query = "X-Amz-Algorithm=" + sigV4Algorithm + "&X-Amz-Credential=" + st.day.cred +
		"&X-Amz-Date=" + st.amzDate + "&X-Amz-Expires="
	f.stamp.Store(st)
	return st
}

// signingDay is the SigV4 signing key of one UTC day, with its HMAC
// pads.
type signingDay struct {
	date  string // yyyymmdd
	scope string // yyyymmdd/region/s3/aws4_request
	cred  string // query-escaped access key + "/" + scope
	key   []byte
	// ipad and opad are the HMAC pads of key (see mac).
	ipad, opad [sha256.BlockSize]byte
}

// newFastSigner returns the fast path for signer's presigned URLs of
// bucket, or nil when signer is configured in a way the fast path does
// not reproduce. It presigns one probe URL with minio-go to learn the
// URL layout, then checks that the fast path gives exactly the same URL
// for a second probe; any difference disables the fast path.
func newFastSigner(signer *minio.Client, bucket, region, accessKey, secretKey string) *fastSigner {
	ep := signer.EndpointURL()
	if ep == nil || accessKey == "" || secretKey == "" ||
		s3utils.IsAmazonOutpostsEndpoint(*ep) || s3utils.IsS3ExpressBucket(bucket) {
		return nil
	}
	const probeKey = "probe"
	u, err := signer.PresignHeader(context.Background(), http.MethodGet, bucket, probeKey, time.Minute, nil, nil)
	if err != nil || u.RawPath != "" || !strings.HasSuffix(u.Path, "/"+probeKey) || u.User != nil || u.Fragment != "" {
		return nil
	}
	q := u.Query()
	if q.Get("X-Amz-Security-Token") != "" || q.Get("X-Amz-S3session-Token") != "" ||
		q.Get("X-Amz-SignedHeaders") != "host" ||
		!strings.HasSuffix(q.Get("X-Amz-Credential"), "/"+region+"/"+sigV4Service+"/"+sigV4Terminal) {
		return nil
	}
	prefix := strings.TrimSuffix(u.Path, probeKey)
	f := &fastSigner{
		accessKey:  accessKey,
		secretKey:  secretKey,
		region:     region,
		base:       u.Scheme + "://" + u.Host + prefix,
		host:       u.Host,
		pathPrefix: prefix,
	}
	if !f.selfCheck(signer, bucket) {
		return nil
	}
	return f
}

// selfCheck presigns a part URL with both signers and reports whether
// they agree. The two must sign within the same second; it retries a
// few times when a second boundary falls in between.
func (f *fastSigner) selfCheck(signer *minio.Client, bucket string) bool {
	const key = "self check/ü+%.bin"
	query := url.Values{"partNumber": {"7"}, "uploadId": {"a b+c/="}}
	headers := map[string]string{headerContentLength: "5242880", headerChecksumSHA256: "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hi/Fg="}
	signed := http.Header{}
	for k, v := range headers {
		signed.Set(k, v)
	}
	for range 5 {
		before := time.Now().Unix()
		u, err := signer.PresignHeader(context.Background(), http.MethodPut, bucket, key, 15*time.Minute, query, signed)
		if err != nil {
			return false
		}
		got, _, ok := f.presign(time.Unix(before, 0), http.MethodPut, key, query, headers, 15*time.Minute)
		if time.Now().Unix() != before {
			continue
		}
		return ok && got == u.String()
	}
	return false
}

// dayFor returns the signing key of t's UTC day, deriving it at most
// once a day (two goroutines crossing midnight together may both derive
// it; either result is correct).
func (f *fastSigner) dayFor(t time.Time) *signingDay {
	var buf [8]byte
	date := t.AppendFormat(buf[:0], amzDayLayout)
	if d := f.day.Load(); d != nil && d.date == string(date) {
		return d
	}
	d := &signingDay{date: string(date)}
	d.scope = d.date + "/" + f.region + "/" + sigV4Service + "/" + sigV4Terminal
	d.cred = queryEscape(f.accessKey + "/" + d.scope)
	k := hmacSHA256([]byte("AWS4"+f.secretKey), date)
	k = hmacSHA256(k, []byte(f.region))
	k = hmacSHA256(k, []byte(sigV4Service))
	d.key = hmacSHA256(k, []byte(sigV4Terminal))
	for i := range d.ipad { // the key (32 bytes) padded with zeros to a block
		var b byte
		if i < len(d.key) {
			b = d.key[i]
		}
		d.ipad[i], d.opad[i] = b^0x36, b^0x5c
	}
	f.day.Store(d)
	return d
}

func hmacSHA256(key, data []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(data)
	return m.Sum(nil)
}

// param is one query parameter.
type param struct{ k, v string }

// header is one signed header: lower-case name, trimmed value.
type header struct{ k, v string }

// presign returns the URL minio-go's PresignHeader would return at now
// for method on key with query and the signed headers, and when it
// expires. ok is false when the request is one the fast path leaves to
// minio-go.
func (f *fastSigner) presign(now time.Time, method, key string, query url.Values, headers map[string]string, ttl time.Duration) (u string, expires time.Time, ok bool) {
	if s3utils.CheckValidObjectName(key) != nil {
		return "", time.Time{}, false
	}
	var pbuf [4]param
	params := pbuf[:0]
	for k, vs := range query {
		if len(vs) != 1 {
			return "", time.Time{}, false
		}
		params = append(params, param{k, vs[0]})
	}
	return f.presignParams(now, method, key, params, headers, ttl)
}

// presignParams is presign with the query as a list of parameters (any
// order, each name once).
func (f *fastSigner) presignParams(now time.Time, method, key string, params []param, headers map[string]string, ttl time.Duration) (u string, expires time.Time, ok bool) {
	if s3utils.CheckValidObjectName(key) != nil {
		return "", time.Time{}, false
	}
	for _, p := range params {
		if len(p.k) >= 6 && strings.EqualFold(p.k[:6], "x-amz-") {
			return "", time.Time{}, false
		}
	}
	for i := 1; i < len(params); i++ { // insertion sort: a handful of entries
		for j := i; j > 0 && params[j].k < params[j-1].k; j-- {
			params[j], params[j-1] = params[j-1], params[j]
		}
	}
	var hbuf [6]header
	hdrs := hbuf[:0]
	for k, v := range headers {
		lk := lowerHeader(k)
		switch lk {
		case "host", "authorization", "user-agent", "accept-encoding", "x-amz-content-sha256":
			return "", time.Time{}, false
		}
		hdrs = append(hdrs, header{lk, trimAll(v)})
	}
	hdrs = append(hdrs, header{"host", f.host})
	for i := 1; i < len(hdrs); i++ {
		for j := i; j > 0 && hdrs[j].k < hdrs[j-1].k; j-- {
			hdrs[j], hdrs[j-1] = hdrs[j-1], hdrs[j]
		}
	}
	for i := 1; i < len(hdrs); i++ {
		if hdrs[i].k == hdrs[i-1].k {
			return "", time.Time{}, false // two spellings of one header
		}
	}
	u, expires = f.sign(now, method, encodePath(key), params, hdrs, signedHeaderList(hdrs), ttl)
	return u, expires, true
}

// encodePath is s3utils.EncodePath without its regular expression for
// the keys Chute makes: a key of only letters, digits and "-_.~/" is
// returned as it is, as EncodePath returns it (presign_test.go compares
// the two over every byte and random keys); any other key goes to
// EncodePath.
func encodePath(key string) string {
	if key == "" {
		return s3utils.EncodePath(key)
	}
	for i := 0; i < len(key); i++ {
		if c := key[i]; !queryUnreserved[c] && c != '/' {
			return s3utils.EncodePath(key)
		}
	}
	return key
}

// sign writes the canonical request, signs it at now and returns the
// URL and when it expires. params are sorted by name and hold no X-Amz-*
// parameter; hdrs are sorted by name and include host; signed is their
// names joined by ";" (X-Amz-SignedHeaders).
func (f *fastSigner) sign(now time.Time, method, encKey string, params []param, hdrs []header, signed string, ttl time.Duration) (string, time.Time) {
	now = now.UTC()
	st := f.stampFor(now)

	// The canonical request: method, path, query string, headers,
	// signed header names, payload hash.
	//
	// The query string is minio-go's url.Values.Encode (names sorted,
	// QueryEscape) with "+" turned into "%20". The X-Amz-* parameters
	// sort together: a name between X-Amz-Algorithm and
	// X-Amz-SignedHeaders would start with "X-Amz-", and presignParams
	// refuses those, so the parameters named before "X-Amz-Algorithm"
	// come first, then the five X-Amz-* ones (most of them per second in
	// st.query), then the rest. It is written in place, and the URL
	// copies it from there. The buffers live on the stack unless a URL
	// outgrows them.
	var crBuf [1024]byte
	cr := append(crBuf[:0], method...)
	cr = append(cr, '\n')
	cr = append(cr, f.pathPrefix...)
	cr = append(cr, encKey...)
	cr = append(cr, '\n')
	qsStart := len(cr)
	j := 0
	for ; j < len(params) && params[j].k < "X-Amz-Algorithm"; j++ {
		cr = appendParam(cr, params[j])
		cr = append(cr, '&')
	}
	cr = append(cr, st.query...)
	cr = strconv.AppendInt(cr, int64(ttl/time.Second), 10)
	cr = append(cr, "&X-Amz-SignedHeaders="...)
	cr = appendQueryEscape(cr, signed)
	for ; j < len(params); j++ {
		cr = append(cr, '&')
		cr = appendParam(cr, params[j])
	}
	qsEnd := len(cr)
	cr = append(cr, '\n')
	for _, h := range hdrs {
		cr = append(cr, h.k...)
		cr = append(cr, ':')
		cr = append(cr, h.v...)
		cr = append(cr, '\n')
	}
	cr = append(cr, '\n')
	cr = append(cr, signed...)
	cr = append(cr, '\n')
	cr = append(cr, unsignedBody...)
	crSum := sha256.Sum256(cr)
	qs := cr[qsStart:qsEnd]

	// The string to sign, written after the HMAC's inner pad.
	d := st.day
	var stsBuf [sha256.BlockSize + 192]byte
	sts := append(stsBuf[:0], d.ipad[:]...)
	sts = append(sts, sigV4Algorithm...)
	sts = append(sts, '\n')
	sts = append(sts, st.amzDate...)
	sts = append(sts, '\n')
	sts = append(sts, d.scope...)
	sts = append(sts, '\n')
	sts = hex.AppendEncode(sts, crSum[:])
	sig := d.macPadded(sts)

	var out strings.Builder
	out.Grow(len(f.base) + len(encKey) + 1 + len(qs) + len("&X-Amz-Signature=") + 2*sha256.Size)
	out.WriteString(f.base)
	out.WriteString(encKey)
	out.WriteByte('?')
	out.Write(qs)
	out.WriteString("&X-Amz-Signature=")
	var hexSig [2 * sha256.Size]byte
	hex.Encode(hexSig[:], sig[:])
	out.Write(hexSig[:])
	return out.String(), time.Unix(st.sec, 0).UTC().Add(ttl.Truncate(time.Second))
}

// appendParam appends one query parameter, name and value escaped.
func appendParam(dst []byte, p param) []byte {
	dst = appendQueryEscape(dst, p.k)
	dst = append(dst, '=')
	return appendQueryEscape(dst, p.v)
}

// mac is HMAC-SHA256 of msg with the day's signing key (RFC 2104 with the
// pads precomputed), written with sha256.Sum256 on stack buffers: no
// allocation and no pool, unlike crypto/hmac behind its interface.
// presign_test.go checks the URLs against minio-go's, and
// TestSigningDayMAC against crypto/hmac.
func (d *signingDay) mac(msg []byte) [sha256.Size]byte {
	var ibuf [sha256.BlockSize + 320]byte
	in := append(ibuf[:0], d.ipad[:]...)
	return d.macPadded(append(in, msg...))
}

// macPadded is mac of in[sha256.BlockSize:], for an in that starts with
// the day's inner pad (d.ipad): sign writes the string to sign after it
// rather than copying it there.
func (d *signingDay) macPadded(in []byte) [sha256.Size]byte {
	inner := sha256.Sum256(in)
	var obuf [sha256.BlockSize + sha256.Size]byte
	copy(obuf[:], d.opad[:])
	copy(obuf[sha256.BlockSize:], inner[:])
	return sha256.Sum256(obuf[:])
}

// lowerHeader returns the lower-case form of a header name, without
// allocating for the names Chute signs most (the checksum headers are
// already lower case: checksum.Algorithm.Header).
func lowerHeader(k string) string {
	switch k {
	case headerContentLength:
		return "content-length"
	case headerContentType:
		return "content-type"
	case "x-amz-checksum-crc64nvme", "x-amz-checksum-crc32c", "x-amz-checksum-crc32",
		"x-amz-checksum-sha256", "x-amz-checksum-sha1":
		return k
	}
	return strings.ToLower(k)
}

// signedHeaderList returns the names of hdrs joined by ";", without
// allocating for the lists of part URLs (partSignedHeaders) and of URLs
// that sign only the host.
func signedHeaderList(hdrs []header) string {
	var buf [256]byte
	b := buf[:0]
	for i, h := range hdrs {
		if i > 0 {
			b = append(b, ';')
		}
		b = append(b, h.k...)
	}
	if string(b) == "host" {
		return "host"
	}
	for _, lists := range partSignedHeaders {
		for _, l := range lists {
			if l == string(b) {
				return l
			}
		}
	}
	return string(b)
}

// trimAll trims s and collapses inner runs of white space to one space,
// as SigV4 canonical header values require (minio-go's signV4TrimAll).
func trimAll(s string) string {
	plain := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x80 {
			plain = false
			break
		}
	}
	if plain {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
}

// queryEscape is url.QueryEscape with spaces as %20.
func queryEscape(s string) string {
	return string(appendQueryEscape(nil, s))
}

// appendQueryEscape appends s escaped as url.QueryEscape does, except
// that a space becomes %20 (minio-go turns every "+" of the encoded
// query into "%20", and QueryEscape writes a literal "+" as %2B). Runs
// of bytes that need no escaping are copied whole: an upload id or key
// that needs none costs one scan and one copy.
func appendQueryEscape(dst []byte, s string) []byte {
	const hexDigits = "0123456789ABCDEF"
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if queryUnreserved[c] {
			continue
		}
		dst = append(dst, s[start:i]...)
		dst = append(dst, '%', hexDigits[c>>4], hexDigits[c&15])
		start = i + 1
	}
	return append(dst, s[start:]...)
}

// queryUnreserved marks the bytes url.QueryEscape writes as they are:
// letters, digits and "-_.~".
var queryUnreserved = func() (t [256]bool) {
	for c := range t {
		t[c] = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~'
	}
	return t
}()

// fastPresignPart is PresignPart's fast path, for a part whose options
// PresignPart has checked: the query is built as two parameters instead
// of a url.Values and the canonical headers straight from opts, without
// a map to walk; a part with neither checksum nor content type gets the
// adapter's shared Headers map for its size (partHeaderCache). ok is
// false when the request must take the general path (which also reports
// a bad key or ttl).
func (s *S3) fastPresignPart(key, uploadID string, partNumber int, opts PartOptions, ttl time.Duration) (PresignedRequest, bool) {
	f := s.fast
	if f == nil || checkKey(key) != nil || ttl < MinPresignTTL || ttl > MaxPresignTTL {
		return PresignedRequest{}, false
	}
	sized := s.partHeaders.get(opts.Size)
	headers := sized.headers
	// The canonical headers in their order: content-length, content-type,
	// host, x-amz-checksum-*.
	var hbuf [4]header
	hdrs := append(hbuf[:0], header{"content-length", sized.length})
	var sumHeader string
	sumSlot := 0
	if opts.Checksum.Value != "" {
		if sumHeader, sumSlot = checksumHeader(opts.Checksum.Algorithm); sumSlot == 0 {
			return PresignedRequest{}, false
		}
	}
	typed := 0
	if opts.ContentType != "" || sumSlot != 0 {
		headers = make(map[string]string, 3)
		headers[headerContentLength] = sized.length
		if opts.ContentType != "" {
			typed = 1
			headers[headerContentType] = opts.ContentType
			hdrs = append(hdrs, header{"content-type", trimAll(opts.ContentType)})
		}
		if sumSlot != 0 {
			headers[sumHeader] = opts.Checksum.Value
		}
	}
	hdrs = append(hdrs, header{"host", f.host})
	if sumSlot != 0 {
		hdrs = append(hdrs, header{sumHeader, trimAll(opts.Checksum.Value)})
	}
	var nb [8]byte
	params := [2]param{{"partNumber", string(strconv.AppendInt(nb[:0], int64(partNumber), 10))}, {"uploadId", uploadID}}
	u, exp := f.sign(time.Now(), http.MethodPut, encodePath(key), params[:], hdrs, partSignedHeaders[typed][sumSlot], ttl)
	return PresignedRequest{Method: http.MethodPut, URL: u, Headers: headers, ExpiresAt: exp}, true
}

// checksumHeaders are the x-amz-checksum-* header names (what
// checksum.Algorithm.Header returns, without building it per call), in
// the order of checksumHeader's slots 1 to 5.
var checksumHeaders = [...]string{"x-amz-checksum-crc64nvme", "x-amz-checksum-crc32c", "x-amz-checksum-crc32", "x-amz-checksum-sha256", "x-amz-checksum-sha1"}

// checksumHeader returns the header name of a and its slot in
// partSignedHeaders (1 to 5), or slot 0 for an algorithm it does not
// know.
func checksumHeader(a checksum.Algorithm) (string, int) {
	var i int
	switch a {
	case checksum.CRC64NVME:
		i = 0
	case checksum.CRC32C:
		i = 1
	case checksum.CRC32:
		i = 2
	case checksum.SHA256:
		i = 3
	case checksum.SHA1:
		i = 4
	default:
		return "", 0
	}
	return checksumHeaders[i], i + 1
}

// partSignedHeaders are the X-Amz-SignedHeaders values of the part URLs
// fastPresignPart signs, by whether Content-Type is signed (0, 1) and the
// checksum header's slot (0 for none, else checksumHeader's).
var partSignedHeaders = func() (lists [2][1 + len(checksumHeaders)]string) {
	for typed := range lists {
		for slot := range lists[typed] {
			names := []string{"content-length"}
			if typed == 1 {
				names = append(names, "content-type")
			}
			names = append(names, "host")
			if slot > 0 {
				names = append(names, checksumHeaders[slot-1])
			}
			lists[typed][slot] = strings.Join(names, ";")
		}
	}
	return lists
}()

// fastPresign signs with the fast path when the adapter has one and the
// request suits it; ok is false when minio-go must sign instead.
func (s *S3) fastPresign(method, key string, query url.Values, headers map[string]string, ttl time.Duration) (PresignedRequest, bool) {
	if s.fast == nil {
		return PresignedRequest{}, false
	}
	u, exp, ok := s.fast.presign(time.Now(), method, key, query, headers, ttl)
	if !ok {
		return PresignedRequest{}, false
	}
	return PresignedRequest{Method: method, URL: u, Headers: headers, ExpiresAt: exp}, true
}
