package broker

// The verify hook: a profile may name an application endpoint that
// accepts or rejects every finished upload of the profile (API.md,
// "Verify hook"). At complete, once Chute's own checks passed (parts,
// size, sniffing), the broker asks it, under the session lock, with the
// session in completing:
//
//   - accept: the complete goes on to completed;
//   - reject: the object is removed, the session ends as rejected (with
//     the hook's reason), upload.rejected is announced, and the complete
//     answers CodeRejected with the reason as its message;
//   - no verdict (an error, a timeout, an answer that is not a verdict):
//     the session goes back to where it was, the complete answers
//     CodeStorageUnavailable, and a retried complete asks again.
//
// The broker only decides; the Verifier port carries the question (package
// broker/verifyhttp asks over HTTP, signed as webhooks are).

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/chute-dev/chute/broker/session"
	"github.com/chute-dev/chute/checksum"
	"github.com/chute-dev/chute/multipart"
)

// EventVerify is the type of a verify request (its body's "type" and its
// X-Chute-Event header).
const EventVerify = "upload.verify"

// DefaultVerifyTimeout is how long the hook is waited for when a
// VerifyHook names no timeout.
const DefaultVerifyTimeout = 30 * time.Second

// MaxReasonBytes bounds a rejection's reason as stored and shown; a longer
// one is cut (at a character boundary) and ends in "…".
const MaxReasonBytes = 1024

// verifyURLGrace is how much longer than the hook's timeout the
// download_url it is given stays valid (clock skew, a slow first byte).
const verifyURLGrace = time.Minute

// VerifyHook is a profile's verify hook: where the application is asked,
// the key its requests are signed with, and how long it may take.
type VerifyHook struct {
	// URL is the application's http(s) endpoint.
	URL string
	// Secret, when set, signs each request as webhooks are signed.
	Secret string
	// Timeout bounds one question (0: DefaultVerifyTimeout).
	Timeout time.Duration
}

// timeout is h's timeout, or the default.
func (h *VerifyHook) timeout() time.Duration {
	if h.Timeout > 0 {
		return h.Timeout
	}
	return DefaultVerifyTimeout
}

// VerifyRequest is the question put to a verify hook, as its JSON body.
type VerifyRequest struct {
	// Type is always EventVerify.
	Type   string       `json:"type"`
	Upload VerifyUpload `json:"upload"`
}

// VerifyUpload is the finished upload a VerifyRequest asks about.
type VerifyUpload struct {
	ID          string            `json:"id"`
	Subject     string            `json:"subject"`
	Key         string            `json:"key"`
	Size        int64             `json:"size"`
	ContentType string            `json:"content_type"`
	Metadata    map[string]string `json:"metadata"`
	// ETag is the stored object's ETag, unquoted.
	ETag string `json:"etag"`
	// Checksum is the whole object's checksum, when the store keeps one.
	Checksum *checksum.Value `json:"checksum,omitempty"`
	// DownloadURL is a presigned GET of the object, valid for at least
	// the hook's timeout. It is a bearer credential: never log it.
	DownloadURL string `json:"download_url"`
}

// Verdict is a verify hook's answer.
type Verdict struct {
	Accept bool
	// Reason says why a rejected upload was rejected; it is shown to the
	// client.
	Reason string
}

// Verifier puts a VerifyRequest to a profile's hook (package
// broker/verifyhttp does it over HTTP). It returns an error when it got
// no verdict: a transport failure, ctx's deadline (the hook's timeout)
// passing, or an answer that is not a verdict. Errors must not hold the
// hook's secret, its URL's query string, or the download URL.
type Verifier interface {
	Verify(ctx context.Context, hook VerifyHook, req VerifyRequest) (Verdict, error)
}

// checkVerify checks the verify hooks of profiles against the Service's
// wiring: a hook needs a Verifier, and must give its verdict well within
// the complete's own time budget.
func checkVerify(profiles map[string]Profile, v Verifier, complete time.Duration) error {
	for name, p := range profiles {
		if p.Verify == nil {
			continue
		}
		if v == nil {
			return fmt.Errorf("broker: profile %q has a verify hook, but no Verifier is configured", name)
		}
		if p.Verify.URL == "" {
			return fmt.Errorf("broker: profile %q: verify hook without a URL", name)
		}
		if t := p.Verify.timeout(); t >= complete {
			return fmt.Errorf("broker: profile %q: verify timeout %v must be shorter than the complete timeout %v", name, t, complete)
		}
	}
	return nil
}

// verifyUpload asks the verify hook of sess's profile, if it has one,
// about the object finish left at sess's key (info). sess is in
// completing, under the session lock; sess.State is the state before. A
// nil error lets the complete go on; otherwise the session has been
// reverted (no verdict) or rejected, and the error is the answer.
func (s *Service) verifyUpload(ctx context.Context, sess *session.Session, info ObjectInfo) error {
	prof := s.profiles[sess.Profile]
	hook := prof.Verify
	if hook == nil {
		return nil
	}
	timeout := hook.timeout()
	store := s.backends[sess.Backend]
	get, err := store.PresignGet(ctx, sess.Key, s.getOptions(sess), timeout+verifyURLGrace)
	if err != nil {
		s.reopen(ctx, sess, info)
		return s.storeError(err, "presign download for the verify hook")
	}
	req := VerifyRequest{Type: EventVerify, Upload: VerifyUpload{
		ID: sess.ID, Subject: sess.Subject, Key: sess.Key, Size: sess.Size, ContentType: sess.ContentType,
		Metadata: sess.Metadata, ETag: multipart.NormalizeETag(info.ETag), DownloadURL: get.URL,
	}}
	if req.Upload.Metadata == nil {
		req.Upload.Metadata = map[string]string{}
	}
	if sess.Kind == multipart.OpenEnded { // not learned (see open.go): the store's is the size
		req.Upload.Size = info.Size
	}
	if !info.Checksum.IsZero() && info.Checksum.Value != "" {
		sum := info.Checksum
		req.Upload.Checksum = &sum
	}

	hctx, cancel := context.WithTimeout(ctx, timeout)
	start := time.Now()
	verdict, err := s.verifier.Verify(hctx, *hook, req)
	late := errors.Is(hctx.Err(), context.DeadlineExceeded)
	cancel()
	if err != nil {
		why := "did not give a verdict"
		if late {
			why = fmt.Sprintf("did not answer within %v", timeout)
		}
		s.log.Warn("verify hook gave no verdict; the upload stays open", "id", sess.ID, "profile", sess.Profile,
			"took", time.Since(start).Round(time.Millisecond).String(), "err", err)
		s.reopen(ctx, sess, info)
		return wrap(CodeStorageUnavailable, err, "the upload could not be verified: the application's verify hook %s; retry the complete", why)
	}
	if verdict.Accept {
		return nil
	}
	return s.reject(ctx, sess, info, verdict.Reason)
}

// reject ends a completing session as rejected: its object is removed
// first (so that a failure leaves the session open, to be asked again),
// then the state is written with the reason and upload.rejected is
// announced.
func (s *Service) reject(ctx context.Context, sess *session.Session, info ObjectInfo, reason string) error {
	reason = cleanReason(reason)
	if err := s.backends[sess.Backend].Remove(ctx, sess.Key); err != nil && !errors.Is(err, ErrNotFound) {
		s.reopen(ctx, sess, info)
		return s.storeError(err, "remove rejected object")
	}
	done, err := s.sessions.Transition(ctx, sess.ID, session.Change{
		From:      []session.State{session.StateCompleting},
		To:        session.StateRejected,
		Reason:    reason,
		ExpiresAt: s.now().Add(s.ttl),
		Token:     lockToken(ctx),
		Event:     s.eventMark(EventRejected),
	})
	if err != nil {
		_, terr := s.transitionError(err, "mark rejected")
		return terr
	}
	s.log.Info("upload rejected by the verify hook", "id", sess.ID, "profile", sess.Profile)
	s.releaseOpen(ctx, done)
	s.emit(ctx, EventRejected, done)
	return rejectedError(done)
}

// reopen undoes the completing mark after the hook gave no verdict (or
// the object could not be removed): the session goes back to where it
// was, open, and records the ETag of the object finish left at its key,
// so that an abort or expiry removes that unverified object
// (discardUnverified) instead of leaving it behind.
func (s *Service) reopen(ctx context.Context, sess *session.Session, info ObjectInfo) {
	ctx, cancel := cleanupContext(ctx) // ctx may be the work's, past its deadline
	defer cancel()
	to := sess.State
	if to == session.StateCompleting {
		to = session.StateUploading
	}
	if _, err := s.sessions.Transition(ctx, sess.ID, session.Change{
		From: []session.State{session.StateCompleting}, To: to, ETag: info.ETag, Token: lockToken(ctx),
	}); err != nil {
		// Left in completing: the next complete takes it over.
		s.log.Warn("reopen after the verify hook", "id", sess.ID, "err", err)
	}
}

// discardUnverified removes the object a complete left at sess's key when
// its verify hook gave no verdict and the session then ended without
// completing (abort, expiry): an open session with an ETag names such an
// object (reopen). An object of another ETag, written at the key since
// (a profile that allows overwrites), is left alone.
func (s *Service) discardUnverified(ctx context.Context, store ObjectStore, sess *session.Session) error {
	if sess.ETag == "" || sess.State == session.StateCompleted {
		return nil
	}
	info, err := store.Stat(ctx, sess.Key)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if !multipart.SameETag(info.ETag, sess.ETag) {
		return nil
	}
	if err := store.Remove(ctx, sess.Key); err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	s.log.Info("removed the unverified object of an upload that ended without a verdict", "id", sess.ID)
	return nil
}

// rejectedError is the answer to completing the rejected session sess:
// CodeRejected, with the hook's reason as the message.
func rejectedError(sess *session.Session) error {
	msg := sess.Reason
	if msg == "" {
		msg = "the application rejected the upload"
	}
	return &Error{Code: CodeRejected, Message: msg}
}

// cleanReason makes a hook's reason safe to store and show: valid UTF-8,
// no control characters, trimmed, at most MaxReasonBytes.
func cleanReason(r string) string {
	r = strings.ToValidUTF8(r, "\uFFFD")
	r = strings.Map(func(c rune) rune {
		if unicode.IsControl(c) {
			return ' '
		}
		return c
	}, r)
	r = strings.TrimSpace(r)
	if len(r) <= MaxReasonBytes {
		return r
	}
	cut := MaxReasonBytes - len("…")
	for cut > 0 && !utf8.RuneStart(r[cut]) {
		cut--
	}
	return r[:cut] + "…"
}
