package backends

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7/pkg/s3utils"

	"github.com/chute-dev/chute/checksum"

	"github.com/chute-dev/chute/multipart"
)

// BenchmarkPresignPartCPU is BenchmarkPresignPart reporting the process's
// CPU time per URL (cpu-ns/op), which a busy shared machine moves much
// less than wall time.
func BenchmarkPresignPartCPU(b *testing.B) {
	s := mustS3(b, testConfig())
	ctx := context.Background()
	b.ReportAllocs()
	cpu := func() time.Duration {
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	c0 := cpu()
	for i := 0; b.Loop(); i++ {
		if _, err := s.PresignPart(ctx, "alice/2026/11/27/upl_01jc5m4x7d8q9r2s3t4v5w6x7y.mp4", "upload-123", i%multipart.MaxParts+1, PartOptions{Size: 16 << 20}, 15*time.Minute); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64((cpu()-c0).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// TestSigningDayMAC checks the hand-made HMAC against crypto/hmac for
// messages around the block sizes.
func TestSigningDayMAC(t *testing.T) {
	f := &fastSigner{accessKey: "ak", secretKey: "secret-key-0123456789", region: "eu-west-3"}
	d := f.dayFor(time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC))
	for _, n := range []int{0, 1, 55, 56, 63, 64, 65, 119, 120, 128, 200, 320, 321, 1000} {
		msg := make([]byte, n)
		for i := range msg {
			msg[i] = byte(i*7 + n)
		}
		m := hmac.New(sha256.New, d.key)
		m.Write(msg)
		if got, want := d.mac(msg), m.Sum(nil); !bytes.Equal(got[:], want) {
			t.Fatalf("mac of %d bytes = %x, crypto/hmac says %x", n, got, want)
		}
	}
}

// TestEncodePath checks encodePath against minio-go's EncodePath for
// every one-byte key, every byte inside a plain key, and random keys.
func TestEncodePath(t *testing.T) {
	check := func(k string) {
		t.Helper()
		if got, want := encodePath(k), s3utils.EncodePath(k); got != want {
			t.Fatalf("encodePath(%q) = %q, EncodePath says %q", k, got, want)
		}
	}
	check("")
	for b := range 256 {
		check(string([]byte{byte(b)}))
		check("alice/2026/12/07/upl_" + string([]byte{byte(b)}) + ".mp4")
	}
	r := rand.New(rand.NewPCG(1, 2))
	const alphabet = "abcXYZ019-_.~/ +%ü€?#&=\x00\x7f"
	for range 20000 {
		k := make([]rune, r.IntN(12))
		rs := []rune(alphabet)
		for i := range k {
			k[i] = rs[r.IntN(len(rs))]
		}
		check(string(k))
	}
}

// TestPresignPartMatchesMinio checks PresignPart itself (its fast path
// builds the query without url.Values) against minio-go's URL for the
// same part, signed within the same second.
func TestPresignPartMatchesMinio(t *testing.T) {
	ctx := context.Background()
	sum := sha256.Sum256([]byte("part"))
	n := 0
	for name, cfg := range presignConfigs() {
		s := mustS3(t, cfg)
		for ki, key := range presignKeys {
			for pi, p := range []int{1, 7, 10000} {
				opts := PartOptions{Size: int64(pi) << 22}
				if (ki+pi)%2 == 1 {
					opts.Checksum = checksum.Value{Algorithm: checksum.SHA256, Value: base64.StdEncoding.EncodeToString(sum[:])}
				}
				uid := []string{"upload-123", "a b+c/=?&%"}[(ki+pi)%2]
				for try := 0; ; try++ {
					before := time.Now().Unix()
					got, err := s.PresignPart(ctx, key, uid, p, opts, 15*time.Minute)
					if err != nil {
						t.Fatalf("%s: PresignPart(%q, %d): %v", name, key, p, err)
					}
					signed := http.Header{}
					for k, v := range got.Headers {
						signed.Set(k, v)
					}
					want, err := s.signer.PresignHeader(ctx, http.MethodPut, s.bucket, key, 15*time.Minute,
						url.Values{"partNumber": {strconv.Itoa(p)}, "uploadId": {uid}}, signed)
					if err != nil {
						t.Fatal(err)
					}
					if time.Now().Unix() != before {
						if try > 10 {
							t.Fatal("could not sign within one second")
						}
						continue
					}
					if got.URL != want.String() {
						t.Fatalf("%s: part %d of %q:\n got %s\nwant %s", name, p, key, got.URL, want)
					}
					n++
					break
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("nothing compared")
	}
}

// TestSignerStampFollowsTheClock: one signer signing at successive
// seconds, across midnight and back, writes each second's X-Amz-Date and
// credential scope (the per-second cache must not serve a stale one).
func TestSignerStampFollowsTheClock(t *testing.T) {
	s := mustS3(t, testConfig())
	base := time.Date(2026, 12, 7, 23, 59, 58, 500_000_000, time.UTC)
	for _, d := range []time.Duration{0, 300 * time.Millisecond, time.Second, 2 * time.Second, 3 * time.Second, 0, 24 * time.Hour} {
		at := base.Add(d)
		u, _, ok := s.fast.presign(at, http.MethodPut, "k", url.Values{"partNumber": {"1"}, "uploadId": {"u"}}, map[string]string{headerContentLength: "1"}, time.Hour)
		if !ok {
			t.Fatal("fast path refused")
		}
		q, err := url.ParseQuery(u[strings.IndexByte(u, '?')+1:])
		if err != nil {
			t.Fatal(err)
		}
		if got, want := q.Get("X-Amz-Date"), at.Format(amzDateLayout); got != want {
			t.Fatalf("signed at %v: X-Amz-Date %s, want %s", at, got, want)
		}
		if got, want := q.Get("X-Amz-Credential"), "/"+at.Format(amzDayLayout)+"/"; !strings.Contains(got, want) {
			t.Fatalf("signed at %v: credential %s lacks %s", at, got, want)
		}
	}
}
