// Command chutebench is Chute's benchmark suite. `chutebench suite` starts
// a real redis-server, versitygw and `chute serve` on 127.0.0.1, runs every
// measurement side by side in one run (sign-part load and an empty Fiber
// route, batch signing, create and complete latency against the store's
// own round trips, a 1 MiB upload against one PutObject, a 1 GiB upload
// three ways, Redis and Chute memory), checks the targets of issue 15
// against that run's figures and
// writes the results as Markdown. scripts/bench.sh is the one command that
// builds everything and runs it.
//
// The other subcommands are the helper servers the suite starts as child
// processes, so that each one's CPU time and peak RSS can be read from
// /proc: `empty` (an empty Fiber route) and `proxy` (the naive design that
// carries the bytes itself), and `serve-profile` (the broker wired as
// `chute serve` wires it, in process, writing a CPU profile).
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: chutebench suite|empty|proxy [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "suite":
		err = runSuite(os.Args[2:])
	case "empty":
		err = serveEmpty(os.Args[2:])
	case "proxy":
		err = serveProxy(os.Args[2:])
	case "serve-profile":
		err = serveProfile(os.Args[2:])
	default:
		err = fmt.Errorf("unknown subcommand %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "chutebench:", err)
		os.Exit(1)
	}
}
