package backends

import (
	"context"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chute-dev/chute/checksum"
)

// wantPartHeaders is the Headers map PresignPart returns for opts, built
// as the general (minio-go) path builds it.
func wantPartHeaders(opts PartOptions) map[string]string {
	h := map[string]string{headerContentLength: strconv.FormatInt(opts.Size, 10)}
	if opts.Checksum.Value != "" {
		h[opts.Checksum.Algorithm.Header()] = opts.Checksum.Value
	}
	if opts.ContentType != "" {
		h[headerContentType] = opts.ContentType
	}
	return h
}

// TestPresignPartShapesMatchMinio checks PresignPart's fast path, which
// builds the canonical headers from the options without a map, against
// minio-go for every part shape: no checksum and each algorithm, with
// and without a content type (one with white space to normalise), keys
// and upload ids that need escaping and ones that do not, several sizes
// and part numbers. Besides the URL, the Headers must be the map the
// general path builds and ExpiresAt the URL's X-Amz-Date plus
// X-Amz-Expires. Each case is signed twice, so the second one takes the
// shared Headers map.
func TestPresignPartShapesMatchMinio(t *testing.T) {
	ctx := context.Background()
	s := mustS3(t, testConfig())
	if s.fast == nil {
		t.Fatal("no fast path")
	}
	algs := append([]checksum.Algorithm{""}, checksum.All...)
	types := []string{"", "video/mp4", "text/plain;  charset=utf-8 "}
	sizes := []int64{0, 1, 5 << 20, 16 << 20, 5 << 30}
	uploadIDs := []string{"upload-123", "a b+c/=?&%", "MzRhYzE4ZjctN2Y3Yi00ZDk3LWE5NzUtYmQ3Y2ViZGEwNzU2LjE3MzI3MDU2MDA"}
	parts := []int{1, 10, 10000}
	ttls := []time.Duration{time.Minute, 15 * time.Minute, 90*time.Minute + 500*time.Millisecond}
	payload := []byte("part bytes")
	n := 0
	for ki, key := range presignKeys {
		for ai, a := range algs {
			opts := PartOptions{Size: sizes[(ki+ai)%len(sizes)], ContentType: types[(ki+2*ai)%len(types)]}
			if a != "" {
				opts.Checksum = checksum.Value{Algorithm: a, Value: a.Sum(payload)}
			}
			uid := uploadIDs[(ki+ai)%len(uploadIDs)]
			pn := parts[(ki*3+ai)%len(parts)]
			ttl := ttls[(ki+ai)%len(ttls)]
			want := wantPartHeaders(opts)
			signed := http.Header{}
			for k, v := range want {
				signed.Set(k, v)
			}
			for try := 0; ; try++ {
				before := time.Now().Unix()
				r1, err := s.PresignPart(ctx, key, uid, pn, opts, ttl)
				if err != nil {
					t.Fatalf("PresignPart(%q, %v): %v", key, opts, err)
				}
				r2, err := s.PresignPart(ctx, key, uid, pn, opts, ttl)
				if err != nil {
					t.Fatal(err)
				}
				ref, err := s.signer.PresignHeader(ctx, http.MethodPut, s.bucket, key, ttl,
					url.Values{"partNumber": {strconv.Itoa(pn)}, "uploadId": {uid}}, signed)
				if err != nil {
					t.Fatal(err)
				}
				if time.Now().Unix() != before {
					if try > 10 {
						t.Fatal("could not sign within one second")
					}
					continue
				}
				for _, r := range []PresignedRequest{r1, r2} {
					if r.URL != ref.String() {
						t.Fatalf("part %d of %q, %+v:\n got %s\nwant %s", pn, key, opts, r.URL, ref)
					}
					if !maps.Equal(r.Headers, want) {
						t.Fatalf("part %d of %q, %+v: headers %v, want %v", pn, key, opts, r.Headers, want)
					}
					if we := expiresAt(ref, ttl); r.ExpiresAt != we {
						t.Fatalf("part %d of %q: ExpiresAt %#v, want %#v", pn, key, r.ExpiresAt, we)
					}
					if r.Method != http.MethodPut {
						t.Fatalf("method %s", r.Method)
					}
				}
				n++
				break
			}
		}
	}
	t.Logf("%d part shapes identical to minio-go's", n)
}

// TestFastSignExpiresAt checks that the expiry is exactly the signing
// second plus the whole seconds of ttl, as a time.Time equal (==, not
// only Equal) to the one computed from the clock before, in UTC whatever
// the caller's zone.
func TestFastSignExpiresAt(t *testing.T) {
	s := mustS3(t, testConfig())
	loc := time.FixedZone("UTC-7", -7*3600)
	for _, now := range []time.Time{
		time.Date(2026, 12, 7, 23, 59, 59, 999_999_999, time.UTC),
		time.Date(2026, 12, 8, 0, 0, 0, 0, loc),
		time.Now(), // with a monotonic reading
	} {
		for _, ttl := range []time.Duration{time.Second, 90*time.Minute + 500*time.Millisecond} {
			_, exp, ok := s.fast.presign(now, http.MethodPut, "k", url.Values{"partNumber": {"1"}, "uploadId": {"u"}}, map[string]string{headerContentLength: "1"}, ttl)
			if !ok {
				t.Fatal("refused")
			}
			if want := now.UTC().Truncate(time.Second).Add(ttl.Truncate(time.Second)); exp != want {
				t.Errorf("at %v for %v: ExpiresAt %#v, want %#v", now, ttl, exp, want)
			}
		}
	}
}

// TestFastPresignQueryOrder checks the query string's order when
// parameters sort before the X-Amz-* block, between nothing and it, and
// after it (names near "X-Amz-" that are not X-Amz-* parameters), against
// minio-go.
func TestFastPresignQueryOrder(t *testing.T) {
	s := mustS3(t, testConfig())
	for _, q := range []url.Values{
		{"A": {"1"}},
		{"": {"empty name"}},
		{"Upload": {"x y"}, "partNumber": {"2"}},
		{"X-Amz": {"short"}, "X-Am": {"shorter"}, "X": {"x"}, "W-Amz-Date": {"w"}},
		{"X-Amz_u": {"after"}, "X-Amz.v": {"after too"}, "Y": {"y"}, "uploadId": {"u"}},
		{"0": {"digit"}, "X-Amy-Date": {"before"}, "X-Amz~": {"tilde"}, "response-content-type": {"text/plain"}},
	} {
		want, at := reference(t, s, http.MethodGet, "k/ey", q, nil, time.Hour)
		got, _, ok := s.fast.presign(at, http.MethodGet, "k/ey", q, nil, time.Hour)
		if !ok || got != want {
			t.Errorf("query %v: ok=%v\n got %s\nwant %s", q, ok, got, want)
		}
	}
}

// TestAppendQueryEscape checks the escaping against url.QueryEscape (with
// its "+" for a space written as "%20") for every byte alone and inside
// plain text, and for random strings.
func TestAppendQueryEscape(t *testing.T) {
	check := func(s string) {
		t.Helper()
		want := strings.ReplaceAll(url.QueryEscape(s), "+", "%20")
		if got := string(appendQueryEscape([]byte("pre:"), s)); got != "pre:"+want {
			t.Fatalf("appendQueryEscape(%q) = %q, want %q", s, got, "pre:"+want)
		}
	}
	check("")
	for b := range 256 {
		c := string([]byte{byte(b)})
		check(c)
		check("abc" + c)
		check(c + "xyz")
		check("ab" + c + "yz" + c + c)
	}
	r := rand.New(rand.NewPCG(3, 4))
	const alphabet = "aZ09-_.~ +%/=?&ü\x00\x7f;"
	rs := []rune(alphabet)
	for range 20000 {
		k := make([]rune, r.IntN(16))
		for i := range k {
			k[i] = rs[r.IntN(len(rs))]
		}
		check(string(k))
	}
}

// TestChecksumHeader checks the header names fastPresignPart uses against
// checksum.Algorithm.Header, and that an unknown algorithm gets slot 0
// (the general path).
func TestChecksumHeader(t *testing.T) {
	slots := map[int]bool{}
	for _, a := range checksum.All {
		name, slot := checksumHeader(a)
		if name != a.Header() || slot < 1 || slot > len(checksumHeaders) || slots[slot] {
			t.Errorf("checksumHeader(%s) = %q, %d; want %q and a slot of its own", a, name, slot, a.Header())
		}
		slots[slot] = true
		for typed, ct := range []string{"", "content-type;"} {
			if got, want := partSignedHeaders[typed][slot], "content-length;"+ct+"host;"+a.Header(); got != want {
				t.Errorf("partSignedHeaders[%d][%d] = %q, want %q", typed, slot, got, want)
			}
		}
	}
	if _, slot := checksumHeader("MD5"); slot != 0 {
		t.Errorf("an unknown algorithm got slot %d", slot)
	}
}

// TestPresignPartSharedHeaders checks the shared Headers maps: parts of
// one size without checksum or type share one map (one allocation per
// URL: the URL itself), parts with either get a map of their own, sizes
// that collide in the cache each get their own value, and a map a
// caller wrote to despite the read-only contract is not handed out
// again.
func TestPresignPartSharedHeaders(t *testing.T) {
	ctx := context.Background()
	s := mustS3(t, testConfig())
	sign := func(opts PartOptions) PresignedRequest {
		t.Helper()
		r, err := s.PresignPart(ctx, "k", "up", 1, opts, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if want := wantPartHeaders(opts); !maps.Equal(r.Headers, want) {
			t.Fatalf("%+v: headers %v, want %v", opts, r.Headers, want)
		}
		return r
	}
	same := func(a, b map[string]string) bool { return reflect.ValueOf(a).Pointer() == reflect.ValueOf(b).Pointer() }

	plain := PartOptions{Size: 16 << 20}
	a, b := sign(plain), sign(plain)
	if !same(a.Headers, b.Headers) {
		t.Error("two parts of one size got two maps")
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = s.PresignPart(ctx, "k", "up", 1, plain, time.Hour) }); n != 1 {
		t.Errorf("a plain part URL allocates %v times, want 1 (the URL)", n)
	}
	sum := checksum.Value{Algorithm: checksum.CRC32, Value: checksum.CRC32.Sum([]byte("x"))}
	for _, opts := range []PartOptions{{Size: plain.Size, Checksum: sum}, {Size: plain.Size, ContentType: "a/b"}, {Size: plain.Size, Checksum: sum, ContentType: "a/b"}} {
		if r := sign(opts); same(r.Headers, a.Headers) {
			t.Errorf("%+v got the shared map", opts)
		}
		// Its own map (two allocations) and the URL: the general path
		// allocates more (the decimal size, the header name, the query).
		if n := testing.AllocsPerRun(100, func() { _, _ = s.PresignPart(ctx, "k", "up", 1, opts, time.Hour) }); n != 3 {
			t.Errorf("%+v: a part URL allocates %v times, want 3", opts, n)
		}
	}
	if !maps.Equal(sign(plain).Headers, wantPartHeaders(plain)) {
		t.Error("the shared map changed")
	}

	// Sizes in one slot replace each other.
	slotOf := func(size int64) uint64 { return uint64(size) * 0x9e3779b97f4a7c15 >> (64 - partHeaderBits) }
	var colliding []int64
	for size := int64(1); len(colliding) < 3; size++ {
		if slotOf(size) == slotOf(5<<20) {
			colliding = append(colliding, size)
		}
	}
	for range 3 {
		for _, size := range colliding {
			sign(PartOptions{Size: size})
		}
	}

	// A caller that writes to the shared map: the next part of that size
	// gets a fresh map with the right header, whatever was written.
	for _, spoil := range []func(m map[string]string){
		func(m map[string]string) { m[headerContentLength] = "1" },
		func(m map[string]string) { m["X-Extra"] = "1" },
		func(m map[string]string) { delete(m, headerContentLength) },
	} {
		spoil(sign(plain).Headers)
		if r := sign(plain); same(r.Headers, a.Headers) {
			t.Error("a map a caller changed was handed out again")
		}
		a = sign(plain)
	}
}

// TestPresignPartSharedHeadersConcurrent signs parts of colliding and
// repeating sizes from several goroutines (run with -race): each URL and
// its headers must name its own size.
func TestPresignPartSharedHeadersConcurrent(t *testing.T) {
	ctx := context.Background()
	s := mustS3(t, testConfig())
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := range 300 {
				size := int64((g+i)%(3<<partHeaderBits)) + 1
				r, err := s.PresignPart(ctx, "k", "up", 1, PartOptions{Size: size}, time.Hour)
				if err != nil {
					errs <- err.Error()
					return
				}
				if want := strconv.FormatInt(size, 10); len(r.Headers) != 1 || r.Headers[headerContentLength] != want {
					errs <- "size " + want + " got headers " + strconv.Quote(r.Headers[headerContentLength])
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// TestPresignPartShapesUseFastPath checks that every part shape (each
// checksum algorithm, with and without a content type) is signed by the
// fast path: the adapter's fast signer is given a marker access key that
// minio-go's client does not have, as in TestPresignPartUsesFastPath.
func TestPresignPartShapesUseFastPath(t *testing.T) {
	s := mustS3(t, testConfig())
	const marker = "FASTPATHMARKER"
	f := s.fast
	s.fast = &fastSigner{accessKey: marker, secretKey: f.secretKey, region: f.region, base: f.base, host: f.host, pathPrefix: f.pathPrefix}
	for _, a := range append([]checksum.Algorithm{""}, checksum.All...) {
		for _, ct := range []string{"", "video/mp4"} {
			opts := PartOptions{Size: 5 << 20, ContentType: ct}
			if a != "" {
				opts.Checksum = checksum.Value{Algorithm: a, Value: a.Sum([]byte("x"))}
			}
			r, err := s.PresignPart(context.Background(), "k", "up", 2, opts, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(r.URL, "X-Amz-Credential="+marker+"%2F") {
				t.Errorf("%+v was not signed by the fast path", opts)
			}
		}
	}
}

// TestChecksumWellFormed checks the allocation-free check against
// checksum.Algorithm.Check: it may accept only what Check accepts, it
// accepts the values Algorithm.Sum makes, and checkChecksum's answer is
// Check's for valid, malformed and mutated values alike.
func TestChecksumWellFormed(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	const alphabet = "ABCxyz019+/=-_ \r\n."
	for _, a := range append(checksum.All, "MD5") {
		sum := a // an unknown algorithm gets values of a known one
		if !a.Valid() {
			sum = checksum.SHA256
		}
		var values []string
		for i := range 50 {
			values = append(values, sum.Sum([]byte(strconv.Itoa(i))))
		}
		if a.Valid() {
			for _, v := range values[:5] {
				if !checksumWellFormed(checksum.Value{Algorithm: a, Value: v}) {
					t.Errorf("%s: %q is not well formed", a, v)
				}
			}
		}
		values = append(values, "", "=", "====", "AAAA", strings.Repeat("A", 43)+"=", strings.Repeat("A", 44), strings.Repeat("A", 88))
		for _, v := range values[:50] {
			b := []byte(v)
			for range 1 + r.IntN(2) {
				switch i := r.IntN(len(b) + 1); r.IntN(3) {
				case 0:
					b = append(b[:i], append([]byte{alphabet[r.IntN(len(alphabet))]}, b[i:]...)...)
				case 1:
					if i < len(b) {
						b = append(b[:i], b[i+1:]...)
					}
				case 2:
					if i < len(b) {
						b[i] = alphabet[r.IntN(len(alphabet))]
					}
				}
			}
			values = append(values, string(b))
		}
		for _, v := range values {
			cv := checksum.Value{Algorithm: a, Value: v}
			checkErr := a.Check(v)
			if checksumWellFormed(cv) && checkErr != nil {
				t.Errorf("%s: %q well formed, but Check says %v", a, v, checkErr)
			}
			if got := checkChecksum(cv); (got == nil) != (checkErr == nil && a.Valid()) {
				t.Errorf("%s: checkChecksum(%q) = %v, Check says %v", a, v, got, checkErr)
			}
		}
	}
	v := checksum.Value{Algorithm: checksum.SHA256, Value: checksum.SHA256.Sum([]byte("x"))}
	if n := testing.AllocsPerRun(100, func() { _ = checkChecksum(v) }); n != 0 {
		t.Errorf("checkChecksum allocates %v times for a valid value, want 0", n)
	}
}

// BenchmarkPresignPartChecksum is BenchmarkPresignPart for parts with a
// declared SHA-256 checksum (a Headers map of their own).
func BenchmarkPresignPartChecksum(b *testing.B) {
	s := mustS3(b, testConfig())
	ctx := context.Background()
	opts := PartOptions{Size: 16 << 20, Checksum: checksum.Value{Algorithm: checksum.SHA256, Value: checksum.SHA256.Sum([]byte("part"))}}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := s.PresignPart(ctx, "alice/2026/11/27/upl_x.mp4", "upload-123", i%10000+1, opts, 15*time.Minute); err != nil {
			b.Fatal(err)
		}
	}
}
