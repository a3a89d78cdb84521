package multipart

import (
	"crypto/md5"
	"encoding/hex"
	"testing"
)

func TestETagOfParts(t *testing.T) {
	a := md5.Sum([]byte("part one"))
	b := md5.Sum([]byte("part two"))
	want := md5.Sum(append(a[:], b[:]...))
	got, err := ETag([]Part{{Number: 1, ETag: `"` + hex.EncodeToString(a[:]) + `"`}, {Number: 2, ETag: hex.EncodeToString(b[:])}})
	if err != nil {
		t.Fatal(err)
	}
	if got != hex.EncodeToString(want[:])+"-2" {
		t.Fatalf("ETag = %s", got)
	}
	if n, ok := IsMultipartETag(`"` + got + `"`); !ok || n != 2 {
		t.Fatalf("IsMultipartETag(%s) = %d, %v", got, n, ok)
	}
}

func TestETagRejects(t *testing.T) {
	if _, err := ETag(nil); err == nil {
		t.Error("no parts: no error")
	}
	if _, err := ETag([]Part{{Number: 1, ETag: "not-hex"}}); err == nil {
		t.Error("non-MD5 part ETag: no error")
	}
	for _, e := range []string{"", "abc", "d41d8cd98f00b204e9800998ecf8427e", "d41d8cd98f00b204e9800998ecf8427e-0", "zz1d8cd98f00b204e9800998ecf8427e-2", "d41d8cd98f00b204e9800998ecf8427e-x"} {
		if _, ok := IsMultipartETag(e); ok {
			t.Errorf("IsMultipartETag(%q) = true", e)
		}
	}
}
