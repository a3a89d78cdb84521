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
	return f.sign(now.UTC(), method, encodePath(key), params, hdrs, ttl), now.UTC().Truncate(time.Second).Add(ttl.Truncate(time.Second)), true
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
		if c := key[i]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '_' || c == '.' || c == '~' || c == '/') {
			return s3utils.EncodePath(key)
		}
	}
	return key
}

// sign writes the canonical request, signs it and returns the URL.
// params are sorted by name and hold no X-Amz-* parameter; hdrs are
// sorted by name and include host.
func (f *fastSigner) sign(t time.Time, method, encKey string, params []param, hdrs []header, ttl time.Duration) string {
	st := f.stampFor(t)
	d, amzDate := st.day, st.amzDate

	// The query string: minio-go's url.Values.Encode (names sorted,
	// QueryEscape) with "+" turned into "%20". Every X-Amz-* name sorts
	// before lower-case names; upper-case names other than X-Amz-* are
	// placed by plain byte order. The buffers live on the stack unless a
	// URL outgrows them.
	var qsBuf [512]byte
	qs := qsBuf[:0]
	var expBuf [20]byte
	amz := [...]param{
		{"X-Amz-Algorithm", sigV4Algorithm},
		{"X-Amz-Credential", ""}, // written pre-escaped below
		{"X-Amz-Date", amzDate},
		{"X-Amz-Expires", string(strconv.AppendInt(expBuf[:0], int64(ttl/time.Second), 10))},
		{"X-Amz-SignedHeaders", signedHeaderList(hdrs)},
	}
	i, j := 0, 0
	for i < len(amz) || j < len(params) {
		if len(qs) > 0 {
			qs = append(qs, '&')
		}
		if j >= len(params) || (i < len(amz) && amz[i].k < params[j].k) {
			qs = appendQueryEscape(qs, amz[i].k)
			qs = append(qs, '=')
			if amz[i].k == "X-Amz-Credential" {
				qs = append(qs, d.cred...)
			} else {
				qs = appendQueryEscape(qs, amz[i].v)
			}
			i++
			continue
		}
		qs = appendQueryEscape(qs, params[j].k)
		qs = append(qs, '=')
		qs = appendQueryEscape(qs, params[j].v)
		j++
	}

	// Canonical request, hashed.
	var crBuf [1024]byte
	cr := append(crBuf[:0], method...)
	cr = append(cr, '\n')
	cr = append(cr, f.pathPrefix...)
	cr = append(cr, encKey...)
	cr = append(cr, '\n')
	cr = append(cr, qs...)
	cr = append(cr, '\n')
	for _, h := range hdrs {
		cr = append(cr, h.k...)
		cr = append(cr, ':')
		cr = append(cr, h.v...)
		cr = append(cr, '\n')
	}
	cr = append(cr, '\n')
	cr = append(cr, amz[4].v...)
	cr = append(cr, '\n')
	cr = append(cr, unsignedBody...)
	crSum := sha256.Sum256(cr)

	// String to sign, reusing cr's buffer.
	sts := cr[:0]
	sts = append(sts, sigV4Algorithm...)
	sts = append(sts, '\n')
	sts = append(sts, amzDate...)
	sts = append(sts, '\n')
	sts = append(sts, d.scope...)
	sts = append(sts, '\n')
	sts = hex.AppendEncode(sts, crSum[:])

	sig := d.mac(sts)

	var out strings.Builder
	out.Grow(len(f.base) + len(encKey) + len(qs) + 1 + len("&X-Amz-Signature=") + 2*sha256.Size)
	out.WriteString(f.base)
	out.WriteString(encKey)
	out.WriteByte('?')
	out.Write(qs)
	out.WriteString("&X-Amz-Signature=")
	var hexSig [2 * sha256.Size]byte
	hex.Encode(hexSig[:], sig[:])
	out.Write(hexSig[:])
	return out.String()
}

// mac is HMAC-SHA256 of msg with the day's signing key (RFC 2104 with the
// pads precomputed), written with sha256.Sum256 on stack buffers: no
// allocation and no pool, unlike crypto/hmac behind its interface.
// presign_test.go checks the URLs against minio-go's, and
// TestSigningDayMAC against crypto/hmac.
func (d *signingDay) mac(msg []byte) [sha256.Size]byte {
	var ibuf [sha256.BlockSize + 320]byte
	in := append(ibuf[:0], d.ipad[:]...)
	in = append(in, msg...)
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

// partHeaderLists are the X-Amz-SignedHeaders values of the part URL
// shapes PresignPart makes: Content-Length, optionally Content-Type, and
// optionally one checksum header, keyed by the checksum header's name
// ("" for none) and whether Content-Type is signed.
var partHeaderLists = func() map[[2]string]string {
	m := make(map[[2]string]string)
	for _, c := range []string{"", "x-amz-checksum-crc64nvme", "x-amz-checksum-crc32c", "x-amz-checksum-crc32", "x-amz-checksum-sha256", "x-amz-checksum-sha1"} {
		for _, ct := range []string{"", "content-type"} {
			names := []string{"content-length"}
			if ct != "" {
				names = append(names, ct)
			}
			names = append(names, "host")
			if c != "" {
				names = append(names, c)
			}
			m[[2]string{c, ct}] = strings.Join(names, ";")
		}
	}
	return m
}()

// signedHeaderList returns the names of hdrs joined by ";", without
// allocating for the part URL shapes (partHeaderLists).
func signedHeaderList(hdrs []header) string {
	if len(hdrs) >= 2 && len(hdrs) <= 4 && hdrs[0].k == "content-length" {
		var key [2]string
		rest := hdrs[1:]
		if rest[0].k == "content-type" {
			key[1] = "content-type"
			rest = rest[1:]
		}
		if len(rest) >= 1 && rest[0].k == "host" {
			switch len(rest) {
			case 1:
				if v, ok := partHeaderLists[key]; ok {
					return v
				}
			case 2:
				key[0] = rest[1].k
				if v, ok := partHeaderLists[key]; ok {
					return v
				}
			}
		}
	}
	var b strings.Builder
	for i, h := range hdrs {
		if i > 0 {
			b.WriteByte(';')
		}
		b.WriteString(h.k)
	}
	return b.String()
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
// query into "%20", and QueryEscape writes a literal "+" as %2B).
func appendQueryEscape(dst []byte, s string) []byte {
	const hexDigits = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			dst = append(dst, c)
			continue
		}
		dst = append(dst, '%', hexDigits[c>>4], hexDigits[c&15])
	}
	return dst
}

// fastPresignPart is PresignPart's fast path: the query is built as two
// parameters instead of a url.Values. ok is false when the request must
// take the general path (which also reports a bad key or ttl).
func (s *S3) fastPresignPart(key, uploadID string, partNumber int, headers map[string]string, ttl time.Duration) (PresignedRequest, bool) {
	if s.fast == nil || checkKey(key) != nil || ttl < MinPresignTTL || ttl > MaxPresignTTL {
		return PresignedRequest{}, false
	}
	var nb [8]byte
	params := [2]param{{"partNumber", string(strconv.AppendInt(nb[:0], int64(partNumber), 10))}, {"uploadId", uploadID}}
	u, exp, ok := s.fast.presignParams(time.Now(), http.MethodPut, key, params[:], headers, ttl)
	if !ok {
		return PresignedRequest{}, false
	}
	return PresignedRequest{Method: http.MethodPut, URL: u, Headers: headers, ExpiresAt: exp}, true
}

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
