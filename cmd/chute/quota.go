package main

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/chute-dev/chute/broker"
	"github.com/chute-dev/chute/config"
	"github.com/chute-dev/chute/sessions"
)

// quotas returns the broker's quota store on the sessions Redis and the
// limits of cfg (global, then each profile's); nil, nil when no quota is
// set.
func quotas(cfg *config.Config, rc redis.UniversalClient) (broker.Quotas, []broker.QuotaLimit) {
	var limits []broker.QuotaLimit
	if cfg.Quotas.On() {
		limits = append(limits, broker.QuotaLimit{OpenBytes: int64(cfg.Quotas.OpenBytes), DailyBytes: int64(cfg.Quotas.DailyBytes)})
	}
	for name, p := range cfg.Profiles {
		if p.Quotas.On() {
			limits = append(limits, broker.QuotaLimit{Scope: name, OpenBytes: int64(p.Quotas.OpenBytes), DailyBytes: int64(p.Quotas.DailyBytes)})
		}
	}
	if len(limits) == 0 {
		return nil, nil
	}
	return quotaStore{sessions.NewQuotaStore(rc, cfg.Sessions.KeyPrefix)}, limits
}

// quotaStore is the broker's Quotas port on a sessions.QuotaStore.
type quotaStore struct{ q *sessions.QuotaStore }

func (s quotaStore) Reserve(ctx context.Context, subject, id string, bytes int64, until time.Time, limits []broker.QuotaLimit) error {
	ls := make([]sessions.QuotaLimit, len(limits))
	for i, l := range limits {
		ls[i] = sessions.QuotaLimit{Scope: l.Scope, OpenBytes: l.OpenBytes, DailyBytes: l.DailyBytes}
	}
	ref, err := s.q.Reserve(ctx, subject, id, bytes, until, ls)
	if err != nil || ref == nil {
		return err
	}
	qe := &broker.QuotaExceeded{Scope: ref.Scope, Quota: broker.QuotaOpenBytes, Limit: ref.Limit, Used: ref.Used, Need: bytes}
	if ref.Daily {
		qe.Quota, qe.RetryAfter = broker.QuotaDailyBytes, ref.RetryAfter
	}
	return qe
}

func (s quotaStore) Settle(ctx context.Context, subject, id string, bytes int64, scopes []string) error {
	_, err := s.q.Settle(ctx, subject, id, bytes, scopes)
	return err
}

func (s quotaStore) Release(ctx context.Context, subject, id string, scopes []string) error {
	return s.q.Release(ctx, subject, id, scopes)
}
