package broker

import (
	"context"
	"time"

	"github.com/chute-dev/chute/broker/session"
)

// Event types: the end of every session is announced as exactly one of
// them (at least once: a sink may deliver an event more than once).
const (
	EventCompleted = "upload.completed"
	EventAborted   = "upload.aborted"
	EventExpired   = "upload.expired"
	// EventRejected: the profile's verify hook rejected the upload (see
	// verify.go); Upload.Reason says why.
	EventRejected = "upload.rejected"
)

// Event is what the broker announces when a session ends. ID is stable
// for one session and type ("<upload id>:<type>"), so receivers can use it
// as an idempotency key.
type Event struct {
	ID     string      `json:"id"`
	Type   string      `json:"type"`
	Time   time.Time   `json:"time"`
	Upload EventUpload `json:"upload"`
}

// EventUpload is the session an Event is about. It carries no URL and no
// secret.
type EventUpload struct {
	ID          string            `json:"id"`
	Subject     string            `json:"subject"`
	Profile     string            `json:"profile"`
	Backend     string            `json:"backend"`
	Bucket      string            `json:"bucket,omitempty"`
	Key         string            `json:"key"`
	Filename    string            `json:"filename,omitempty"`
	ContentType string            `json:"content_type,omitempty"`
	Size        int64             `json:"size"`
	ETag        string            `json:"etag,omitempty"`
	Metadata    map[string]string `json:"metadata,omitempty"`
	// Reason is the verify hook's reason, for upload.rejected.
	Reason string `json:"reason,omitempty"`
}

// EventSink receives the broker's events (package events keeps them in a
// Redis Stream outbox and delivers them to webhooks). Publish should be
// quick and durable; the broker logs a failure and carries on, since the
// session's own state is already written.
type EventSink interface {
	Publish(ctx context.Context, ev Event) error
}

// NewEvent builds the event of type typ for sess at time now.
func NewEvent(typ string, sess *session.Session, bucket string, now time.Time) Event {
	return Event{
		ID:   sess.ID + ":" + typ,
		Type: typ,
		Time: now.UTC(),
		Upload: EventUpload{
			ID: sess.ID, Subject: sess.Subject, Profile: sess.Profile, Backend: sess.Backend,
			Bucket: bucket, Key: sess.Key, Filename: sess.Filename, ContentType: sess.ContentType,
			Size: sess.Size, ETag: sess.ETag, Metadata: sess.Metadata, Reason: sess.Reason,
		},
	}
}

// emit publishes the event of type typ for sess, if an EventSink is
// configured. A failure is logged, never returned: the session has
// already ended.
//
// The transition that ended sess marked its event pending (Change.Event,
// see reconcile.go); the mark is cleared once the sink took the event, and
// a mark left by a failure or a crash here is published again by the
// reconciler.
func (s *Service) emit(ctx context.Context, typ string, sess *session.Session) {
	faultPoint("crash-after-transition") // a no-op outside test builds (fault_off.go)
	s.sessionEnded(ctx, sess)            // every ending passes here: the signing cache stops signing for it
	if s.events == nil || sess == nil {
		return
	}
	ev := NewEvent(typ, sess, s.bucketOf(sess.Backend), s.now())
	if err := s.events.Publish(context.WithoutCancel(ctx), ev); err != nil {
		s.log.Error("publish event", "type", typ, "id", sess.ID, "err", err)
		return
	}
	s.eventPublished(ctx, typ, sess)
}
