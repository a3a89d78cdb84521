package storetest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/chute-dev/chute/backends"
	"github.com/chute-dev/chute/checksum"
	"github.com/chute-dev/chute/multipart"
)

// The integrity checks measure what the store does with checksums,
// conditional writes and copies, for every algorithm, and hold the store
// to what its adapter claims (S3.Capabilities, from the provider
// preset): a claimed ability must work; an ability the store lacks must
// not be claimed. What a store does beyond its claims is logged
// ("measured: ..."), so that the preset and docs/compatibility.md can
// follow it.

// measured logs one finding about the store in a fixed form.
func measured(t *testing.T, format string, args ...any) {
	t.Helper()
	t.Logf("measured: "+format, args...)
}

// testPartChecksums sends, per algorithm, a part whose bytes do not match
// its signed checksum (the store must refuse it where it claims the
// algorithm), then the right one, and checks that ListParts returns the
// part's checksum and that the upload completes with it.
func (h *harness) testPartChecksums(t *testing.T) {
	caps := h.s.Capabilities().Checksums
	for _, a := range checksum.All {
		t.Run(string(a), func(t *testing.T) {
			ctx := context.Background()
			claimed := caps.VerifiesParts(a)
			key := h.key("part-" + strings.ToLower(string(a)) + ".bin")
			id, err := h.s.CreateMultipart(ctx, key, backends.ObjectOptions{Checksum: a})
			if err != nil {
				if claimed {
					t.Fatalf("CreateMultipart with %s: %v", a, err)
				}
				measured(t, "%s: create refused: %v", a, err)
				return
			}
			data := randomBytes(2048)
			right := a.Sum(data)
			wrong := a.Sum(randomBytes(2048))
			presign := func(v string) backends.PresignedRequest {
				t.Helper()
				r, err := h.s.PresignPart(ctx, key, id, 1, backends.PartOptions{Size: int64(len(data)), Checksum: checksum.Value{Algorithm: a, Value: v}}, ttl)
				if err != nil {
					t.Fatalf("PresignPart: %v", err)
				}
				if r.Headers[a.Header()] != v {
					t.Fatalf("PresignPart headers %v lack %s", r.Headers, a.Header())
				}
				return r
			}
			status, _, body := h.send(t, presign(wrong), data, nil)
			refused := status < 200 || status > 299
			switch {
			case claimed && !refused:
				t.Errorf("%s is claimed, but a part whose bytes do not match its signed checksum was accepted (HTTP %d)", a, status)
			case !claimed:
				measured(t, "%s: a part with a wrong signed checksum is refused=%v (HTTP %d %s); not claimed", a, refused, status, snippet(body))
			}
			if refused {
				h.noParts(t, key, id)
			}

			status, hdr, body := h.send(t, presign(right), data, nil)
			if status != http.StatusOK {
				if claimed {
					t.Fatalf("%s: the part with the right checksum: HTTP %d %s", a, status, snippet(body))
				}
				measured(t, "%s: the part with the right checksum was refused: HTTP %d %s", a, status, snippet(body))
				return
			}
			if got := hdr.Get(a.Header()); got != "" && got != right {
				t.Errorf("%s: the part PUT answered %s: %q, want %q", a, a.Header(), got, right)
			}
			parts, err := h.s.ListParts(ctx, key, id)
			if err != nil {
				t.Fatalf("ListParts: %v", err)
			}
			if len(parts) != 1 {
				t.Fatalf("ListParts = %+v, want the one part sent", parts)
			}
			switch got := parts[0].Checksum; {
			case got == right:
				if !caps.ListsParts {
					measured(t, "%s: ListParts lists the part checksum, but that is not claimed", a)
				}
			case caps.ListsParts && claimed:
				t.Errorf("%s: ListParts gave part checksum %q, want %q", a, got, right)
			case got != "":
				t.Errorf("%s: ListParts gave part checksum %q, want %q or none", a, got, right)
			default:
				measured(t, "%s: ListParts lists no part checksum", a)
				// What the broker does then: send the checksum it signed.
				parts[0].Checksum = right
			}
			// A part list whose checksum is not the part's is refused
			// (versitygw: InvalidPart; SeaweedFS: BadDigest).
			forged := []multipart.Part{parts[0]}
			forged[0].Checksum = wrong
			_, err = h.s.CompleteMultipart(ctx, key, id, forged, backends.CompleteOptions{Checksum: checksum.Value{Algorithm: a}})
			switch {
			case errors.Is(err, backends.ErrInvalidPart) || errors.Is(err, backends.ErrBadDigest):
				h.absent(t, key)
			case claimed:
				t.Fatalf("%s: complete naming a wrong part checksum: %v, want ErrInvalidPart or ErrBadDigest", a, err)
			default:
				measured(t, "%s: complete naming a wrong part checksum gave %v", a, err)
				if err == nil {
					return
				}
			}

			_, err = h.s.CompleteMultipart(ctx, key, id, parts, backends.CompleteOptions{Checksum: checksum.Value{Algorithm: a}})
			if err != nil {
				if claimed {
					t.Fatalf("%s: CompleteMultipart with the listed part checksums: %v", a, err)
				}
				measured(t, "%s: complete with the listed part checksums failed: %v", a, err)
				return
			}
			if got := h.get(t, key); !bytes.Equal(got, data) {
				t.Errorf("GET returned %d bytes that differ from the %d uploaded", len(got), len(data))
			}
		})
	}
}

// testFullObjectChecksums completes, per CRC, a two-part FULL_OBJECT
// upload first with a wrong whole-object checksum (the store must refuse
// it with ErrBadDigest and build nothing, where it claims the algorithm),
// then with the right one, and checks that Stat reports that checksum.
func (h *harness) testFullObjectChecksums(t *testing.T) {
	caps := h.s.Capabilities().Checksums
	for _, a := range checksum.All {
		if !a.IsCRC() {
			if caps.KeepsFullObject(a) {
				t.Errorf("FULL_OBJECT %s is claimed, but only CRCs have a FULL_OBJECT multipart checksum", a)
			}
			continue
		}
		t.Run(string(a), func(t *testing.T) {
			ctx := context.Background()
			claimed := caps.KeepsFullObject(a)
			key := h.key("full-" + strings.ToLower(string(a)) + ".bin")
			id, err := h.s.CreateMultipart(ctx, key, backends.ObjectOptions{Checksum: a, ChecksumType: checksum.FullObject})
			if err != nil {
				if claimed {
					t.Fatalf("CreateMultipart %s FULL_OBJECT: %v", a, err)
				}
				measured(t, "%s FULL_OBJECT: create refused: %v", a, err)
				return
			}
			data := randomBytes(int(multipart.MinPartSize) + 1000)
			chunks := [][]byte{data[:multipart.MinPartSize], data[multipart.MinPartSize:]}
			for i, c := range chunks {
				r, err := h.s.PresignPart(ctx, key, id, i+1, backends.PartOptions{Size: int64(len(c)), Checksum: checksum.Value{Algorithm: a, Value: a.Sum(c)}}, ttl)
				if err != nil {
					t.Fatalf("PresignPart: %v", err)
				}
				if status, _, body := h.send(t, r, c, nil); status != http.StatusOK {
					if claimed {
						t.Fatalf("part %d with its %s checksum: HTTP %d %s", i+1, a, status, snippet(body))
					}
					measured(t, "%s FULL_OBJECT: part %d refused: HTTP %d %s", a, i+1, status, snippet(body))
					return
				}
			}
			parts, err := h.s.ListParts(ctx, key, id)
			if err != nil {
				t.Fatalf("ListParts: %v", err)
			}
			whole := a.Sum(data)
			opts := func(v string) backends.CompleteOptions {
				return backends.CompleteOptions{Checksum: checksum.Value{Algorithm: a, Type: checksum.FullObject, Value: v}}
			}

			_, err = h.s.CompleteMultipart(ctx, key, id, parts, opts(a.Sum(randomBytes(64))))
			switch {
			case err == nil:
				if claimed {
					t.Fatalf("%s FULL_OBJECT is claimed, but a complete with a wrong whole-object checksum succeeded", a)
				}
				measured(t, "%s FULL_OBJECT: a wrong whole-object checksum was accepted; not claimed", a)
				return
			case !errors.Is(err, backends.ErrBadDigest):
				if claimed {
					t.Errorf("complete with a wrong %s: %v, want ErrBadDigest", a, err)
				} else {
					measured(t, "%s FULL_OBJECT: a wrong whole-object checksum gave %v", a, err)
				}
			}
			h.absent(t, key)

			info, err := h.s.CompleteMultipart(ctx, key, id, parts, opts(whole))
			if err != nil {
				if claimed {
					t.Fatalf("complete with the right %s FULL_OBJECT checksum: %v", a, err)
				}
				measured(t, "%s FULL_OBJECT: complete with the right checksum failed: %v", a, err)
				return
			}
			want := checksum.Value{Algorithm: a, Type: checksum.FullObject, Value: whole}
			if info.Checksum != (checksum.Value{}) && info.Checksum != want {
				t.Errorf("CompleteMultipart answered checksum %+v, want %+v", info.Checksum, want)
			}
			st, err := h.s.Stat(ctx, key)
			if err != nil {
				t.Fatalf("Stat: %v", err)
			}
			if st.Checksum != want {
				if claimed {
					t.Errorf("Stat checksum = %+v, want %+v", st.Checksum, want)
				} else {
					measured(t, "%s FULL_OBJECT: Stat reports %+v (want %+v)", a, st.Checksum, want)
				}
			} else if !claimed {
				measured(t, "%s FULL_OBJECT: kept and checked, but not claimed", a)
			}
			if got := h.get(t, key); !bytes.Equal(got, data) {
				t.Errorf("GET returned %d bytes that differ from the %d uploaded", len(got), len(data))
			}
		})
	}
}

// putObject stores data at key through a presigned PUT.
func (h *harness) putObject(t *testing.T, key string, data []byte, opts backends.ObjectOptions) backends.ObjectInfo {
	t.Helper()
	r, err := h.s.PresignPut(context.Background(), key, int64(len(data)), opts, ttl)
	if err != nil {
		t.Fatalf("PresignPut: %v", err)
	}
	h.mustSend(t, r, data)
	info, err := h.s.Stat(context.Background(), key)
	if err != nil {
		t.Fatalf("Stat after PUT: %v", err)
	}
	return info
}

// testConditionalComplete completes an upload with If-None-Match: * onto
// a key that holds an object: a store claiming conditional writes must
// refuse with ErrPrecondition and keep the object; one that replaces it
// must not claim them. Onto a free key the complete must succeed.
func (h *harness) testConditionalComplete(t *testing.T) {
	ctx := context.Background()
	claimed := h.s.Capabilities().ConditionalWrites
	key := h.key("taken.bin")
	old := h.putObject(t, key, randomBytes(100), backends.ObjectOptions{})

	id := h.create(t, key, backends.ObjectOptions{})
	data := randomBytes(200)
	etag := h.putPart(t, key, id, 1, data)
	parts := []multipart.Part{{Number: 1, ETag: etag, Size: int64(len(data))}}
	_, err := h.s.CompleteMultipart(ctx, key, id, parts, backends.CompleteOptions{IfNoneMatch: true})
	switch {
	case err == nil:
		if claimed {
			t.Errorf("conditional writes are claimed, but a complete with If-None-Match: * replaced an object")
		} else {
			measured(t, "If-None-Match on CompleteMultipartUpload is ignored; not claimed")
		}
	case errors.Is(err, backends.ErrPrecondition):
		if !claimed {
			measured(t, "If-None-Match on CompleteMultipartUpload is honoured, but not claimed")
		}
		st, serr := h.s.Stat(ctx, key)
		if serr != nil || st.ETag != old.ETag || st.Size != old.Size {
			t.Errorf("after a refused conditional complete the object is %+v (%v), want the old one (ETag %s)", st, serr, old.ETag)
		}
		if err := h.s.AbortMultipart(ctx, key, id); err != nil {
			t.Errorf("AbortMultipart after a refused conditional complete: %v", err)
		}
	default:
		if claimed {
			t.Errorf("complete with If-None-Match: * onto an object: %v, want ErrPrecondition", err)
		} else {
			measured(t, "If-None-Match on CompleteMultipartUpload onto an object: %v", err)
		}
	}

	// PutObject with If-None-Match: *, sent with the adapter's client.
	_, err = h.s.Client().PutObject(ctx, h.s.Bucket(), key, bytes.NewReader(data), int64(len(data)), putIfAbsent())
	err = backends.Translate("put object", err)
	switch {
	case err == nil:
		if claimed {
			t.Errorf("conditional writes are claimed, but a PutObject with If-None-Match: * replaced an object")
		} else {
			measured(t, "If-None-Match on PutObject is ignored; not claimed")
		}
	case errors.Is(err, backends.ErrPrecondition):
		if !claimed {
			measured(t, "If-None-Match on PutObject is honoured, but not claimed")
		}
	default:
		t.Errorf("PutObject with If-None-Match: * onto an object: %v", err)
	}

	free := h.key("free.bin")
	id = h.create(t, free, backends.ObjectOptions{})
	etag = h.putPart(t, free, id, 1, data)
	if _, err := h.s.CompleteMultipart(ctx, free, id, []multipart.Part{{Number: 1, ETag: etag}}, backends.CompleteOptions{IfNoneMatch: true}); err != nil {
		t.Fatalf("complete with If-None-Match: * onto a free key: %v", err)
	}
	if got := h.get(t, free); !bytes.Equal(got, data) {
		t.Errorf("GET returned %d bytes that differ from the %d uploaded", len(got), len(data))
	}
}

// putIfAbsent are PutObject options sending If-None-Match: * and no
// checksum of minio-go's own (one PUT, no trailer).
func putIfAbsent() minio.PutObjectOptions {
	opts := minio.PutObjectOptions{DisableMultipart: true, SendContentMd5: true}
	opts.SetMatchETagExcept("*")
	return opts
}

// testCopyAndOpen copies an object inside the store with new metadata,
// reads it back through Open, and checks If-None-Match on the copy.
func (h *harness) testCopyAndOpen(t *testing.T) {
	ctx := context.Background()
	caps := h.s.Capabilities()
	if caps.Copier == nil || caps.Reader == nil {
		t.Fatal("the S3 adapter must offer Copier and ObjectReader")
	}
	src, dst := h.key("copy-src.txt"), h.key("copy-dst.pdf")
	data := randomBytes(70000)
	h.putObject(t, src, data, backends.ObjectOptions{ContentType: "text/plain", Metadata: map[string]string{"a": "1"}})

	info, err := h.s.Copy(ctx, src, dst, backends.CopyOptions{ContentType: "application/pdf", Metadata: map[string]string{"b": "2"}, Checksum: checksum.CRC32C})
	if err != nil {
		t.Fatalf("Copy: %v", err)
	}
	if info.Size != int64(len(data)) || info.ContentType != "application/pdf" || info.Metadata["b"] != "2" || info.Metadata["a"] != "" {
		t.Errorf("Copy = size %d, type %q, metadata %v; want %d, application/pdf, only b=2", info.Size, info.ContentType, info.Metadata, len(data))
	}
	if info.Checksum.Algorithm == checksum.CRC32C {
		if want := checksum.CRC32C.Sum(data); info.Checksum.Value != want {
			t.Errorf("the copy's CRC32C is %q, want %q", info.Checksum.Value, want)
		}
	} else {
		measured(t, "a copy asked for CRC32C reports checksum %+v", info.Checksum)
	}

	rc, err := h.s.Open(ctx, dst)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	got, err := io.ReadAll(rc)
	if cerr := rc.Close(); cerr != nil {
		t.Errorf("Close: %v", cerr)
	}
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("Open read %d bytes (err %v), want the %d copied", len(got), err, len(data))
	}
	if _, err := h.s.Open(ctx, h.key("missing.bin")); !errors.Is(err, backends.ErrNotFound) {
		t.Errorf("Open of a missing key: %v, want ErrNotFound", err)
	}
	if _, err := h.s.Copy(ctx, h.key("missing-src.bin"), h.key("never.bin"), backends.CopyOptions{}); !errors.Is(err, backends.ErrNotFound) {
		t.Errorf("Copy of a missing key: %v, want ErrNotFound", err)
	}

	// If-None-Match onto the existing copy.
	_, err = h.s.Copy(ctx, src, dst, backends.CopyOptions{ContentType: "text/html", IfNoneMatch: true})
	switch {
	case errors.Is(err, backends.ErrPrecondition):
		if !caps.ConditionalCopy {
			measured(t, "If-None-Match on CopyObject is honoured, but not claimed")
		}
		if st, err := h.s.Stat(ctx, dst); err != nil || st.ContentType != "application/pdf" {
			t.Errorf("after a refused conditional copy: %+v, %v; want the earlier copy", st, err)
		}
	case err == nil:
		if caps.ConditionalCopy {
			t.Errorf("conditional copies are claimed, but a copy with If-None-Match: * replaced an object")
		} else {
			measured(t, "If-None-Match on CopyObject is ignored; not claimed")
		}
	default:
		t.Errorf("conditional copy onto an object: %v", err)
	}
	fresh := h.key("copy-fresh.bin")
	if _, err := h.s.Copy(ctx, src, fresh, backends.CopyOptions{IfNoneMatch: true}); err != nil {
		t.Errorf("conditional copy onto a free key: %v", err)
	}
}
