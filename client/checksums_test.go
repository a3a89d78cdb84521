package client

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/chute-dev/chute/checksum"
)

// Every algorithm, for a multipart upload declared up front, one not
// declared (bigger than ChecksumPassMax) and a single upload: create asks
// for the algorithm, every part is signed with its checksum and sent with
// the header (the fake store checks it), and the Result holds the whole
// object's value.
func TestUploadChecksumEachAlgorithm(t *testing.T) {
	for _, alg := range checksum.All {
		for _, c := range []struct {
			name      string
			size      int
			passMax   int64
			declared  bool
			composite bool // the store answers a COMPOSITE value
		}{
			{"multipart, read ahead", 4500, 0, true, false},
			{"multipart, combined at the end", 4500, -1, false, !alg.IsCRC()},
			{"single", 400, 0, true, false},
			{"single, created again with the value", 400, -1, true, false},
		} {
			t.Run(string(alg)+"/"+c.name, func(t *testing.T) {
				f := newFake(t, 1000, 500)
				data := randBytes(t, c.size)
				res, err := newTestClient(f).Upload(context.Background(), bytes.NewReader(data), int64(len(data)),
					UploadOptions{Checksum: alg, ChecksumPassMax: c.passMax, Parallel: 3})
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(f.object(), data) {
					t.Fatal("stored bytes differ")
				}
				// A single upload created without the value is aborted
				// and created again with it.
				creates := 1
				if c.passMax < 0 && f.strategy == "single" {
					creates = 2
					if f.creates[0].Checksum == nil || f.creates[0].Checksum.Value != "" || f.aborts != 1 {
						t.Fatalf("first create %+v, %d aborts", f.creates[0].Checksum, f.aborts)
					}
				}
				last := f.creates[len(f.creates)-1]
				if len(f.creates) != creates || last.Checksum == nil || last.Checksum.Algorithm != string(alg) {
					t.Fatalf("create asked for %+v", f.creates)
				}
				whole := alg.Sum(data)
				if got := last.Checksum.Value; (got == whole) != c.declared || (got != "" && got != whole) {
					t.Fatalf("declared %q at create, whole file %s, want declared=%v", got, whole, c.declared)
				}
				if f.strategy == "multipart" {
					signed := map[string]string{}
					for _, m := range f.partSums {
						for k, v := range m {
							signed[k] = v
						}
					}
					for n := 1; n <= f.count; n++ {
						part := data[(n-1)*1000 : min(n*1000, len(data))]
						if signed[itoa(n)] != alg.Sum(part) {
							t.Errorf("part %d signed with %q, want %s", n, signed[itoa(n)], alg.Sum(part))
						}
					}
				}
				want := whole
				if c.composite {
					var ds [][]byte
					for n := 0; n < len(data); n += 1000 {
						h := alg.New()
						h.Write(data[n:min(n+1000, len(data))])
						ds = append(ds, h.Sum(nil))
					}
					want = checksum.CompositeOf(alg, ds)
				}
				if res.Checksum != (checksum.Value{Algorithm: alg, Value: want}) || res.ChecksumNote != "" {
					t.Fatalf("result checksum %+v (note %q), want %s %s", res.Checksum, res.ChecksumNote, alg, want)
				}
			})
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// CRC64NVME by default; NoChecksum sends none.
func TestUploadChecksumDefaultAndOff(t *testing.T) {
	f := newFake(t, 1000, 500)
	data := randBytes(t, 2500)
	res, err := newTestClient(f).Upload(context.Background(), bytes.NewReader(data), 2500, UploadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if f.alg != checksum.CRC64NVME || res.Checksum.Value != checksum.CRC64NVME.Sum(data) {
		t.Fatalf("default: session %q, result %+v", f.alg, res.Checksum)
	}
	f = newFake(t, 1000, 500)
	res, err = newTestClient(f).Upload(context.Background(), bytes.NewReader(data), 2500, UploadOptions{Checksum: NoChecksum})
	if err != nil {
		t.Fatal(err)
	}
	if f.creates[0].Checksum != nil || len(f.partSums) != 1 || f.partSums[0] != nil || !res.Checksum.IsZero() || res.ChecksumNote != "" {
		t.Fatalf("off: create %+v, part sums %v, result %+v %q", f.creates[0].Checksum, f.partSums, res.Checksum, res.ChecksumNote)
	}
	if _, err := newTestClient(f).Upload(context.Background(), bytes.NewReader(data), 2500, UploadOptions{Checksum: "MD5"}); err == nil || !strings.Contains(err.Error(), "MD5") {
		t.Fatalf("unknown algorithm: %v", err)
	}
}

// A server that cannot verify the algorithm (or does not know the field)
// gets a second create without a checksum, and the Result says why.
func TestUploadChecksumFallback(t *testing.T) {
	for _, c := range []struct {
		name string
		set  func(*fake)
		note string
	}{
		{"store cannot verify", func(f *fake) { f.canVerify = []checksum.Algorithm{checksum.SHA256} }, "it can verify SHA256"},
		{"older server", func(f *fake) { f.legacy = true }, `unknown field "checksum"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, size := range []int{400, 2500} {
				f := newFake(t, 1000, 500)
				c.set(f)
				data := randBytes(t, size)
				res, err := newTestClient(f).Upload(context.Background(), bytes.NewReader(data), int64(size), UploadOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(f.object(), data) {
					t.Fatal("stored bytes differ")
				}
				if len(f.creates) != 2 || f.creates[0].Checksum == nil || f.creates[1].Checksum != nil {
					t.Fatalf("creates %+v, want one with a checksum, then one without", f.creates)
				}
				if !res.Checksum.IsZero() || !strings.Contains(res.ChecksumNote, "CRC64NVME") || !strings.Contains(res.ChecksumNote, c.note) {
					t.Fatalf("result %+v, note %q", res.Checksum, res.ChecksumNote)
				}
			}
		})
	}
	// Another 400 is not a checksum refusal: no second create.
	f := newFake(t, 1000, 500)
	calls := 0
	f.createResp = func(w http.ResponseWriter) bool {
		calls++
		jsonErr(w, 400, "invalid_request", "size: must be a whole number of bytes")
		return true
	}
	if _, err := newTestClient(f).Upload(context.Background(), bytes.NewReader(nil), 0, UploadOptions{}); err == nil || calls != 1 {
		t.Fatalf("other 400: %v after %d creates", err, calls)
	}
}

// A stored object whose reported checksum differs from the one combined
// from the parts is an error, not a success.
func TestUploadChecksumMismatchAtTheEnd(t *testing.T) {
	f := newFake(t, 1000, 500)
	f.wholeHook = func(v string) string { return checksum.CRC64NVME.Sum([]byte("other bytes")) }
	data := randBytes(t, 3500)
	_, err := newTestClient(f).Upload(context.Background(), bytes.NewReader(data), 3500, UploadOptions{ChecksumPassMax: -1})
	var ce *ChecksumError
	if !errors.As(err, &ce) || ce.Computed != checksum.CRC64NVME.Sum(data) || ce.Algorithm != checksum.CRC64NVME {
		t.Fatalf("error %v, want a ChecksumError with the file's CRC64NVME", err)
	}
	// No whole value reported: said so, not claimed.
	f = newFake(t, 1000, 500)
	f.noWhole = true
	res, err := newTestClient(f).Upload(context.Background(), bytes.NewReader(data), 3500, UploadOptions{ChecksumPassMax: -1})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Checksum.IsZero() || !strings.Contains(res.ChecksumNote, "no CRC64NVME value") {
		t.Fatalf("no whole value: %+v %q", res.Checksum, res.ChecksumNote)
	}
}

// A resumed upload signs the remaining parts with the session's
// algorithm and still checks the whole object, hashing the parts an
// earlier run sent. With a declared value the status names the
// algorithm, which wins over the option; without, the option must be
// the first run's.
func TestUploadChecksumResume(t *testing.T) {
	for _, c := range []struct {
		name       string
		passMax    int64
		resumeWith checksum.Algorithm
	}{
		{"value declared, the session's algorithm wins", 0, ""},
		{"no value, the same option", -1, checksum.CRC32C},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFake(t, 1000, 500)
			data := randBytes(t, 5500)
			ctx, cancel := context.WithCancel(context.Background())
			f.storeHook = func(w http.ResponseWriter, n, gen, attempt int) bool {
				if n >= 3 {
					cancel()
					w.WriteHeader(503)
					return true
				}
				return false
			}
			var session string
			_, err := newTestClient(f).Upload(ctx, bytes.NewReader(data), 5500, UploadOptions{Checksum: checksum.CRC32C, ChecksumPassMax: c.passMax, Parallel: 1, OnSession: func(id string) { session = id }})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("first run: %v", err)
			}
			f.storeHook = nil
			f.puts = map[int]int{}
			f.partSums = nil
			res, err := newTestClient(f).Upload(context.Background(), bytes.NewReader(data), 5500, UploadOptions{ResumeID: session, Checksum: c.resumeWith})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(f.object(), data) || f.puts[1] != 0 || f.puts[3] != 1 {
				t.Fatalf("resume: puts %v", f.puts)
			}
			for _, m := range f.partSums {
				for k, v := range m {
					n, _ := strconv.Atoi(k)
					if v != checksum.CRC32C.Sum(data[(n-1)*1000:min(n*1000, len(data))]) {
						t.Fatalf("part %s signed with %q on resume", k, v)
					}
				}
			}
			if len(f.partSums) != 4 {
				t.Fatalf("part-urls calls on resume: %v", f.partSums)
			}
			if res.Checksum != (checksum.Value{Algorithm: checksum.CRC32C, Value: checksum.CRC32C.Sum(data)}) {
				t.Fatalf("resumed result %+v %q", res.Checksum, res.ChecksumNote)
			}
		})
	}
}

// A session whose status names no algorithm, resumed with checksums on:
// Chute refuses the part checksums, the parts go without, and the Result
// says so.
func TestUploadChecksumResumeWithoutAlgorithm(t *testing.T) {
	f := newFake(t, 1000, 500)
	data := randBytes(t, 3500)
	ctx, cancel := context.WithCancel(context.Background())
	f.storeHook = func(w http.ResponseWriter, n, gen, attempt int) bool {
		if n >= 2 {
			cancel()
			w.WriteHeader(503)
			return true
		}
		return false
	}
	var session string
	_, err := newTestClient(f).Upload(ctx, bytes.NewReader(data), 3500, UploadOptions{Checksum: NoChecksum, Parallel: 1, OnSession: func(id string) { session = id }})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("first run: %v", err)
	}
	f.storeHook = nil
	res, err := newTestClient(f).Upload(context.Background(), bytes.NewReader(data), 3500, UploadOptions{ResumeID: session, Parallel: 2})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(f.object(), data) {
		t.Fatal("stored bytes differ")
	}
	if !res.Checksum.IsZero() || !strings.Contains(res.ChecksumNote, "without checksums") {
		t.Fatalf("result %+v %q", res.Checksum, res.ChecksumNote)
	}
}
