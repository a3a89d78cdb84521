//go:build chutefault

package broker

import (
	"fmt"
	"os"
	"syscall"
)

// FaultAfterTransition names the crash point right after a session's
// terminal transition is written and before its event is published.
const FaultAfterTransition = "crash-after-transition"

// faultPoint kills the process with SIGKILL (as `kill -9` would: no
// deferred function, no flush) when CHUTE_FAULT names point. It exists
// only in binaries built with -tags chutefault, for the tests in ./test.
func faultPoint(point string) {
	if os.Getenv("CHUTE_FAULT") != point {
		return
	}
	fmt.Fprintf(os.Stderr, "chute: fault point %s reached: killing the process (CHUTE_FAULT)\n", point)
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {} // the signal is on its way
}
