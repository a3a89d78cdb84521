// Package events delivers the broker's events (broker.Event: an upload
// completed, aborted, expired or rejected) to the application's webhooks,
// at least once, through an outbox kept in a Redis Stream.
//
// The Outbox is the broker's EventSink: Publish appends one stream entry
// per (event, webhook) pair to PREFIX:events, in one MULTI, so that each
// webhook's delivery is tracked on its own: a retry never re-sends an event
// to a webhook that already answered 2xx. Entries carry the event's JSON,
// byte for byte the body that is POSTed.
//
// The Deliverer reads the stream in a consumer group (one group per
// deployment, i.e. per key prefix; each process is a consumer), POSTs each
// entry to its webhook, and acknowledges and deletes it on a 2xx answer.
// An entry that fails stays pending in the group; it is retried, by
// whichever process sees it first, once it has been idle for its backoff
// (exponential in the number of attempts, with jitter, capped). Claiming
// an entry (XCLAIM with that min-idle time) is atomic, so one retry is
// made by one process; the same rule takes over the entries of a process
// that died (kill -9) mid-delivery. After MaxAttempts attempts or MaxAge
// the entry is moved to PREFIX:events:dead and counted.
//
// Needs Redis 6.2 or later (XPENDING with IDLE). Keys: PREFIX:events and
// PREFIX:events:dead (streams). Never logs a webhook's secret or its URL's
// query string.
package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/propagation"

	"github.com/chute-dev/chute/broker"
)

// AllTypes are the event types a webhook gets when it names none.
var AllTypes = []string{broker.EventCompleted, broker.EventAborted, broker.EventExpired, broker.EventRejected}

// Webhook is one receiver of events.
type Webhook struct {
	// URL is the http(s) URL events are POSTed to.
	URL string
	// Secret, when set, is the HMAC-SHA256 key of X-Chute-Signature.
	Secret string
	// Events are the event types sent to URL; empty means AllTypes.
	Events []string
}

// wants reports whether w takes events of type typ.
func (w Webhook) wants(typ string) bool {
	return len(w.Events) == 0 || slices.Contains(w.Events, typ)
}

// DefaultMaxLen is the default bound of the outbox stream.
const DefaultMaxLen = 100000

// Stream entry fields.
const (
	fieldURL     = "url"
	fieldEventID = "event_id"
	fieldType    = "type"
	fieldBody    = "body"
	fieldCreated = "created" // unix milliseconds, for MaxAge
)

// StreamKey is the outbox stream of key prefix prefix.
func StreamKey(prefix string) string { return prefix + ":events" }

// DeadKey is the dead-letter stream of key prefix prefix.
func DeadKey(prefix string) string { return prefix + ":events:dead" }

// Outbox is a broker.EventSink that appends events to the outbox stream.
type Outbox struct {
	rc     redis.UniversalClient
	key    string
	hooks  []Webhook
	maxLen int64
	now    func() time.Time
	prop   propagation.TextMapPropagator // trace.go; nil: no trace context
}

// NewOutbox returns the outbox of hooks in the Redis of rc under key
// prefix prefix; the stream is trimmed to about maxLen entries (0 means
// DefaultMaxLen). Trimming drops the oldest entries, delivered or not, so
// maxLen bounds the backlog kept while webhooks are down.
func NewOutbox(rc redis.UniversalClient, prefix string, hooks []Webhook, maxLen int64) *Outbox {
	if maxLen <= 0 {
		maxLen = DefaultMaxLen
	}
	return &Outbox{rc: rc, key: StreamKey(prefix), hooks: hooks, maxLen: maxLen, now: time.Now}
}

var _ broker.EventSink = (*Outbox)(nil)

// Publish appends one entry per webhook that takes ev's type, atomically.
func (o *Outbox) Publish(ctx context.Context, ev broker.Event) error {
	body, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("events: encode %s: %w", ev.Type, err)
	}
	created := strconv.FormatInt(o.now().UnixMilli(), 10)
	tf := traceFields(o.prop, ctx)
	var n int
	_, err = o.rc.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for _, h := range o.hooks {
			if !h.wants(ev.Type) {
				continue
			}
			n++
			p.XAdd(ctx, &redis.XAddArgs{
				Stream: o.key, MaxLen: o.maxLen, Approx: true,
				Values: append([]any{fieldURL, h.URL, fieldEventID, ev.ID, fieldType, ev.Type, fieldBody, body, fieldCreated, created}, tf...),
			})
		}
		return nil
	})
	if n == 0 {
		return nil
	}
	if err != nil {
		return fmt.Errorf("events: append %s to the outbox: %w", ev.Type, err)
	}
	return nil
}

// entry is one (event, webhook) delivery read from the stream.
type entry struct {
	id      string // stream entry id
	url     string
	eventID string
	typ     string
	body    []byte
	created time.Time
	// traceparent and tracestate are the publisher's trace context, if
	// any (trace.go).
	traceparent, tracestate string
}

func parseEntry(m redis.XMessage) (entry, error) {
	e := entry{id: m.ID}
	str := func(k string) string { s, _ := m.Values[k].(string); return s }
	e.url, e.eventID, e.typ, e.body = str(fieldURL), str(fieldEventID), str(fieldType), []byte(str(fieldBody))
	e.traceparent, e.tracestate = str(fieldTraceparent), str(fieldTracestate)
	ms, err := strconv.ParseInt(str(fieldCreated), 10, 64)
	if err != nil || e.url == "" || e.eventID == "" || len(e.body) == 0 {
		return e, errors.New("malformed outbox entry")
	}
	e.created = time.UnixMilli(ms)
	return e, nil
}

// RedactURL is u without credentials, query string or fragment, for logs.
func RedactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unparsable URL)"
	}
	p.User, p.RawQuery, p.ForceQuery, p.Fragment, p.RawFragment = nil, "", false, "", ""
	return p.String()
}
