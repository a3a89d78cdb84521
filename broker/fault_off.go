//go:build !chutefault

package broker

// faultPoint is a crash point for tests of what survives a process dying
// at a given place. In a normal build it does nothing and compiles away;
// only a binary built with -tags chutefault reads CHUTE_FAULT (see
// fault_on.go), so a production binary cannot be made to crash by its
// environment.
func faultPoint(string) {}
