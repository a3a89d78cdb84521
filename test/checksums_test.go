package test

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/chute-dev/chute/checksum"
)

// TestChecksums checks "Checksums" of shared/API.md end to end on chute
// serve with Redis and the run's store: per-part checksums signed into
// part URLs (the store refuses other bytes), the whole file checked at
// complete (a mismatch leaves no object), and the answers carrying the
// verified value. An algorithm the store cannot verify must be refused at
// create; versitygw verifies all five, so there every one must work.
func TestChecksums(t *testing.T) {
	tg := startServeYAML(t, guaranteesYAML)
	tok := tg.token(t, "alice")
	for _, alg := range checksum.All {
		t.Run(string(alg), func(t *testing.T) {
			data := randomBytes(t, 6*mib+123)
			r := tg.call(t, tok, "POST", "/v1/uploads", map[string]any{
				"filename": "c.bin", "content_type": "application/octet-stream", "size": len(data),
				"checksum": map[string]any{"algorithm": string(alg), "value": alg.Sum(data)},
			})
			if r.status == 400 && (strings.Contains(string(r.body), "cannot verify") || strings.Contains(string(r.body), "verifies no checksum")) {
				if os.Getenv("CHUTE_TEST_STORE") == "" || os.Getenv("CHUTE_TEST_STORE") == "versitygw" {
					t.Fatalf("versitygw verifies %s, but create refused it: %s", alg, r.body)
				}
				t.Logf("the store does not verify %s: %s", alg, r.body)
				return
			}
			if r.status != 201 {
				t.Fatalf("create: %d %s", r.status, r.body)
			}
			var c created
			r.decode(t, &c)
			multipartChecksums(t, tg, tok, alg, c, data)
			singleChecksum(t, tg, tok, alg)
			wrongWhole(t, tg, tok, alg)
		})
	}
	t.Run("unknown algorithm", func(t *testing.T) {
		r := tg.call(t, tok, "POST", "/v1/uploads", map[string]any{
			"filename": "c.bin", "content_type": "application/octet-stream", "size": 10,
			"checksum": map[string]any{"algorithm": "MD5"},
		})
		if r.status != 400 || r.errCode(t) != "invalid_request" || !strings.Contains(string(r.body), "CRC64NVME") {
			t.Fatalf("MD5: %d %s", r.status, r.body)
		}
	})
	t.Run("part checksums without an algorithm", func(t *testing.T) {
		c := create(t, tg, tok, "n.bin", "application/octet-stream", 6*mib)
		r := tg.call(t, tok, "POST", "/v1/uploads/"+c.ID+"/part-urls", map[string]any{
			"part_numbers": []int{1}, "checksums": map[string]string{"1": checksum.CRC32C.Sum([]byte("x"))},
		})
		if r.status != 400 || r.errCode(t) != "invalid_request" {
			t.Fatalf("checksums on an upload without an algorithm: %d %s", r.status, r.body)
		}
	})
}

// partSums returns the checksum of each part of data under alg.
func partSums(alg checksum.Algorithm, data []byte, partSize int64, n int) map[string]string {
	out := map[string]string{}
	for i := 1; i <= n; i++ {
		lo := int64(i-1) * partSize
		hi := min(lo+partSize, int64(len(data)))
		out[fmt.Sprint(i)] = alg.Sum(data[lo:hi])
	}
	return out
}

func multipartChecksums(t *testing.T, tg *target, tok string, alg checksum.Algorithm, c created, data []byte) {
	if c.Strategy != "multipart" || c.PartCount != 2 {
		t.Fatalf("want 2 parts: %+v", c)
	}
	sums := partSums(alg, data, c.PartSize, c.PartCount)
	r := tg.call(t, tok, "POST", "/v1/uploads/"+c.ID+"/part-urls", map[string]any{"part_numbers": []int{1, 2}, "checksums": sums})
	if r.status != 200 {
		t.Fatalf("part-urls: %d %s", r.status, r.body)
	}
	var urls struct{ Parts []partURL }
	r.decode(t, &urls)
	for _, p := range urls.Parts {
		if got := p.Headers[alg.Header()]; got != sums[fmt.Sprint(p.PartNumber)] {
			t.Fatalf("part %d headers %v: no %s", p.PartNumber, p.Headers, alg.Header())
		}
	}
	// Other bytes of the same length under the signed checksum: refused.
	p1 := urls.Parts[0]
	bad := bytes.Clone(data[:p1.Size])
	bad[0] ^= 0xff
	if st, _ := put(t, p1.Method, p1.URL, p1.Headers, bad); st/100 == 2 {
		t.Fatalf("the store took part 1 with bytes that do not match its signed %s", alg)
	}
	uploadParts(t, tg, tok, c, data, urls.Parts, 2, true)
	r = tg.call(t, tok, "POST", "/v1/uploads/"+c.ID+"/complete", nil)
	var done struct {
		State    string `json:"state"`
		Checksum *struct {
			Algorithm string `json:"algorithm"`
			Value     string `json:"value"`
		} `json:"checksum"`
	}
	r.decode(t, &done)
	if r.status != 200 || done.State != "completed" || done.Checksum == nil ||
		done.Checksum.Algorithm != string(alg) || done.Checksum.Value != alg.Sum(data) {
		t.Fatalf("complete: %d %s", r.status, r.body)
	}
	if got := tg.storedBytes(t, c.Key); !bytes.Equal(got, data) {
		t.Fatalf("stored %d bytes, not the upload", len(got))
	}
	r = tg.call(t, tok, "GET", "/v1/uploads/"+c.ID, nil)
	if !strings.Contains(string(r.body), alg.Sum(data)) {
		t.Fatalf("status has no checksum: %s", r.body)
	}
}

// singleChecksum: a single upload's declared value is signed into its URL.
func singleChecksum(t *testing.T, tg *target, tok string, alg checksum.Algorithm) {
	data := randomBytes(t, 3000)
	r := tg.call(t, tok, "POST", "/v1/uploads", map[string]any{
		"filename": "s.bin", "content_type": "application/octet-stream", "size": len(data),
		"checksum": map[string]any{"algorithm": string(alg), "value": alg.Sum(data)},
	})
	if r.status != 201 {
		t.Fatalf("create single: %d %s", r.status, r.body)
	}
	var c created
	r.decode(t, &c)
	if c.Upload == nil || c.Upload.Headers[alg.Header()] != alg.Sum(data) {
		t.Fatalf("single upload headers: %+v", c.Upload)
	}
	bad := bytes.Clone(data)
	bad[10] ^= 1
	if st, _ := put(t, c.Upload.Method, c.Upload.URL, c.Upload.Headers, bad); st/100 == 2 {
		t.Fatalf("the store took a single PUT whose bytes do not match the signed %s", alg)
	}
	if st, _ := put(t, c.Upload.Method, c.Upload.URL, c.Upload.Headers, data); st != 200 {
		t.Fatalf("PUT: %d", st)
	}
	r = tg.call(t, tok, "POST", "/v1/uploads/"+c.ID+"/complete", nil)
	if r.status != 200 || !strings.Contains(string(r.body), alg.Sum(data)) {
		t.Fatalf("complete single: %d %s", r.status, r.body)
	}
}

// wrongWhole: parts uploaded as signed, but a whole value of other bytes
// declared: complete answers 422 and leaves no object at the key.
func wrongWhole(t *testing.T, tg *target, tok string, alg checksum.Algorithm) {
	data := randomBytes(t, 6*mib)
	r := tg.call(t, tok, "POST", "/v1/uploads", map[string]any{
		"filename": "w.bin", "content_type": "application/octet-stream", "size": len(data),
		"checksum": map[string]any{"algorithm": string(alg), "value": alg.Sum([]byte("other bytes"))},
	})
	if r.status != 201 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	var c created
	r.decode(t, &c)
	sums := partSums(alg, data, c.PartSize, c.PartCount)
	r = tg.call(t, tok, "POST", "/v1/uploads/"+c.ID+"/part-urls", map[string]any{"part_numbers": []int{1, 2}, "checksums": sums})
	var urls struct{ Parts []partURL }
	r.decode(t, &urls)
	uploadParts(t, tg, tok, c, data, urls.Parts, 2, true)
	r = tg.call(t, tok, "POST", "/v1/uploads/"+c.ID+"/complete", nil)
	if r.status != 422 || r.errCode(t) != "incomplete" {
		t.Fatalf("complete with a wrong whole %s: %d %s", alg, r.status, r.body)
	}
	if keys := tg.objects(t, c.Key); len(keys) != 0 {
		t.Fatalf("a checksum mismatch left objects at the key: %v", keys)
	}
}
