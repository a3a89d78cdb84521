package broker

import (
	"context"
	"errors"
	"fmt"
	"path"
	"time"

	"github.com/chute-dev/chute/broker/session"
	"github.com/chute-dev/chute/multipart"
)

// Single uploads of the Uppy routes (a POST policy form, or a presigned
// PUT on stores without POST policies) cannot be multipart uploads, and a
// form stays usable until its policy expires. So the form writes a
// staging object, never the session's key: complete (or the promoter,
// for Uppy, which never calls complete) checks the staged object and
// copies it into place inside the store, then removes it. Whatever the
// form writes after that, or after the session ended, lands at the
// staging key again and never becomes the object at the session's key;
// the janitor removes staged objects of expired sessions, and a bucket
// lifecycle rule on the staging folder (docs/guarantees.md) removes late
// writes.

// StagingFolder is the folder, beside an upload's key, that holds staged
// single uploads.
const StagingFolder = ".chute-staging"

// StagingKey is where the single upload of session id, whose final key
// is key, is staged: a folder beside the key, so that a store policy
// limiting Chute to a prefix covers it too.
func StagingKey(key, id string) string {
	return path.Join(path.Dir(key), StagingFolder, id)
}

// finishStaged checks the staged object of an Uppy single upload and
// copies it to the session's key.
func (s *Service) finishStaged(ctx context.Context, sess *session.Session, prof *Profile) (ObjectInfo, error) {
	store := s.backends[sess.Backend]
	staged := StagingKey(sess.Key, sess.ID)
	info, err := store.Stat(ctx, staged)
	if errors.Is(err, ErrNotFound) {
		return info, Errorf(CodeIncomplete, "the object has not been uploaded yet")
	}
	if err != nil {
		return info, s.storeError(err, "stat staged object")
	}
	bad := func(code Code, msg string) (ObjectInfo, error) {
		if rerr := store.Remove(ctx, staged); rerr != nil {
			s.log.Warn("remove staged object", "id", sess.ID, "err", rerr)
		}
		return info, &Error{Code: code, Message: msg + ": upload aborted", Err: errWrongObject}
	}
	switch {
	case info.Size > prof.MaxSize:
		return bad(CodeTooLarge, fmt.Sprintf("the object is %d bytes, over the profile's limit of %d", info.Size, prof.MaxSize))
	case info.Size < prof.MinSize:
		return bad(CodeInvalidRequest, fmt.Sprintf("the object is %d bytes, under the profile's minimum of %d", info.Size, prof.MinSize))
	case sess.Kind == multipart.Sized && info.Size != sess.Size:
		return bad(CodeIncomplete, fmt.Sprintf("the object is %d bytes, declared %d", info.Size, sess.Size))
	}
	if err := s.setPlan(ctx, sess, multipart.Plan{Size: info.Size}); err != nil {
		return info, err
	}
	cp := s.caps[sess.Backend].Copier
	if cp == nil {
		return info, wrap(CodeInternal, fmt.Errorf("backend %s cannot copy objects", sess.Backend), "Internal error.")
	}
	if _, err := cp.Copy(ctx, staged, sess.Key, CopyOptions{
		ContentType: sess.ContentType, Metadata: sess.Metadata, IfNoneMatch: s.noOverwrite(sess),
	}); err != nil {
		if errors.Is(err, ErrPrecondition) {
			return bad(CodeConflict, "an object already exists at this upload's key and is not replaced")
		}
		return info, s.storeError(err, "copy staged object into place")
	}
	if err := store.Remove(ctx, staged); err != nil {
		s.log.Warn("remove staged object after copy", "id", sess.ID, "err", err)
	}
	return s.checkObject(ctx, store, sess, "the object has not been uploaded yet")
}

// stage puts a new form session in the promoter's index. A failure is
// logged, not returned: the session can still be completed by a complete
// call, and expires otherwise.
func (s *Service) stage(ctx context.Context, id string, until time.Time) {
	st, ok := session.AsStager(s.sessions)
	if !ok {
		return
	}
	if err := st.Stage(ctx, id, until); err != nil {
		s.log.Warn("promoter index: staged upload not recorded", "id", id, "err", err)
	}
}
