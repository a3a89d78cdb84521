package sessions

import (
	"context"
	"errors"
	"net"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// EndBus announces ended sessions to every replica on one Redis pub/sub
// channel, "<prefix>:ended" (broker.EndBus: it keeps the replicas'
// signing caches from signing for a session another replica ended).
//
// Classic pub/sub works on every deployment go-redis's UniversalClient
// speaks to: standalone, Sentinel (on the master), and Cluster, where a
// PUBLISH on any node reaches subscribers on every node (the cluster bus
// forwards it). Delivery is at most once: a subscriber that is
// disconnected misses what was published meanwhile, so every
// (re)subscription is reported (reset) and the broker re-reads its cache.
type EndBus struct {
	client  redis.UniversalClient
	channel string
	// retry is the pause before subscribing again after a failure.
	retry time.Duration
	// idle is how long a silent feed is trusted before it is pinged.
	idle time.Duration
}

// NewEndBus returns the bus for the deployment with key prefix prefix (""
// means DefaultKeyPrefix, as for NewRedisStore).
func NewEndBus(client redis.UniversalClient, prefix string) *EndBus {
	if prefix == "" {
		prefix = DefaultKeyPrefix
	}
	return &EndBus{client: client, channel: prefix + ":ended", retry: time.Second, idle: 30 * time.Second}
}

// PublishEnded announces that session id ended in state.
func (b *EndBus) PublishEnded(ctx context.Context, id, state string) error {
	return unavailable(b.client.Publish(ctx, b.channel, id+" "+state).Err())
}

// SubscribeEnded calls ended for every announcement and reset after every
// (re)subscription, until ctx ends; it returns ctx's error. A failed
// subscription is started afresh a second later.
func (b *EndBus) SubscribeEnded(ctx context.Context, ended func(id, state string), reset func()) error {
	for ctx.Err() == nil {
		b.follow(ctx, ended, reset)
		select {
		case <-ctx.Done():
		case <-time.After(b.retry):
		}
	}
	return ctx.Err()
}

// follow runs one subscription until it fails or ctx ends. A feed silent
// for idle is pinged; silent for another idle, it is given up (a
// connection may hang without an error, behind a partition).
func (b *EndBus) follow(ctx context.Context, ended func(id, state string), reset func()) {
	ps := b.client.Subscribe(ctx, b.channel)
	defer ps.Close()
	stop := context.AfterFunc(ctx, func() { _ = ps.Close() })
	defer stop()
	pinged := false
	for ctx.Err() == nil {
		msg, err := ps.ReceiveTimeout(ctx, b.idle)
		if err != nil {
			var ne net.Error
			if !pinged && errors.As(err, &ne) && ne.Timeout() && ps.Ping(ctx) == nil {
				pinged = true
				continue
			}
			return
		}
		pinged = false
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				reset()
			}
		case *redis.Message:
			if id, state, ok := strings.Cut(m.Payload, " "); ok {
				ended(id, state)
			}
		}
	}
}
