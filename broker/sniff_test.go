package broker

import (
	"bytes"
	"context"
	"testing"

	"github.com/gabriel-vasile/mimetype"
)

// headStore is a fakeStore that also reads object heads (HeadReader),
// from the bytes put with putBytes.
type headStore struct {
	*fakeStore
	data  map[string][]byte
	reads int
}

func (h *headStore) putBytes(key string, b []byte, ct string) {
	h.mu.Lock()
	if h.data == nil {
		h.data = map[string][]byte{}
	}
	h.data[key] = b
	h.mu.Unlock()
	h.putObject(key, int64(len(b)), ct)
}

func (h *headStore) ReadHead(_ context.Context, key string, n int64) ([]byte, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.reads++
	if _, ok := h.objects[key]; !ok {
		return nil, ErrNotFound
	}
	b := h.data[key]
	return b[:min(int64(len(b)), n)], nil
}

var (
	pngBytes = append([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), make([]byte, 64)...)
	zipBytes = append([]byte("PK\x03\x04\x14\x00\x00\x00\x08\x00"), make([]byte, 64)...)
)

// sniffService is a test service whose default profile sniffs.
func sniffService(t *testing.T) (*Service, *headStore) {
	t.Helper()
	svc, fs := newTestService(t)
	hs := &headStore{fakeStore: fs}
	svc.backends["main"] = hs
	svc.caps["main"] = ResolveCapabilities(hs)
	p := svc.profiles["default"]
	p.Sniff = true
	p.AllowedTypes = append(p.AllowedTypes, "application/zip", "application/json")
	svc.profiles["default"] = p
	return svc, hs
}

func TestSniff(t *testing.T) {
	cases := []struct {
		name     string
		declared string
		data     []byte
		code     Code
	}{
		{"real png", "image/png", pngBytes, ""},
		{"png declared, zip sent", "image/png", zipBytes, CodeUnsupportedType},
		{"png declared, text sent", "image/png", []byte("just some text, not an image"), CodeUnsupportedType},
		{"png declared, nothing recognisable", "image/png", []byte{0x00, 0x01, 0x02, 0xfe, 0xff, 0x00, 0x10}, CodeUnsupportedType},
		{"text matches text with charset", "text/plain", []byte("hello, world\n"), ""},
		{"text/plain with charset declared", "text/plain; charset=utf-8", []byte("hello\n"), ""},
		{"zip declared, zip sent", "application/zip", zipBytes, ""},
		{"octet-stream takes anything", "application/octet-stream", pngBytes, ""},
		{"json declared, truncated head looks like text", "application/json", []byte(`{"a": "`), ""},
		{"empty file declared png", "image/png", []byte{}, CodeUnsupportedType},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			svc, hs := sniffService(t)
			ctx := context.Background()
			res, err := svc.Create(ctx, "alice", CreateRequest{Filename: "f", ContentType: c.declared, Size: size(int64(len(c.data)))})
			if err != nil {
				t.Fatal(err)
			}
			hs.putBytes(res.Key, c.data, c.declared)
			_, err = svc.Complete(ctx, "alice", res.ID, CompleteRequest{})
			st, serr := svc.Status(ctx, "alice", res.ID, false)
			if serr != nil {
				t.Fatal(serr)
			}
			if c.code == "" {
				if err != nil || st.State != "completed" {
					t.Fatalf("complete: %v, state %s", err, st.State)
				}
				if _, ok := hs.objects[res.Key]; !ok {
					t.Fatal("object removed")
				}
				return
			}
			wantCode(t, err, c.code)
			if _, ok := hs.objects[res.Key]; ok {
				t.Fatal("object of the wrong type was kept")
			}
			if st.State != "aborted" {
				t.Fatalf("state %s, want aborted", st.State)
			}
		})
	}
}

func TestSniffMultipart(t *testing.T) {
	svc, hs := sniffService(t)
	ctx := context.Background()
	res, err := svc.Create(ctx, "alice", CreateRequest{Filename: "v.png", ContentType: "image/png", Size: size(6 << 20)})
	if err != nil || res.Strategy != "multipart" {
		t.Fatalf("%+v %v", res, err)
	}
	var uploadID string
	for id := range hs.uploads {
		uploadID = id
	}
	for _, p := range res.Parts {
		etag := hs.putPart(uploadID, p.PartNumber, p.Size)
		if _, err := svc.ReportPart(ctx, "alice", res.ID, p.PartNumber, ReportRequest{ETag: etag, Size: size(p.Size)}); err != nil {
			t.Fatal(err)
		}
	}
	hs.mu.Lock()
	hs.data = map[string][]byte{res.Key: bytes.Repeat([]byte("text "), 1000)}
	hs.mu.Unlock()
	_, err = svc.Complete(ctx, "alice", res.ID, CompleteRequest{})
	wantCode(t, err, CodeUnsupportedType)
	if _, ok := hs.objects[res.Key]; ok {
		t.Fatal("object kept")
	}
	st, _ := svc.Status(ctx, "alice", res.ID, false)
	if st.State != "aborted" {
		t.Fatalf("state %s", st.State)
	}
}

func TestNoSniffByDefault(t *testing.T) {
	svc, fs := newTestService(t)
	hs := &headStore{fakeStore: fs}
	svc.backends["main"] = hs
	svc.caps["main"] = ResolveCapabilities(hs)
	ctx := context.Background()
	res, err := svc.Create(ctx, "alice", CreateRequest{Filename: "a.png", ContentType: "image/png", Size: size(int64(len(zipBytes)))})
	if err != nil {
		t.Fatal(err)
	}
	hs.putBytes(res.Key, zipBytes, "image/png")
	if _, err := svc.Complete(ctx, "alice", res.ID, CompleteRequest{}); err != nil {
		t.Fatal(err)
	}
	if hs.reads != 0 {
		t.Fatalf("%d head reads without sniff", hs.reads)
	}
}

func TestSniffNeedsHeadReader(t *testing.T) {
	svc, fs := newTestService(t)
	p := svc.profiles["default"]
	p.Sniff = true
	_, err := New(Config{Profiles: map[string]Profile{"default": p}, Backends: map[string]ObjectStore{"main": fs}, Sessions: svc.sessions, TTL: svc.ttl})
	if err == nil {
		t.Fatal("a sniffing profile on a store that cannot read heads was accepted")
	}
	if _, err := New(Config{Profiles: map[string]Profile{"default": p}, Backends: map[string]ObjectStore{"main": &headStore{fakeStore: fs}}, Sessions: svc.sessions, TTL: svc.ttl}); err != nil {
		t.Fatal(err)
	}
}

func TestTypeMatches(t *testing.T) {
	docx := mimetype.Lookup("application/vnd.openxmlformats-officedocument.wordprocessingml.document")
	for _, c := range []struct {
		declared string
		detected *mimetype.MIME
		want     bool
	}{
		{"text/plain", mimetype.Detect([]byte("hi")), true},
		{"image/png", mimetype.Detect(zipBytes), false},
		{"application/zip", docx, true},
		{docx.String(), mimetype.Detect(zipBytes), true},
		{"image/jpeg", mimetype.Detect(pngBytes), false},
		{"application/x-chute-unknown", mimetype.Detect(pngBytes), true},
		{"not a type", mimetype.Detect(pngBytes), false},
	} {
		if got := TypeMatches(c.declared, c.detected); got != c.want {
			t.Errorf("TypeMatches(%q, %s) = %v, want %v", c.declared, c.detected, got, c.want)
		}
	}
}
