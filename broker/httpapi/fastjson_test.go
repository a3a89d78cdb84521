package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/chute-dev/chute/broker"
	"github.com/chute-dev/chute/multipart"
)

// genericMarshal is marshal without the fast path.
func genericMarshal(t testing.TB, v any) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

func samplePartURLs(n int) *broker.PartURLsResult {
	exp := time.Date(2026, 12, 4, 1, 2, 3, 0, time.UTC)
	r := &broker.PartURLsResult{Parts: make([]broker.PartURL, 0, n)}
	for i := 1; i <= n; i++ {
		r.Parts = append(r.Parts, broker.PartURL{
			PartNumber: i, Method: "PUT",
			URL:     fmt.Sprintf("http://127.0.0.1:7070/bucket/alice/2026/12/04/upl_x.mp4?partNumber=%d&uploadId=abc%%2Bdef&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-SignedHeaders=content-length%%3Bhost", i),
			Headers: map[string]string{"Content-Length": "5242880", "X-Amz-Checksum-Sha256": "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg="},
			Size:    5242880, ExpiresAt: exp.Add(time.Duration(i) * time.Nanosecond),
		})
	}
	return r
}

func TestMarshalPartURLsSameAsEncodingJSON(t *testing.T) {
	berlin := time.FixedZone("CET", 3600)
	cases := map[string]*broker.PartURLsResult{
		"batch":      samplePartURLs(50),
		"empty":      {Parts: []broker.PartURL{}},
		"nil parts":  {},
		"nil header": {Parts: []broker.PartURL{{PartNumber: 1, Method: "PUT", URL: "http://h/b/k?a=1&b=2", Size: 1}}},
		"no headers": {Parts: []broker.PartURL{{PartNumber: 2, Method: "PUT", URL: "u", Headers: map[string]string{}, ExpiresAt: time.Date(2026, 1, 2, 3, 4, 5, 123456789, berlin)}}},
		// needs escaping: the fast path must hand it to encoding/json
		"unicode url": {Parts: []broker.PartURL{{PartNumber: 3, Method: "PUT", URL: "http://h/b/é<>\u2028?q=\"x\"\\", Headers: map[string]string{"A\n": "b\x01"}}}},
		"zero time":   {Parts: []broker.PartURL{{PartNumber: 4, Method: "PUT", URL: "u"}}},
		"year 10000":  {Parts: []broker.PartURL{{PartNumber: 5, URL: "u", ExpiresAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}}},
	}
	for name, r := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := marshal(r)
			if name == "year 10000" {
				// encoding/json refuses it; so must marshal.
				if err == nil {
					t.Fatalf("marshal accepted a time encoding/json refuses: %s", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if want := genericMarshal(t, r); !bytes.Equal(got, want) {
				t.Fatalf("fast path differs\n got %s\nwant %s", got, want)
			}
		})
	}
}

func BenchmarkMarshalPartURLs1000(b *testing.B) {
	r := samplePartURLs(1000)
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := marshal(r); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			genericMarshal(b, r)
		}
	})
}

func TestMarshalStatusSameAsEncodingJSON(t *testing.T) {
	now := time.Date(2026, 12, 4, 1, 2, 3, 456000000, time.UTC)
	parts := make([]multipart.Part, 0, 130)
	for n := 1; n <= 130; n++ {
		parts = append(parts, multipart.Part{Number: n, ETag: fmt.Sprintf("%032x", n*7919), Size: 16 << 20})
	}
	cases := map[string]*broker.Status{
		"uploading": {ID: "upl_abc", Key: "alice/2026/12/04/upl_abc.mp4", Strategy: "multipart", State: "uploading",
			Size: 2 << 30, ContentType: "video/mp4", PartSize: 16 << 20, PartCount: 128, Parts: parts,
			UploadedBytes: 130 * 16 << 20, CreatedAt: now, UpdatedAt: now.Add(time.Second), ExpiresAt: now.Add(24 * time.Hour)},
		"single, no parts": {ID: "upl_s", Key: "k", Strategy: "single", State: "pending", Parts: []multipart.Part{},
			CreatedAt: now, UpdatedAt: now, ExpiresAt: time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("X", -7200))},
		"nil parts, zero times": {ID: "upl_z"},
		"unicode key":           {ID: "upl_u", Key: "alice/é/\u2028<&>.mp4", Parts: []multipart.Part{{Number: 1, ETag: "a\"b", Size: 1}}},
		"quoted etag":           {ID: "upl_q", Parts: []multipart.Part{{Number: 1, ETag: `"x"`, Size: 1}}},
		"rejected":              {ID: "upl_r", State: "rejected", Reason: "video is 12 minutes long; at most 10 allowed", CreatedAt: now},
		"rejected, unicode":     {ID: "upl_r", State: "rejected", Reason: "vidéo \"trop\" longue <10 min>"},
	}
	for name, st := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := marshal(st)
			if err != nil {
				t.Fatal(err)
			}
			if want := genericMarshal(t, st); !bytes.Equal(got, want) {
				t.Fatalf("fast path differs\n got %s\nwant %s", got, want)
			}
		})
	}
}
