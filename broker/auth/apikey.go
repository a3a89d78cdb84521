package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// HashPrefix marks a configured API key given as its SHA-256 hash
// ("sha256:<64 hex digits>") instead of in clear.
const HashPrefix = "sha256:"

// APIKey is one configured key and the subject it stands for.
type APIKey struct {
	Key     string // the key, or HashPrefix + its hex SHA-256
	Subject string
}

// APIKeys checks static keys for server-to-server use. Only the keys'
// SHA-256 hashes are kept, and a presented key is compared with every one
// of them in constant time.
type APIKeys struct {
	hashes   [][sha256.Size]byte
	subjects []string
}

// NewAPIKeys returns an authenticator for keys.
func NewAPIKeys(keys []APIKey) (*APIKeys, error) {
	if len(keys) == 0 {
		return nil, errors.New("auth: api_key mode needs at least one key")
	}
	a := &APIKeys{}
	for i, k := range keys {
		if k.Subject == "" {
			return nil, fmt.Errorf("auth: api key %d has no subject", i)
		}
		var h [sha256.Size]byte
		if hexed, ok := strings.CutPrefix(k.Key, HashPrefix); ok {
			b, err := hex.DecodeString(hexed)
			if err != nil || len(b) != sha256.Size {
				return nil, fmt.Errorf("auth: api key %d: %s needs 64 hex digits", i, HashPrefix)
			}
			copy(h[:], b)
		} else {
			if len(k.Key) < 16 {
				return nil, fmt.Errorf("auth: api key %d is shorter than 16 characters", i)
			}
			h = sha256.Sum256([]byte(k.Key))
		}
		a.hashes = append(a.hashes, h)
		a.subjects = append(a.subjects, k.Subject)
	}
	return a, nil
}

// Authenticate returns the subject of a known key.
func (a *APIKeys) Authenticate(_ context.Context, token string) (string, error) {
	if token == "" {
		return "", fmt.Errorf("%w: no key", ErrUnauthorized)
	}
	h := sha256.Sum256([]byte(token))
	found := -1
	for i := range a.hashes {
		if subtle.ConstantTimeCompare(h[:], a.hashes[i][:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return "", fmt.Errorf("%w: unknown api key", ErrUnauthorized)
	}
	return a.subjects[found], nil
}

// HashKey returns the form of key to put in a config file instead of the
// key itself.
func HashKey(key string) string {
	h := sha256.Sum256([]byte(key))
	return HashPrefix + hex.EncodeToString(h[:])
}
