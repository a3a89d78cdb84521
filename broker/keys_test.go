package broker

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

var day = time.Date(2026, 11, 27, 23, 59, 0, 0, time.FixedZone("x", -5*3600)) // 2026-11-28 in UTC

func TestRenderKey(t *testing.T) {
	const tmpl = "{subject}/{yyyy}/{mm}/{dd}/{id}{ext}"
	id := "upl_abc"
	cases := []struct {
		subject, filename, want string
	}{
		{"alice", "clip.mp4", "alice/2026/11/28/upl_abc.mp4"},
		{"alice", "Clip.MP4", "alice/2026/11/28/upl_abc.mp4"},
		{"alice", "../../etc/passwd", "alice/2026/11/28/upl_abc"},
		{"alice", "..\\..\\win.ini", "alice/2026/11/28/upl_abc.ini"},
		{"alice", "README", "alice/2026/11/28/upl_abc"},
		{"alice", ".bashrc", "alice/2026/11/28/upl_abc"},
		{"alice", "archive.tar.gz", "alice/2026/11/28/upl_abc.gz"},
		{"alice", "видео.mp4", "alice/2026/11/28/upl_abc.mp4"},
		{"alice", "clip.mp4\x00.exe", "alice/2026/11/28/upl_abc.exe"},
		{"alice", "x.m%34", "alice/2026/11/28/upl_abc"},
		{"alice", "x.вид", "alice/2026/11/28/upl_abc"},
		{"alice", "x." + strings.Repeat("a", 17), "alice/2026/11/28/upl_abc"},
		{"alice", strings.Repeat("a", 1000) + ".png", "alice/2026/11/28/upl_abc.png"},
		{"../../root", "a.png", "..~2f..~2froot/2026/11/28/upl_abc.png"},
		{"..", "a.png", "~2e~2e/2026/11/28/upl_abc.png"},
		{"a/b", "a.png", "a~2fb/2026/11/28/upl_abc.png"},
		{"", "a.png", "~/2026/11/28/upl_abc.png"},
		{"bob@example.com", "a.png", "bob@example.com/2026/11/28/upl_abc.png"},
		{"ü", "a.png", "~c3~bc/2026/11/28/upl_abc.png"},
	}
	for _, c := range cases {
		got, err := RenderKey(tmpl, KeyFields{Subject: c.subject, ID: id, Filename: c.filename, Now: day})
		if err != nil {
			t.Errorf("%q %q: %v", c.subject, c.filename, err)
			continue
		}
		if got != c.want {
			t.Errorf("%q %q: got %q, want %q", c.subject, c.filename, got, c.want)
		}
	}
}

func TestRenderKeyRejects(t *testing.T) {
	for _, tmpl := range []string{"", "/{id}", "{id}//x", "a/../{id}", "./{id}", strings.Repeat("x", 1100) + "{id}"} {
		if k, err := RenderKey(tmpl, KeyFields{Subject: "a", ID: "upl_x", Now: day}); err == nil {
			t.Errorf("template %q gave key %q, want an error", tmpl, k)
		}
	}
}

func TestEscapeSegmentInjective(t *testing.T) {
	seen := map[string]string{}
	for _, s := range []string{"a/b", "a~2fb", "a_b", "a.b", "A", "a", "~", "", ".", "..", "~2e"} {
		e := escapeSegment(s)
		if prev, ok := seen[e]; ok {
			t.Fatalf("%q and %q both escape to %q", prev, s, e)
		}
		seen[e] = s
	}
}

// TestLongSubjectsStayApart: subjects that agree on their first
// MaxSegmentInput bytes (an email domain, a tenant prefix) must not share
// a key prefix — before the hash suffix they did, and one subject's
// uploads landed under another's.
func TestLongSubjectsStayApart(t *testing.T) {
	long := strings.Repeat("tenant-0123456789/", 10) // 180 bytes
	subjects := []string{long + "alice", long + "bob", long, long[:MaxSegmentInput], long[:MaxSegmentInput+1], "~~"}
	seen := map[string]string{}
	for _, s := range subjects {
		key, err := RenderKey("{subject}/{id}", KeyFields{Subject: s, ID: "upl_x", Now: day})
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		seg, _, _ := strings.Cut(key, "/")
		if prev, ok := seen[seg]; ok {
			t.Fatalf("subjects %q and %q share the key segment %q", prev, s, seg)
		}
		seen[seg] = s
		if len(s) > MaxSegmentInput && !strings.Contains(seg, "~~") {
			t.Errorf("%q: segment %q has no hash suffix", s, seg)
		}
		if len(s) <= MaxSegmentInput && strings.Contains(seg, "~~") {
			t.Errorf("%q: a short subject got a hash suffix: %q", s, seg)
		}
	}
	// The suffix is stable: the same subject always gets the same prefix.
	a, _ := RenderKey("{subject}/{id}", KeyFields{Subject: long + "alice", ID: "upl_x", Now: day})
	b, _ := RenderKey("{subject}/{id}", KeyFields{Subject: long + "alice", ID: "upl_y", Now: day})
	if strings.Split(a, "/")[0] != strings.Split(b, "/")[0] {
		t.Fatalf("one subject, two prefixes: %q %q", a, b)
	}
}

func FuzzRenderKey(f *testing.F) {
	for _, s := range []string{"alice", "../..", "a/b", "ü", ""} {
		f.Add(s, "clip.mp4")
	}
	f.Add("x", "../../etc/passwd")
	f.Add("x", "a.\x00b")
	f.Fuzz(func(t *testing.T, subject, filename string) {
		key, err := RenderKey("{subject}/{yyyy}/{id}{ext}", KeyFields{Subject: subject, ID: "upl_x", Filename: filename, Now: day})
		if err != nil {
			t.Fatalf("%q %q: %v", subject, filename, err)
		}
		segs := strings.Split(key, "/")
		if len(segs) != 3 {
			t.Fatalf("key %q has %d segments: the subject or filename escaped its place", key, len(segs))
		}
		if !utf8.ValidString(key) || strings.ContainsAny(key, "\x00\r\n\\") {
			t.Fatalf("unsafe key %q", key)
		}
		if !strings.HasPrefix(segs[2], "upl_x") {
			t.Fatalf("filename changed the id segment: %q", key)
		}
	})
}

func TestTypeAllowed(t *testing.T) {
	p := Profile{AllowedTypes: []string{"video/*", "image/png"}}
	for ct, want := range map[string]bool{
		"video/mp4": true, "VIDEO/MP4": true, "video/webm; codecs=vp9": true, "image/png": true,
		"image/jpeg": false, "videos/mp4": false, "text/plain": false, "garbage": false, "": false,
	} {
		if got := p.TypeAllowed(ct); got != want {
			t.Errorf("%q: %v", ct, got)
		}
	}
	if !(&Profile{AllowedTypes: []string{"*/*"}}).TypeAllowed("application/x-anything") {
		t.Error("*/* must allow everything")
	}
}
