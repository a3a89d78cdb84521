package broker

// Magic-byte sniffing: for a profile with Sniff set, a completed object's
// first SniffBytes bytes are read back from the store and the type they
// show is compared with the declared content type. An object whose bytes
// contradict its declared type is removed and its session aborted (415).
//
// "Contradict" follows github.com/gabriel-vasile/mimetype's type tree,
// where a type's parent is the more general format it is a kind of
// (text/html is a text/plain, a .docx is a ZIP):
//
//   - the detected type, or one of its parents or aliases, is the
//     declared type: a match ("text/plain" declared, "text/plain;
//     charset=utf-8" detected; "application/zip" declared, a .docx seen);
//   - the declared type descends from the detected one and the detected
//     one is not the tree's root (application/octet-stream): a match, as
//     far as the first bytes can tell (JSON declared, its head looks like
//     plain text; a .docx declared, its head shows a ZIP);
//   - the declared type is not in the tree at all: it cannot be checked,
//     and is let through;
//   - anything else is a mismatch ("image/png" declared, a ZIP or
//     unrecognised bytes seen).

import (
	"context"
	"errors"
	"fmt"
	"mime"

	"github.com/gabriel-vasile/mimetype"

	"github.com/chute-dev/chute/broker/session"
)

// SniffBytes is how many leading bytes of an object are sniffed.
const SniffBytes = 3072

// sniff checks a complete object's first bytes against its declared type
// when its profile asks for it. On a mismatch the object is removed and
// the error (415) makes the complete abort the session.
func (s *Service) sniff(ctx context.Context, store ObjectStore, sess *session.Session) error {
	if !s.profiles[sess.Profile].Sniff {
		return nil
	}
	hr := s.caps[sess.Backend].Heads
	if hr == nil {
		return wrap(CodeInternal, fmt.Errorf("backend %s cannot read object heads", sess.Backend), "Internal error.")
	}
	var head []byte
	if sess.Size != 0 {
		var err error
		head, err = hr.ReadHead(ctx, sess.Key, SniffBytes)
		if errors.Is(err, ErrNotFound) {
			return Errorf(CodeIncomplete, "the object has not been uploaded yet")
		}
		if err != nil {
			return s.storeError(err, "read object head")
		}
	}
	detected := mimetype.Detect(head)
	if TypeMatches(sess.ContentType, detected) {
		return nil
	}
	if err := store.Remove(ctx, sess.Key); err != nil {
		s.log.Warn("remove object of the wrong type", "id", sess.ID, "err", err)
	}
	mt, _, _ := mime.ParseMediaType(sess.ContentType)
	return &Error{
		Code:    CodeUnsupportedType,
		Message: fmt.Sprintf("the file's content is %s, not the declared %s: upload aborted", bareType(detected.String()), mt),
		Err:     errWrongObject,
	}
}

// TypeMatches reports whether bytes detected as d are consistent with the
// declared content type (see the rules at the top of sniff.go).
func TypeMatches(declared string, d *mimetype.MIME) bool {
	mt, _, err := mime.ParseMediaType(declared)
	if err != nil {
		return false
	}
	for m := d; m != nil; m = m.Parent() {
		if m.Is(mt) {
			return true
		}
	}
	want := mimetype.Lookup(mt)
	if want == nil {
		return true // a type the detector does not know cannot be checked
	}
	if d.Parent() == nil {
		return false // nothing recognised: the root, application/octet-stream
	}
	for m := want.Parent(); m != nil; m = m.Parent() {
		if m.Is(bareType(d.String())) {
			return true
		}
	}
	return false
}

func bareType(t string) string {
	mt, _, err := mime.ParseMediaType(t)
	if err != nil {
		return t
	}
	return mt
}
