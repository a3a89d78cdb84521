package sessions

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/chute-dev/chute/multipart"
)

// DefaultKeyPrefix is the key prefix a RedisStore uses unless
// WithKeyPrefix says otherwise.
const DefaultKeyPrefix = "chute"

// Fields of the session hash.
const (
	fieldID          = "id"
	fieldSubject     = "subject"
	fieldProfile     = "profile"
	fieldBackend     = "backend"
	fieldKey         = "key"
	fieldUploadID    = "upload_id"
	fieldStrategy    = "strategy"
	fieldState       = "state"
	fieldFilename    = "filename"
	fieldContentType = "content_type"
	fieldSize        = "size"
	fieldPartSize    = "part_size"
	fieldPartCount   = "part_count"
	fieldMetadata    = "metadata"
	fieldETag        = "etag"
	fieldReason      = "reason"
	fieldCreatedAt   = "created_at"
	fieldUpdatedAt   = "updated_at"
	fieldExpiresAt   = "expires_at"
	fieldChecksumAlg = "checksum_alg"
	fieldChecksum    = "checksum"
	fieldEvent       = "event_pending"
)

// Status codes the scripts return as the first element of their reply.
const (
	replyNotFound = 0 // the session hash does not exist
	replyState    = 1 // wrong state; the second element is the current state
	replyOK       = 2 // the second and third elements are HGETALL of the session and parts hashes
	replyLockLost = 3 // the change was fenced by a lock token the lock no longer holds
)

// createScript stores a new session unless its hash exists.
// KEYS: session, parts. ARGV: key expiry (unix ms: ExpiresAt plus the
// retention), then field/value pairs.
var createScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('PEXPIREAT', KEYS[1], ARGV[1])
return 1
`)

// putPartScript records one part if the state allows it.
// KEYS: session, parts. ARGV: part number, "size etag", now (unix ms),
// state pending, state uploading, retention (ms).
var putPartScript = redis.NewScript(`
local st = redis.call('HGET', KEYS[1], 'state')
if not st then
  return {0}
end
if st ~= ARGV[4] and st ~= ARGV[5] then
  return {1, st}
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[1], 'state', ARGV[5], 'updated_at', ARGV[3])
local exp = redis.call('HGET', KEYS[1], 'expires_at')
if exp and exp ~= '' then
  redis.call('PEXPIREAT', KEYS[2], tonumber(exp) + tonumber(ARGV[6]))
end
return {2, redis.call('HGETALL', KEYS[1]), redis.call('HGETALL', KEYS[2])}
`)

// transitionScript is a compare-and-set on the state, optionally fenced
// by the session lock and marking the session's event as pending.
// KEYS: session, parts, lock. ARGV: new state, etag (may be empty), expiry
// (unix ms, may be empty), now (unix ms), key expiry (unix ms: expiry plus
// the retention, empty when expiry is), checksum (may be empty), reason
// (may be empty), lock token (empty: not fenced), event type (empty:
// none), then the accepted current states.
var transitionScript = redis.NewScript(`
local st = redis.call('HGET', KEYS[1], 'state')
if not st then
  return {0}
end
if ARGV[8] ~= '' and redis.call('GET', KEYS[3]) ~= ARGV[8] then
  return {3}
end
local ok = false
for i = 10, #ARGV do
  if ARGV[i] == st then
    ok = true
    break
  end
end
if not ok then
  return {1, st}
end
redis.call('HSET', KEYS[1], 'state', ARGV[1], 'updated_at', ARGV[4])
if ARGV[2] ~= '' then
  redis.call('HSET', KEYS[1], 'etag', ARGV[2])
end
if ARGV[3] ~= '' then
  redis.call('HSET', KEYS[1], 'expires_at', ARGV[3])
end
if ARGV[6] ~= '' then
  redis.call('HSET', KEYS[1], 'checksum', ARGV[6])
end
if ARGV[7] ~= '' then
  redis.call('HSET', KEYS[1], 'reason', ARGV[7])
end
if ARGV[9] ~= '' then
  redis.call('HSET', KEYS[1], 'event_pending', ARGV[9])
end
local s = redis.call('HGETALL', KEYS[1])
local p = redis.call('HGETALL', KEYS[2])
if ARGV[3] ~= '' then
  redis.call('PEXPIREAT', KEYS[1], ARGV[5])
  redis.call('PEXPIREAT', KEYS[2], ARGV[5])
end
return {2, s, p}
`)

// unlockScript deletes the lock only if it still holds the token.
// KEYS: lock. ARGV: token.
var unlockScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`)

// RedisStore is a Store on Redis (standalone, Sentinel or Cluster, through
// go-redis's UniversalClient). The key layout is in the package doc.
type RedisStore struct {
	client    redis.UniversalClient
	prefix    string
	retention time.Duration
}

var _ Store = (*RedisStore)(nil)

// RedisOption configures a RedisStore.
type RedisOption func(*RedisStore)

// WithKeyPrefix sets the first part of every key (default DefaultKeyPrefix),
// so that several deployments can share one Redis. The prefix must not
// contain '{' or '}': they would change the keys' hash tag.
func WithKeyPrefix(prefix string) RedisOption {
	return func(s *RedisStore) { s.prefix = prefix }
}

// NewRedisStore returns a store that keeps its sessions in client. The
// store does not own the client: closing it is the caller's job.
// NewRedisStore panics if the prefix set with WithKeyPrefix holds '{' or
// '}', a programming error that would break Redis Cluster slotting.
func NewRedisStore(client redis.UniversalClient, opts ...RedisOption) *RedisStore {
	s := &RedisStore{client: client, prefix: DefaultKeyPrefix, retention: DefaultRetention}
	for _, o := range opts {
		o(s)
	}
	if strings.ContainsAny(s.prefix, "{}") {
		panic(fmt.Sprintf("sessions: key prefix %q must not contain '{' or '}'", s.prefix))
	}
	return s
}

// keys returns the session hash, parts hash and lock keys of id.
func (r *RedisStore) keys(id string) (session, parts, lock string) {
	base := r.prefix + ":{" + id + "}:"
	return base + "s", base + "p", base + "l"
}

// Create stores s (its Parts are ignored) with every key expiring at
// s.ExpiresAt plus the retention, and adds it to the expiry index. It refuses an empty ID or a zero ExpiresAt: a session must
// never outlive its retention.
func (r *RedisStore) Create(ctx context.Context, s *Session) error {
	if s.ID == "" {
		return errors.New("sessions: empty session id")
	}
	if s.ExpiresAt.IsZero() {
		return errors.New("sessions: session has no ExpiresAt")
	}
	args, err := encodeSession(s)
	if err != nil {
		return err
	}
	args[0] = r.keyExpiry(s.ExpiresAt.UnixMilli())
	sk, pk, _ := r.keys(s.ID)
	n, err := createScript.Run(ctx, r.client, []string{sk, pk}, args...).Int64()
	if err != nil {
		return unavailable(err)
	}
	if n == 0 {
		return ErrExists
	}
	// A second command, in another Cluster slot (see the package doc).
	return r.indexAfter(ctx, s)
}

// Get returns the session with its parts sorted by number.
func (r *RedisStore) Get(ctx context.Context, id string) (*Session, error) {
	if id == "" {
		return nil, ErrNotFound
	}
	sk, pk, _ := r.keys(id)
	// One MULTI/EXEC round trip: both hashes are read atomically (the two
	// keys share a hash tag, so this holds on Redis Cluster too), without
	// the cost of running a script and converting its generic reply.
	var fields, parts *redis.MapStringStringCmd
	_, err := r.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		fields = p.HGetAll(ctx, sk)
		parts = p.HGetAll(ctx, pk)
		return nil
	})
	if err != nil {
		return nil, unavailable(err)
	}
	f, p := fields.Val(), parts.Val()
	if len(f) == 0 {
		return nil, ErrNotFound
	}
	if p == nil {
		p = map[string]string{} // nil would mean "parts not read"
	}
	return decodeSession(f, p)
}

// GetSession returns the session without its parts (Parts is nil): one
// HGETALL of the session hash, for callers that need only the session's
// own fields (signing part URLs, checking a report before PutPart). It is
// not part of Store; the broker uses it when the store has it.
func (r *RedisStore) GetSession(ctx context.Context, id string) (*Session, error) {
	if id == "" {
		return nil, ErrNotFound
	}
	sk, _, _ := r.keys(id)
	f, err := r.client.HGetAll(ctx, sk).Result()
	if err != nil {
		return nil, unavailable(err)
	}
	if len(f) == 0 {
		return nil, ErrNotFound
	}
	return decodeSession(f, nil)
}

// PutPart records p and moves the session to uploading; see Store. The
// part's entry is a field of its own in the parts hash, so concurrent
// reports of different parts never overwrite each other.
func (r *RedisStore) PutPart(ctx context.Context, id string, p multipart.Part) (*Session, error) {
	if p.Number < 1 {
		return nil, fmt.Errorf("sessions: invalid part number %d", p.Number)
	}
	if id == "" {
		return nil, ErrNotFound
	}
	sk, pk, _ := r.keys(id)
	return r.runSession(ctx, putPartScript, []string{sk, pk},
		strconv.Itoa(p.Number), encodePart(p), nowMillis(),
		string(StatePending), string(StateUploading), r.retention.Milliseconds())
}

// Transition applies c as one compare-and-set on the state; see Store.
func (r *RedisStore) Transition(ctx context.Context, id string, c Change) (*Session, error) {
	if c.To == "" {
		return nil, errors.New("sessions: change has no target state")
	}
	if id == "" {
		return nil, ErrNotFound
	}
	expires, keyExpires := "", ""
	if !c.ExpiresAt.IsZero() {
		expires = strconv.FormatInt(c.ExpiresAt.UnixMilli(), 10)
		keyExpires = r.keyExpiry(c.ExpiresAt.UnixMilli())
	}
	args := make([]any, 0, 9+len(c.From))
	args = append(args, string(c.To), c.ETag, expires, nowMillis(), keyExpires, c.Checksum, c.Reason, c.Token, c.Event)
	for _, f := range c.From {
		args = append(args, string(f))
	}
	sk, pk, lk := r.keys(id)
	sess, err := r.runSession(ctx, transitionScript, []string{sk, pk, lk}, args...)
	if err != nil {
		return nil, err
	}
	if terminal(c.To) || !c.ExpiresAt.IsZero() {
		// A second command, in another Cluster slot (see the package doc).
		// Its failure is not the change's: the change is written, and the
		// janitor drops entries of terminal sessions and re-scores entries
		// that are not yet due.
		_ = r.indexAfter(ctx, sess)
	}
	return sess, nil
}

// TryLock takes the session's lock with SET NX PX and a random token.
// The lock is independent of the session's existence. ttl must be at least
// a millisecond.
func (r *RedisStore) TryLock(ctx context.Context, id string, ttl time.Duration) (string, bool, error) {
	if id == "" {
		return "", false, errors.New("sessions: empty session id")
	}
	if ttl < time.Millisecond {
		return "", false, fmt.Errorf("sessions: lock ttl %v is under a millisecond", ttl)
	}
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", false, err
	}
	token := hex.EncodeToString(b[:])
	_, _, lk := r.keys(id)
	ok, err := r.client.SetArgs(ctx, lk, token, redis.SetArgs{
		Mode: "NX",
		TTL:  ttl.Truncate(time.Millisecond),
	}).Result()
	if errors.Is(err, redis.Nil) {
		return "", false, nil // NX refused: somebody holds it
	}
	if err != nil {
		return "", false, unavailable(err)
	}
	if ok != "OK" {
		return "", false, fmt.Errorf("sessions: unexpected SET reply %q", ok)
	}
	return token, true, nil
}

// Unlock deletes the lock if token still holds it (compare-and-delete).
func (r *RedisStore) Unlock(ctx context.Context, id, token string) error {
	if id == "" || token == "" {
		return nil
	}
	_, _, lk := r.keys(id)
	return unavailable(unlockScript.Run(ctx, r.client, []string{lk}, token).Err())
}

// Ping checks Redis answers.
func (r *RedisStore) Ping(ctx context.Context) error {
	return unavailable(r.client.Ping(ctx).Err())
}

// runSession runs one of the session scripts and turns its reply into a
// session or an error.
func (r *RedisStore) runSession(ctx context.Context, sc *redis.Script, keys []string, args ...any) (*Session, error) {
	reply, err := sc.Run(ctx, r.client, keys, args...).Slice()
	if err != nil {
		return nil, unavailable(err)
	}
	if len(reply) == 0 {
		return nil, errReply
	}
	code, ok := reply[0].(int64)
	if !ok {
		return nil, errReply
	}
	switch {
	case code == replyNotFound:
		return nil, ErrNotFound
	case code == replyLockLost:
		return nil, ErrLockLost
	case code == replyState && len(reply) == 2:
		st, ok := reply[1].(string)
		if !ok {
			return nil, errReply
		}
		return nil, &StateError{Current: State(st)}
	case code == replyOK && len(reply) == 3:
		fields, err := pairs(reply[1])
		if err != nil {
			return nil, err
		}
		if len(fields) == 0 {
			return nil, ErrNotFound
		}
		s, err := decodeSession(fields, nil)
		if err != nil {
			return nil, err
		}
		// The parts straight from the flat HGETALL reply, without a map.
		if s.Parts, err = partsOf(reply[2]); err != nil {
			return nil, fmt.Errorf("sessions: part of session %q: %w", s.ID, err)
		}
		return s, nil
	}
	return nil, errReply
}

var errReply = errors.New("sessions: unexpected reply from Redis script")

// pairs turns a flat HGETALL reply into a map.
func pairs(v any) (map[string]string, error) {
	list, ok := v.([]any)
	if !ok || len(list)%2 != 0 {
		return nil, errReply
	}
	m := make(map[string]string, len(list)/2)
	for i := 0; i < len(list); i += 2 {
		k, ok1 := list[i].(string)
		val, ok2 := list[i+1].(string)
		if !ok1 || !ok2 {
			return nil, errReply
		}
		m[k] = val
	}
	return m, nil
}

// partsOf turns a flat HGETALL reply of a parts hash into parts sorted
// by number.
func partsOf(v any) ([]multipart.Part, error) {
	list, ok := v.([]any)
	if !ok || len(list)%2 != 0 {
		return nil, errReply
	}
	parts := make([]multipart.Part, 0, len(list)/2)
	for i := 0; i < len(list); i += 2 {
		k, ok1 := list[i].(string)
		val, ok2 := list[i+1].(string)
		if !ok1 || !ok2 {
			return nil, errReply
		}
		p, err := decodePart(k, val)
		if err != nil {
			return nil, err
		}
		parts = append(parts, p)
	}
	slices.SortFunc(parts, func(a, b multipart.Part) int { return a.Number - b.Number })
	return parts, nil
}

func nowMillis() string {
	return strconv.FormatInt(time.Now().UnixMilli(), 10)
}

// encodeSession returns the createScript arguments for s: its expiry, then
// the hash's field/value pairs.
func encodeSession(s *Session) ([]any, error) {
	meta := ""
	if len(s.Metadata) > 0 {
		b, err := json.Marshal(s.Metadata)
		if err != nil {
			return nil, fmt.Errorf("sessions: encode metadata: %w", err)
		}
		meta = string(b)
	}
	return []any{
		strconv.FormatInt(s.ExpiresAt.UnixMilli(), 10),
		fieldID, s.ID,
		fieldSubject, s.Subject,
		fieldProfile, s.Profile,
		fieldBackend, s.Backend,
		fieldKey, s.Key,
		fieldUploadID, s.UploadID,
		fieldStrategy, string(s.Strategy),
		fieldState, string(s.State),
		fieldFilename, s.Filename,
		fieldContentType, s.ContentType,
		fieldSize, encodeSize(s),
		fieldPartSize, strconv.FormatInt(s.PartSize, 10),
		fieldPartCount, strconv.Itoa(s.PartCount),
		fieldMetadata, meta,
		fieldETag, s.ETag,
		fieldReason, s.Reason,
		fieldCreatedAt, encodeTime(s.CreatedAt),
		fieldUpdatedAt, encodeTime(s.UpdatedAt),
		fieldExpiresAt, encodeTime(s.ExpiresAt),
		fieldChecksumAlg, s.ChecksumAlgorithm,
		fieldChecksum, s.Checksum,
	}, nil
}

// decodeSession builds a session from its two hashes.
func decodeSession(f, parts map[string]string) (*Session, error) {
	s := &Session{
		ID:          f[fieldID],
		Subject:     f[fieldSubject],
		Profile:     f[fieldProfile],
		Backend:     f[fieldBackend],
		Key:         f[fieldKey],
		UploadID:    f[fieldUploadID],
		Strategy:    Strategy(f[fieldStrategy]),
		State:       State(f[fieldState]),
		Filename:    f[fieldFilename],
		ContentType: f[fieldContentType],
		ETag:        f[fieldETag],
		Reason:      f[fieldReason],

		ChecksumAlgorithm: f[fieldChecksumAlg],
		Checksum:          f[fieldChecksum],
		EventPending:      f[fieldEvent],
	}
	var err error
	num := func(name string) int64 {
		v := f[name]
		if v == "" {
			return 0
		}
		n, e := strconv.ParseInt(v, 10, 64)
		if e != nil && err == nil {
			err = fmt.Errorf("sessions: field %s of session %q: %w", name, s.ID, e)
		}
		return n
	}
	tm := func(name string) time.Time {
		if f[name] == "" {
			return time.Time{}
		}
		return time.UnixMilli(num(name)).UTC()
	}
	s.Size = num(fieldSize)
	if s.Size < 0 { // sizeOpenEnded: only -1 was ever written
		s.Kind, s.Size = multipart.OpenEnded, 0
	}
	s.PartSize = num(fieldPartSize)
	s.PartCount = int(num(fieldPartCount))
	s.CreatedAt = tm(fieldCreatedAt)
	s.UpdatedAt = tm(fieldUpdatedAt)
	s.ExpiresAt = tm(fieldExpiresAt)
	if err != nil {
		return nil, err
	}
	if m := f[fieldMetadata]; m != "" {
		if err := json.Unmarshal([]byte(m), &s.Metadata); err != nil {
			return nil, fmt.Errorf("sessions: metadata of session %q: %w", s.ID, err)
		}
	}
	if parts == nil {
		return s, nil // GetSession: the parts were not read
	}
	s.Parts = make([]multipart.Part, 0, len(parts))
	for k, v := range parts {
		p, err := decodePart(k, v)
		if err != nil {
			return nil, fmt.Errorf("sessions: part of session %q: %w", s.ID, err)
		}
		s.Parts = append(s.Parts, p)
	}
	sort.Slice(s.Parts, func(i, j int) bool { return s.Parts[i].Number < s.Parts[j].Number })
	return s, nil
}

// sizeOpenEnded is the size field of a session of Kind
// multipart.OpenEnded: the hash keeps the encoding every earlier version
// wrote (and reads), so that replicas of two versions share sessions
// during a rolling upgrade. It never leaves this codec: decodeSession
// turns it into the Kind, and SetPlan overwrites it with the learned size.
const sizeOpenEnded = -1

// encodeSize is the size field of s.
func encodeSize(s *Session) string {
	if s.Kind == multipart.OpenEnded {
		return strconv.Itoa(sizeOpenEnded)
	}
	return strconv.FormatInt(s.Size, 10)
}

// encodeTime is unix milliseconds, or empty for the zero time.
func encodeTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return strconv.FormatInt(t.UnixMilli(), 10)
}

// encodePart is a part's value in the parts hash: "size etag".
func encodePart(p multipart.Part) string {
	return strconv.FormatInt(p.Size, 10) + " " + p.ETag
}

func decodePart(field, value string) (multipart.Part, error) {
	n, err := strconv.Atoi(field)
	if err != nil {
		return multipart.Part{}, err
	}
	sz, etag, ok := strings.Cut(value, " ")
	if !ok {
		return multipart.Part{}, fmt.Errorf("malformed part %d %q", n, value)
	}
	size, err := strconv.ParseInt(sz, 10, 64)
	if err != nil {
		return multipart.Part{}, err
	}
	return multipart.Part{Number: n, ETag: etag, Size: size}, nil
}
