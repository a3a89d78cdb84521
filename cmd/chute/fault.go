//go:build chutefault

package main

import "github.com/chute-dev/chute/config"

// A binary built with -tags chutefault reads CHUTE_FAULT (a crash point,
// broker/fault_on.go, for the tests in ./test); a normal build refuses the
// variable like any unknown CHUTE_* one.
func init() {
	config.EnvAllowlist = append(config.EnvAllowlist, "CHUTE_FAULT")
}
