package events

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/propagation"
)

// Group is the consumer group name; one group per key prefix means one
// per deployment.
const Group = "chute-webhooks"

// Observer counts deliveries (package metrics implements it). Type is the
// event type.
type Observer interface {
	WebhookDelivered(eventType string, d time.Duration)
	WebhookFailed(eventType string)
	WebhookDead(eventType string)
}

// DeliveryConfig tunes a Deliverer; zero fields take the defaults below.
type DeliveryConfig struct {
	// Timeout bounds one POST. Default 5s.
	Timeout time.Duration
	// MaxAttempts is how many POSTs are made to one webhook for one event
	// before it is dead-lettered. Default 12.
	MaxAttempts int
	// MaxAge is how long after Publish an event is still tried. Default 24h.
	MaxAge time.Duration
	// Backoff is the wait after the first failed attempt; it doubles after
	// each further one, up to MaxBackoff, each with ±25% jitter. Defaults
	// 1s and 1h.
	Backoff    time.Duration
	MaxBackoff time.Duration
	// Poll is how long one read blocks waiting for new entries, and so how
	// often due retries are looked for. Default 1s.
	Poll time.Duration
	// Consumer names this process in the group. Default hostname-pid-random.
	Consumer string
	// Transport carries the POSTs (default http.DefaultTransport); a
	// traced one (tracing.Tracer.Transport) makes a span of each.
	Transport http.RoundTripper
	// Propagator, when set, makes each POST continue the trace its event
	// was published in (the outbox's SetPropagator).
	Propagator propagation.TextMapPropagator
}

func (c *DeliveryConfig) fill() {
	if c.Timeout <= 0 {
		c.Timeout = 5 * time.Second
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 12
	}
	if c.MaxAge <= 0 {
		c.MaxAge = 24 * time.Hour
	}
	if c.Backoff <= 0 {
		c.Backoff = time.Second
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = time.Hour
	}
	if c.MaxBackoff < c.Backoff {
		c.MaxBackoff = c.Backoff
	}
	if c.Poll <= 0 {
		c.Poll = time.Second
	}
	if c.Consumer == "" {
		host, _ := os.Hostname()
		var b [4]byte
		_, _ = rand.Read(b[:])
		c.Consumer = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
	}
}

// Deliverer POSTs the outbox's entries to their webhooks.
type Deliverer struct {
	rc      redis.UniversalClient
	key     string
	deadKey string
	secrets map[string]string // by URL
	cfg     DeliveryConfig
	http    *http.Client
	log     *slog.Logger
	obs     Observer
	now     func() time.Time
	cursor  string // where the next XPENDING page starts ("" = the start)

	// pruneAfter is how long a consumer with nothing pending may be idle
	// before it is removed from the group (a process that is gone).
	pruneAfter time.Duration
	lastPrune  time.Time
}

// pendingPage is how many pending entries one round looks at.
const pendingPage = 256

// NewDeliverer returns the deliverer of hooks for the outbox under prefix.
// obs and log may be nil.
func NewDeliverer(rc redis.UniversalClient, prefix string, hooks []Webhook, cfg DeliveryConfig, log *slog.Logger, obs Observer) *Deliverer {
	cfg.fill()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	secrets := make(map[string]string, len(hooks))
	for _, h := range hooks {
		secrets[h.URL] = h.Secret
	}
	return &Deliverer{
		rc: rc, key: StreamKey(prefix), deadKey: DeadKey(prefix), secrets: secrets, cfg: cfg,
		http: &http.Client{
			Timeout:   cfg.Timeout,
			Transport: cfg.Transport,
			// A redirect is not an answer of the webhook: it counts as a failure.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		log: log.With("component", "webhooks", "consumer", cfg.Consumer), obs: obs, now: time.Now,
		pruneAfter: time.Hour,
	}
}

// Consumer is the name of this deliverer in the group.
func (d *Deliverer) Consumer() string { return d.cfg.Consumer }

// Run delivers until ctx is cancelled. Redis errors are logged and
// retried; Run returns nil at cancellation.
func (d *Deliverer) Run(ctx context.Context) error {
	for ctx.Err() == nil {
		if err := d.ensureGroup(ctx); err != nil {
			d.log.Warn("webhooks: create consumer group", "err", err)
			sleep(ctx, d.cfg.Poll)
			continue
		}
		break
	}
	for ctx.Err() == nil {
		if err := d.Step(ctx); err != nil && ctx.Err() == nil {
			d.log.Warn("webhooks: read the outbox", "err", err)
			if strings.Contains(err.Error(), "NOGROUP") {
				_ = d.ensureGroup(ctx)
			}
			sleep(ctx, d.cfg.Poll)
		}
	}
	return nil
}

func (d *Deliverer) ensureGroup(ctx context.Context) error {
	err := d.rc.XGroupCreateMkStream(ctx, d.key, Group, "0").Err()
	if err != nil && !strings.Contains(err.Error(), "BUSYGROUP") {
		return err
	}
	return nil
}

// Step makes one round: it retries the pending entries that are due
// (this process's and any other's), then reads new entries, waiting up to
// Poll for some, and delivers them.
func (d *Deliverer) Step(ctx context.Context) error {
	if err := d.retryDue(ctx); err != nil {
		return err
	}
	d.prune(ctx)
	streams, err := d.rc.XReadGroup(ctx, &redis.XReadGroupArgs{
		Group: Group, Consumer: d.cfg.Consumer, Streams: []string{d.key, ">"},
		Count: 32, Block: d.cfg.Poll,
	}).Result()
	if errors.Is(err, redis.Nil) {
		return nil
	}
	if err != nil {
		return err
	}
	var jobs []job
	for _, s := range streams {
		for _, m := range s.Messages {
			jobs = append(jobs, job{m, 1})
		}
	}
	d.deliverAll(ctx, jobs)
	return nil
}

// minIdle is the shortest idle time before any retry: longer than one
// attempt can take, so an entry being POSTed is never claimed by another
// process.
func (d *Deliverer) minIdle() time.Duration { return d.cfg.Timeout + 250*time.Millisecond }

// retryDue claims and delivers the pending entries whose backoff has
// passed. An entry's delivery count is the number of attempts begun; its
// idle time is the time since the last one began.
func (d *Deliverer) retryDue(ctx context.Context) error {
	start := d.cursor
	if start == "" {
		start = "-"
	}
	pend, err := d.rc.XPendingExt(ctx, &redis.XPendingExtArgs{
		Stream: d.key, Group: Group, Idle: d.minIdle(), Start: start, End: "+", Count: pendingPage,
	}).Result()
	if err != nil {
		if strings.Contains(err.Error(), "NOGROUP") {
			return err
		}
		return fmt.Errorf("XPENDING: %w", err)
	}
	// Page through a long pending list, one page per round.
	if len(pend) < pendingPage {
		d.cursor = ""
	} else {
		d.cursor = "(" + pend[len(pend)-1].ID
	}
	var jobs []job
	for _, p := range pend {
		wait := max(d.backoff(p.ID, p.RetryCount), d.minIdle())
		if p.Idle < wait {
			continue
		}
		msgs, err := d.rc.XClaim(ctx, &redis.XClaimArgs{
			Stream: d.key, Group: Group, Consumer: d.cfg.Consumer, MinIdle: wait, Messages: []string{p.ID},
		}).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			return fmt.Errorf("XCLAIM: %w", err)
		}
		if len(msgs) == 0 {
			// Claimed by another process first, or trimmed away: a
			// trimmed entry's id stays pending with no message; drop it.
			if err == nil || errors.Is(err, redis.Nil) {
				d.dropIfGone(ctx, p.ID)
			}
			continue
		}
		if p.Consumer != d.cfg.Consumer {
			d.log.Info("webhooks: took over a pending delivery", "from", p.Consumer, "entry", p.ID, "attempts", p.RetryCount)
		}
		jobs = append(jobs, job{msgs[0], int(p.RetryCount) + 1})
	}
	d.deliverAll(ctx, jobs)
	return nil
}

// prune removes, now and then, the consumers of processes that are gone:
// those with nothing pending, idle for pruneAfter. (A live process reads
// every Poll, so it is never that idle; were it removed anyway, its next
// read would add it back.) Errors are ignored: pruning is housekeeping.
func (d *Deliverer) prune(ctx context.Context) {
	if d.now().Sub(d.lastPrune) < d.pruneAfter/10 {
		return
	}
	d.lastPrune = d.now()
	consumers, err := d.rc.XInfoConsumers(ctx, d.key, Group).Result()
	if err != nil {
		return
	}
	for _, c := range consumers {
		if c.Name != d.cfg.Consumer && c.Pending == 0 && c.Idle >= d.pruneAfter {
			if d.rc.XGroupDelConsumer(ctx, d.key, Group, c.Name).Err() == nil {
				d.log.Debug("webhooks: removed a gone consumer", "gone", c.Name)
			}
		}
	}
}

// dropIfGone acknowledges id when the stream no longer holds it.
func (d *Deliverer) dropIfGone(ctx context.Context, id string) {
	got, err := d.rc.XRange(ctx, d.key, id, id).Result()
	if err == nil && len(got) == 0 {
		_ = d.rc.XAck(ctx, d.key, Group, id).Err()
	}
}

// backoff is the wait after attempt number n (1-based) of entry id: Backoff
// doubled n-1 times, capped at MaxBackoff, times a jitter in [0.75, 1.25)
// that depends only on (id, n), so every process computes the same.
func (d *Deliverer) backoff(id string, n int64) time.Duration {
	b := d.cfg.Backoff
	for i := int64(1); i < n && b < d.cfg.MaxBackoff; i++ {
		b *= 2
	}
	b = min(b, d.cfg.MaxBackoff)
	h := fnv.New64a()
	_, _ = fmt.Fprintf(h, "%s/%d", id, n)
	j := 0.75 + float64(h.Sum64()%1000)/2000
	return time.Duration(float64(b) * j)
}

// job is one entry to deliver and the number of its attempt (1-based).
type job struct {
	msg     redis.XMessage
	attempt int
}

// parallel bounds the POSTs one process has in flight.
const parallel = 32

// deliverAll delivers jobs, up to parallel at once, and returns when all
// are done.
func (d *Deliverer) deliverAll(ctx context.Context, jobs []job) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, parallel)
	for _, j := range jobs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			d.deliverOne(ctx, j.msg, j.attempt)
		}()
	}
	wg.Wait()
}

func (d *Deliverer) deliverOne(ctx context.Context, m redis.XMessage, attempt int) {
	e, err := parseEntry(m)
	if err != nil {
		d.dead(ctx, e, attempt, "malformed outbox entry")
		return
	}
	secret, ok := d.secrets[e.url]
	if !ok {
		d.dead(ctx, e, attempt, "webhook no longer configured")
		return
	}
	start := time.Now()
	status, err := d.post(ctx, e, secret)
	if ctx.Err() != nil {
		return // shutting down: the entry stays pending, another attempt follows
	}
	if err == nil && status/100 == 2 {
		d.ack(ctx, e.id)
		if d.obs != nil {
			d.obs.WebhookDelivered(e.typ, time.Since(start))
		}
		d.log.Debug("webhook delivered", "event", e.typ, "event_id", e.eventID, "url", RedactURL(e.url), "attempt", attempt)
		return
	}
	if d.obs != nil {
		d.obs.WebhookFailed(e.typ)
	}
	reason := fmt.Sprintf("status %d", status)
	if err != nil {
		reason = err.Error()
	}
	if attempt >= d.cfg.MaxAttempts || d.now().Sub(e.created) >= d.cfg.MaxAge {
		d.dead(ctx, e, attempt, reason)
		return
	}
	d.log.Warn("webhook delivery failed; will retry", "event", e.typ, "event_id", e.eventID,
		"url", RedactURL(e.url), "attempt", attempt, "reason", reason,
		"retry_in", max(d.backoff(e.id, int64(attempt)), d.minIdle()).Round(time.Millisecond).String())
}

// post sends one attempt and returns the answer's status.
func (d *Deliverer) post(ctx context.Context, e entry, secret string) (int, error) {
	ctx = traceContext(d.cfg.Propagator, ctx, e)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.url, bytes.NewReader(e.body))
	if err != nil {
		return 0, errors.New("cannot build the request")
	}
	ts := strconv.FormatInt(d.now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "chute-webhooks")
	req.Header.Set("X-Chute-Event", e.typ)
	req.Header.Set("X-Chute-Event-Id", e.eventID)
	req.Header.Set("X-Chute-Timestamp", ts)
	if secret != "" {
		req.Header.Set("X-Chute-Signature", Sign(secret, ts, e.body))
	}
	resp, err := d.http.Do(req)
	if err != nil {
		// The error of net/http names the URL, query string included:
		// keep only what went wrong.
		var ue interface{ Unwrap() error }
		if errors.As(err, &ue) && ue.Unwrap() != nil {
			err = ue.Unwrap()
		}
		return 0, fmt.Errorf("request failed: %s", scrubURL(err.Error(), e.url))
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

// scrubURL removes u (and its query string) from msg.
func scrubURL(msg, u string) string {
	msg = strings.ReplaceAll(msg, u, RedactURL(u))
	if i := strings.IndexByte(u, '?'); i >= 0 {
		msg = strings.ReplaceAll(msg, u[i:], "")
	}
	return msg
}

// Sign is the X-Chute-Signature value of body sent at timestamp ts (unix
// seconds, as in X-Chute-Timestamp): "sha256=" and the hex
// HMAC-SHA256(secret, ts + "." + body).
func Sign(secret, ts string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts))
	mac.Write([]byte("."))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// ack acknowledges and deletes a delivered entry.
func (d *Deliverer) ack(ctx context.Context, id string) {
	_, err := d.rc.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.XAck(ctx, d.key, Group, id)
		p.XDel(ctx, d.key, id)
		return nil
	})
	if err != nil {
		// Not acknowledged: it will be sent again (at least once).
		d.log.Warn("webhooks: acknowledge a delivery", "entry", id, "err", err)
	}
}

// dead moves an entry to the dead-letter stream and acknowledges it.
func (d *Deliverer) dead(ctx context.Context, e entry, attempts int, reason string) {
	vals := []any{fieldURL, e.url, fieldEventID, e.eventID, fieldType, e.typ, fieldBody, e.body,
		fieldCreated, strconv.FormatInt(e.created.UnixMilli(), 10),
		"attempts", attempts, "reason", scrubURL(reason, e.url), "entry", e.id}
	if err := d.rc.XAdd(ctx, &redis.XAddArgs{Stream: d.deadKey, MaxLen: DefaultMaxLen, Approx: true, Values: vals}).Err(); err != nil {
		d.log.Warn("webhooks: dead-letter a delivery", "entry", e.id, "err", err)
		return // stays pending; tried again later
	}
	d.ack(ctx, e.id)
	d.log.Error("webhook delivery given up", "event", e.typ, "event_id", e.eventID, "url", RedactURL(e.url),
		"attempts", attempts, "reason", scrubURL(reason, e.url), "dead_letter_stream", d.deadKey)
	if d.obs != nil {
		d.obs.WebhookDead(e.typ)
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
