// Package bridge lets chutetest/inprocess read what chutetest's options
// set and hand back a *chutetest.Chute, without making either public API.
// chutetest fills the two functions when it is initialised; inprocess
// imports chutetest, so they are set before it can call them.
package bridge

import "context"

// Settings is what a list of chutetest options configures.
type Settings struct {
	// Secret is the HS256 secret tokens are signed with.
	Secret string
	// Bucket is the bucket to upload to.
	Bucket string
	// Env is the Chute configuration the options make, as CHUTE_*
	// variables: auth, profiles, then WithEnv (which wins).
	Env map[string]string
}

// Handle is a running Chute that chutetest wraps into its Chute type.
type Handle struct {
	URL, RedisURL                                    string
	S3Endpoint, Region, Bucket, AccessKey, SecretKey string
	Secret                                           string
	// Logs returns what Chute has logged so far.
	Logs func() string
	// Stop shuts everything down; it may be called more than once.
	Stop func(ctx context.Context) error
}

var (
	// Resolve applies opts, a []chutetest.Option, to the defaults.
	Resolve func(opts any) Settings
	// Wrap returns h as a *chutetest.Chute.
	Wrap func(h Handle) any
)
