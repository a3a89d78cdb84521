package broker

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"time"

	"github.com/chute-dev/chute/broker/session"
	"github.com/chute-dev/chute/checksum"
	"github.com/chute-dev/chute/multipart"
)

// lockPoll is how often a waiting complete retries the session lock.
const lockPoll = 100 * time.Millisecond

// Complete finalises an upload. It never trusts the client's part list
// alone: the store's own list must hold every planned part with its
// planned size and the ETags the client claims, and the final object must
// have the declared size and type. Completing a completed upload returns
// the same result; concurrent completes are serialised by the session
// lock, so CompleteMultipartUpload runs once.
func (s *Service) Complete(ctx context.Context, subject, id string, req CompleteRequest) (*CompleteResult, error) {
	sess, err := s.load(ctx, subject, id)
	if err != nil {
		return nil, err
	}
	if sess.Kind == multipart.OpenEnded { // the size is learned now: see open.go
		return s.completeOpen(ctx, sess, req.Parts)
	}
	claimed, err := claimedParts(sess, req)
	if err != nil {
		return nil, err
	}
	if sess.State == session.StateCompleted {
		return s.completed(ctx, sess)
	}
	if st := s.state(sess); st == session.StateAborted || st == session.StateExpired {
		return nil, Errorf(CodeConflict, "upload is %s", st)
	}

	return s.completeLocked(ctx, id, func(work context.Context, sess *session.Session) (ObjectInfo, error) {
		if req.Parts == nil {
			claimed = reportedParts(sess)
		}
		return s.finish(work, sess, claimed)
	})
}

// completeLocked runs the part of a complete that must happen once: under
// the session lock (and a detached context, so it finishes even if the
// client leaves), it re-reads the session, answers a completed one as it
// is, marks it completing, runs finish, and records the result — or
// reverts the mark when finish fails.
func (s *Service) completeLocked(ctx context.Context, id string, finish func(context.Context, *session.Session) (ObjectInfo, error)) (*CompleteResult, error) {
	work, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.complete)
	defer cancel()
	token, err := s.lock(ctx, work, id)
	if err != nil {
		return nil, err
	}
	work = withLockToken(work, token) // fences every transition below (fence.go)
	defer s.keepLock(work, id, token)()
	defer func() {
		uctx, cancel := cleanupContext(work)
		defer cancel()
		if err := s.sessions.Unlock(uctx, id, token); err != nil {
			s.log.Warn("unlock session", "id", id, "err", err)
		}
	}()

	// Re-read under the lock: another complete may have finished.
	sess, err := s.sessions.Get(work, id)
	if err != nil {
		return nil, s.sessionError(err, "reload session")
	}
	switch st := s.state(sess); st {
	case session.StateCompleted:
		return s.completed(work, sess)
	case session.StateAborted, session.StateExpired:
		return nil, Errorf(CodeConflict, "upload is %s", st)
	case session.StateRejected:
		return nil, rejectedError(sess)
	}
	// A session left in completing by a replica that died holds no lock
	// any more: taking over is safe.
	if _, err := s.sessions.Transition(work, id, session.Change{
		From:  []session.State{session.StatePending, session.StateUploading, session.StateCompleting},
		To:    session.StateCompleting,
		Token: token,
	}); err != nil {
		return s.transitionError(err, "mark completing")
	}
	info, err := finish(work, sess)
	if err != nil {
		s.revert(work, sess, err)
		return nil, err
	}
	if err := s.verifyUpload(work, sess, info); err != nil { // verify.go
		return nil, err
	}
	// The object is made: record it even if the work's deadline passed.
	rec, cancelRec := cleanupContext(work)
	defer cancelRec()
	done, err := s.sessions.Transition(rec, id, session.Change{
		From:      []session.State{session.StateCompleting},
		To:        session.StateCompleted,
		ETag:      info.ETag,
		Checksum:  info.Checksum.Value,
		ExpiresAt: s.now().Add(s.ttl),
		Token:     token,
		Event:     s.eventMark(EventCompleted),
	})
	if err != nil {
		return s.transitionError(err, "mark completed")
	}
	s.releaseOpen(rec, done)
	s.emit(rec, EventCompleted, done)
	return s.completed(rec, done)
}

// lock takes the session lock, waiting (as long as the client's ctx
// allows) while another complete holds it.
func (s *Service) lock(ctx, work context.Context, id string) (string, error) {
	for {
		token, ok, err := s.sessions.TryLock(work, id, s.lockTTL()) // renewed while held: lease.go
		if err != nil {
			return "", s.sessionError(err, "lock session")
		}
		if ok {
			return token, nil
		}
		select {
		case <-ctx.Done():
			return "", Errorf(CodeConflict, "another complete of this upload is running; retry")
		case <-time.After(lockPoll):
		}
	}
}

// finish checks the upload in the store, completes it, and checks the
// object (size, type, sniffing, checksum). The returned info carries the
// verified checksum, if any.
func (s *Service) finish(ctx context.Context, sess *session.Session, claimed map[int]string) (ObjectInfo, error) {
	store := s.backends[sess.Backend]
	if sess.UploadID == "" {
		// A single upload of the Uppy routes: staged (staging.go).
		prof := s.profiles[sess.Profile]
		return s.finishStaged(ctx, sess, &prof)
	}
	stored, err := store.ListParts(ctx, sess.Key, sess.UploadID)
	if errors.Is(err, ErrNotFound) {
		// Gone from the store: completed by an earlier attempt whose
		// answer was lost, or purged by the store.
		info, err := s.checkCompleted(ctx, store, sess, planParts(sess, claimed))
		if err != nil {
			return info, err
		}
		sum, err := s.verifyChecksum(ctx, sess, info, nil)
		info.Checksum.Value = sum
		return info, err
	}
	if err != nil {
		return ObjectInfo{}, s.storeError(err, "list parts")
	}
	var parts []multipart.Part
	if sess.Strategy == session.StrategySingle {
		parts, err = singlePart(sess, stored)
	} else {
		parts, err = multipart.Check(sessPlan(sess), stored, claimed)
	}
	if err != nil {
		var ie *multipart.IncompleteError
		if errors.As(err, &ie) {
			if len(ie.WrongSize) > 0 {
				// The store holds a part of another size than planned (the
				// signed Content-Length should make this impossible): the
				// upload can never match its declared size.
				return ObjectInfo{}, &Error{Code: CodeIncomplete, Message: ie.Error() + ": upload aborted", Err: errWrongObject}
			}
			return ObjectInfo{}, Errorf(CodeIncomplete, "%s", ie.Error())
		}
		var ce *Error
		if errors.As(err, &ce) {
			return ObjectInfo{}, err
		}
		return ObjectInfo{}, wrap(CodeInternal, err, "Internal error.")
	}
	withChecksums(parts, stored)
	done, err := store.CompleteMultipart(ctx, sess.Key, sess.UploadID, parts, CompleteOptions{
		Checksum:    s.wholeChecksum(sess),
		IfNoneMatch: s.noOverwrite(sess),
	})
	if err != nil {
		switch {
		case errors.Is(err, ErrInvalidPart):
			return ObjectInfo{}, wrap(CodeIncomplete, err, "the store refused the part list")
		case errors.Is(err, ErrBadDigest):
			// The store refused the declared whole checksum: no object.
			return ObjectInfo{}, &Error{Code: CodeIncomplete, Message: fmt.Sprintf("the uploaded bytes do not match the declared %s checksum: upload aborted", sess.ChecksumAlgorithm), Err: errors.Join(errWrongObject, err)}
		case errors.Is(err, ErrPrecondition):
			// Another object holds the key: never replace it.
			return ObjectInfo{}, &Error{Code: CodeConflict, Message: "an object already exists at this upload's key and is not replaced: upload aborted", Err: errors.Join(errWrongObject, err)}
		case errors.Is(err, ErrNotFound):
			// An earlier attempt (or the store client's own retry of
			// this one) completed it and its answer was lost.
			info, err := s.checkCompleted(ctx, store, sess, parts)
			if err != nil {
				return info, err
			}
			sum, err := s.verifyChecksum(ctx, sess, info, parts)
			info.Checksum.Value = sum
			return info, err
		}
		return ObjectInfo{}, s.storeError(err, "complete multipart upload")
	}
	info, err := s.checkObject(ctx, store, sess, "the object has not been uploaded yet")
	if err != nil {
		return info, err
	}
	if info.Checksum.Value == "" {
		info.Checksum = done.Checksum
	}
	sum, err := s.verifyChecksum(ctx, sess, info, parts)
	if err != nil {
		if errors.Is(err, errWrongObject) {
			if rerr := store.Remove(ctx, sess.Key); rerr != nil {
				s.log.Warn("remove object of the wrong checksum", "id", sess.ID, "err", rerr)
			}
		}
		return info, err
	}
	info.Checksum = checksum.Value{Algorithm: checksum.Algorithm(sess.ChecksumAlgorithm), Value: sum}
	return info, nil
}

// singlePart returns the one part of a single upload as the store lists
// it: part 1, of the declared size.
func singlePart(sess *session.Session, stored []multipart.Part) ([]multipart.Part, error) {
	for _, p := range stored {
		if p.Number != 1 {
			continue
		}
		if p.Size != sess.Size {
			return nil, &Error{Code: CodeIncomplete, Message: fmt.Sprintf("the object is %d bytes, declared %d: upload aborted", p.Size, sess.Size), Err: errWrongObject}
		}
		return []multipart.Part{p}, nil
	}
	return nil, Errorf(CodeIncomplete, "the object has not been uploaded yet")
}

// withChecksums copies the store's part checksums onto parts (the
// complete request must repeat them when the upload has an algorithm).
func withChecksums(parts, stored []multipart.Part) {
	byNum := make(map[int]string, len(stored))
	for _, p := range stored {
		if p.Checksum != "" {
			byNum[p.Number] = p.Checksum
		}
	}
	for i := range parts {
		if c, ok := byNum[parts[i].Number]; ok {
			parts[i].Checksum = c
		}
	}
}

// noOverwrite reports whether a complete of sess must not replace an
// existing object: always, where the store honours If-None-Match, unless
// the profile allows overwriting.
func (s *Service) noOverwrite(sess *session.Session) bool {
	return s.caps[sess.Backend].ConditionalWrites && !s.profiles[sess.Profile].Overwrite
}

// checkCompleted decides whether a multipart upload the store no longer
// knows was completed: the object must pass checkObject (declared size
// and type) and, when its ETag has the multipart form and the part ETags
// are known, equal the ETag those parts make (multipart.ETag). parts are
// the session's parts in order, or nil when they are not all known.
//
// A store whose ETags are not MD5-based (some encrypt with KMS, some
// compute their own) gives an ETag of another form: the object is then
// accepted on its size alone, and a warning logged.
func (s *Service) checkCompleted(ctx context.Context, store ObjectStore, sess *session.Session, parts []multipart.Part) (ObjectInfo, error) {
	info, err := s.checkObject(ctx, store, sess, "the store no longer has this multipart upload")
	if err != nil {
		return info, err
	}
	if _, ok := multipart.IsMultipartETag(info.ETag); !ok || parts == nil {
		s.log.Warn("completed upload accepted on its size: its ETag cannot be checked", "id", sess.ID)
		return info, nil
	}
	want, err := multipart.ETag(parts)
	if err != nil {
		s.log.Warn("completed upload accepted on its size: its part ETags are not MD5s", "id", sess.ID)
		return info, nil
	}
	if !multipart.SameETag(want, info.ETag) {
		return info, Errorf(CodeIncomplete, "the store no longer has this multipart upload, and the object at its key was not made from its parts")
	}
	return info, nil
}

// planParts returns every planned part of sess with its ETag from
// claimed, in order; nil when a part has no ETag.
func planParts(sess *session.Session, claimed map[int]string) []multipart.Part {
	plan := sessPlan(sess)
	if plan.PartCount < 1 {
		return nil
	}
	out := make([]multipart.Part, 0, plan.PartCount)
	for n := 1; n <= plan.PartCount; n++ {
		etag, ok := claimed[n]
		if !ok || multipart.NormalizeETag(etag) == "" {
			return nil
		}
		out = append(out, multipart.Part{Number: n, ETag: etag, Size: plan.PartSizeOf(n)})
	}
	return out
}

// checkObject checks that the final object exists with the declared size
// and type. An object of the wrong size is removed and the session
// aborted: it can never become right.
func (s *Service) checkObject(ctx context.Context, store ObjectStore, sess *session.Session, missing string) (ObjectInfo, error) {
	info, err := store.Stat(ctx, sess.Key)
	if errors.Is(err, ErrNotFound) {
		return info, Errorf(CodeIncomplete, "%s", missing)
	}
	if err != nil {
		return info, s.storeError(err, "stat object")
	}
	if info.Size != sess.Size {
		if rerr := store.Remove(ctx, sess.Key); rerr != nil {
			s.log.Warn("remove object of wrong size", "id", sess.ID, "err", rerr)
		}
		return info, &Error{Code: CodeIncomplete, Message: fmt.Sprintf("the object is %d bytes, declared %d: upload aborted", info.Size, sess.Size), Err: errWrongObject}
	}
	if err := s.sniff(ctx, store, sess); err != nil {
		return info, err
	}
	if !sameMediaType(info.ContentType, sess.ContentType) {
		s.log.Warn("stored content type differs", "id", sess.ID, "stored", info.ContentType, "declared", sess.ContentType)
	}
	return info, nil
}

var errWrongObject = errors.New("object does not match the session")

// revert undoes the completing mark after a failed finish: back to
// uploading (the client can fix its parts and retry), or aborted if the
// object can never be right.
func (s *Service) revert(ctx context.Context, sess *session.Session, cause error) {
	ctx, cancel := cleanupContext(ctx) // ctx may be the work's, past its deadline
	defer cancel()
	to := sess.State
	if to == session.StateCompleting {
		to = session.StateUploading
	}
	if errors.Is(cause, errWrongObject) {
		to = session.StateAborted
		if sess.UploadID != "" { // every native upload, a single one too
			_ = s.backends[sess.Backend].AbortMultipart(ctx, sess.Key, sess.UploadID)
		}
	}
	change := session.Change{From: []session.State{session.StateCompleting}, To: to, Token: lockToken(ctx)}
	if to == session.StateAborted {
		change.Event = s.eventMark(EventAborted)
	}
	updated, err := s.sessions.Transition(ctx, sess.ID, change)
	if err != nil {
		s.log.Warn("revert completing", "id", sess.ID, "err", err)
	} else if to == session.StateAborted {
		s.releaseOpen(ctx, sess)
		s.emit(ctx, EventAborted, updated)
	}
}

func (s *Service) transitionError(err error, op string) (*CompleteResult, error) {
	if errors.Is(err, session.ErrLockLost) {
		return nil, Errorf(CodeConflict, "this complete ran out of time and another took over; retry")
	}
	var se *session.StateError
	if errors.As(err, &se) {
		return nil, Errorf(CodeConflict, "upload is %s", se.Current)
	}
	return nil, s.sessionError(err, op)
}

func (s *Service) completed(ctx context.Context, sess *session.Session) (*CompleteResult, error) {
	dl, err := s.download(ctx, sess)
	if err != nil {
		return nil, err
	}
	return &CompleteResult{
		ID: sess.ID, Key: sess.Key, State: string(session.StateCompleted), Size: sess.Size,
		ContentType: sess.ContentType, ETag: multipart.NormalizeETag(sess.ETag), Download: dl,
		Checksum: s.checksumView(sess),
	}, nil
}

// claimedParts validates the client's part list and returns it as a map;
// nil when the client sent none (the reported parts are used).
func claimedParts(sess *session.Session, req CompleteRequest) (map[int]string, error) {
	if req.Parts == nil {
		return nil, nil
	}
	if sess.Strategy != session.StrategyMultipart {
		if len(req.Parts) > 0 {
			return nil, Errorf(CodeInvalidRequest, "parts: a single upload has no parts")
		}
		return nil, nil
	}
	plan := sessPlan(sess)
	out := make(map[int]string, len(req.Parts))
	for _, p := range req.Parts {
		if !plan.Valid(p.PartNumber) {
			return nil, Errorf(CodeInvalidRequest, "parts: part number %d is out of range 1..%d", p.PartNumber, plan.PartCount)
		}
		if _, dup := out[p.PartNumber]; dup {
			return nil, Errorf(CodeInvalidRequest, "parts: part %d is listed twice", p.PartNumber)
		}
		if multipart.NormalizeETag(p.ETag) == "" {
			return nil, Errorf(CodeInvalidRequest, "parts: part %d has no etag", p.PartNumber)
		}
		out[p.PartNumber] = p.ETag
	}
	return out, nil
}

func reportedParts(sess *session.Session) map[int]string {
	out := make(map[int]string, len(sess.Parts))
	for _, p := range sess.Parts {
		out[p.Number] = p.ETag
	}
	return out
}

func sameMediaType(a, b string) bool {
	ma, _, errA := mime.ParseMediaType(a)
	mb, _, errB := mime.ParseMediaType(b)
	return errA == nil && errB == nil && ma == mb
}
