package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"sync"
)

// version is set at build time with -ldflags "-X main.version=..." (the
// image build does); otherwise the module's build info says it.
var version = ""

// build is what the binary knows about itself.
type build struct {
	Version  string // v1.2.3, a pseudo-version, or "dev"
	Revision string // the VCS commit, if built from a checkout
	Time     string // the commit's time (RFC 3339)
	Modified bool   // the checkout had uncommitted changes
	Go       string // the Go toolchain
}

// buildInfo reads runtime/debug.ReadBuildInfo once: `go build` in a git
// checkout stamps vcs.revision, vcs.time and vcs.modified, and since Go
// 1.24 a version derived from the tags; `go install ...@v1.2.3` stamps
// the module version. (`-buildvcs=false`, or a git worktree, whose .git is
// a file, leaves the vcs settings out.)
var buildInfo = sync.OnceValue(func() build {
	bi, ok := debug.ReadBuildInfo()
	return readBuild(version, bi, ok)
})

// readBuild is buildInfo without the process: ldVersion, when set, wins
// over the module version.
func readBuild(ldVersion string, bi *debug.BuildInfo, ok bool) build {
	b := build{Version: ldVersion, Go: runtime.Version()}
	if ok && bi != nil {
		if b.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			b.Version = bi.Main.Version
		}
		if bi.GoVersion != "" {
			b.Go = bi.GoVersion
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				b.Revision = s.Value
			case "vcs.time":
				b.Time = s.Value
			case "vcs.modified":
				b.Modified = s.Value == "true"
			}
		}
	}
	if b.Version == "" {
		b.Version = "dev"
	}
	return b
}

// versionString is the one-line version for logs and banners.
func versionString() string { return buildInfo().Version }

// writeVersion prints the version and, where known, the commit, its time
// and the toolchain.
func writeVersion(w io.Writer, b build) {
	fmt.Fprintf(w, "chute %s\n", b.Version)
	if b.Revision != "" {
		mod := ""
		if b.Modified {
			mod = " (modified)"
		}
		fmt.Fprintf(w, "  commit  %s%s\n", b.Revision, mod)
	}
	if b.Time != "" {
		fmt.Fprintf(w, "  date    %s\n", b.Time)
	}
	fmt.Fprintf(w, "  go      %s %s/%s\n", b.Go, runtime.GOOS, runtime.GOARCH)
}

func cmdVersion(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("version", "Print the version, the commit it was built from and that commit's date,\nand the Go toolchain.", stdout, stderr)
	if err := parse(fs, args); err != nil {
		return err
	}
	writeVersion(stdout, buildInfo())
	return nil
}
