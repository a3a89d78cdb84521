package main

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestReadBuild(t *testing.T) {
	stamped := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/chute-dev/chute", Version: "v0.0.0-20261207160526-ee372aecc2c5"},
		Settings: []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "ee372aecc2c50a216b1e8720576ad0cbb0be6f13"},
			{Key: "vcs.time", Value: "2026-12-07T16:05:26Z"}, {Key: "vcs.modified", Value: "true"}}}
	for _, c := range []struct {
		name string
		ld   string
		bi   *debug.BuildInfo
		ok   bool
		want build
	}{
		{"stamped", "", stamped, true, build{Version: "v0.0.0-20261207160526-ee372aecc2c5", Revision: "ee372aecc2c50a216b1e8720576ad0cbb0be6f13",
			Time: "2026-12-07T16:05:26Z", Modified: true, Go: "go1.26.8"}},
		{"ldflags win", "v1.2.3", stamped, true, build{Version: "v1.2.3", Revision: "ee372aecc2c50a216b1e8720576ad0cbb0be6f13",
			Time: "2026-12-07T16:05:26Z", Modified: true, Go: "go1.26.8"}},
		{"devel", "", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}}, true, build{Version: "dev", Go: "go1.26.8"}},
		{"no build info", "", nil, false, build{Version: "dev", Go: readBuild("", nil, false).Go}},
	} {
		if got := readBuild(c.ld, c.bi, c.ok); got != c.want {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
	var out strings.Builder
	writeVersion(&out, readBuild("", stamped, true))
	for _, want := range []string{"chute v0.0.0-20261207160526-ee372aecc2c5\n", "commit  ee372aecc2c50a216b1e8720576ad0cbb0be6f13 (modified)\n", "date    2026-12-07T16:05:26Z\n", "go      go1.26.8 "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("version output lacks %q:\n%s", want, out.String())
		}
	}
	// The command prints what this binary knows.
	code, got, _ := runCmd(t, "version")
	if code != 0 || !strings.HasPrefix(got, "chute "+buildInfo().Version+"\n") || !strings.Contains(got, "go      go1.") {
		t.Fatalf("chute version: %d %q", code, got)
	}
}
