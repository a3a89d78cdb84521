package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

var helpWords = []string{"help", "-h", "--help"}

// subcommands are the commands the overview lists.
var subcommands = []string{"dev", "serve", "config", "token", "upload", "status", "abort", "doctor", "setup-bucket", "gc", "version"}

// TestHelpCombinations runs every sequence of one to three words from
// help, -h, --help and the subcommands that holds at least one help word
// (`chute --help -h`, `chute help help`, `chute help upload -h`,
// `chute status gc --help`, ...). Each must return within 5 s with status
// 0-2 and print usage: the overview when no command is named, else the
// usage of the first command named. None may start a server or call one.
func TestHelpCombinations(t *testing.T) {
	words := append(append([]string{}, helpWords...), subcommands...)
	for _, c := range subcommands {
		if !strings.Contains(usage, "chute "+c) && !strings.Contains(usage, "chute ["+c+"]") {
			t.Errorf("the overview does not list %q", c)
		}
	}
	var combos [][]string
	var grow func(prefix []string)
	grow = func(prefix []string) {
		if len(prefix) > 0 {
			combos = append(combos, prefix)
		}
		if len(prefix) == 3 {
			return
		}
		for _, w := range words {
			grow(append(append([]string{}, prefix...), w))
		}
	}
	grow(nil)
	ran := 0
	for _, args := range combos {
		topic := ""
		asked := false
		for _, a := range args {
			switch {
			case isHelpWord(a):
				asked = true
			case topic == "":
				topic = a
			}
		}
		if !asked {
			continue
		}
		ran++
		code, out, errs, ok := runWithin(args, 5*time.Second)
		name := "chute " + strings.Join(args, " ")
		if !ok {
			t.Fatalf("%s: still running after 5s", name)
		}
		if code < 0 || code > 2 {
			t.Errorf("%s: exit status %d", name, code)
		}
		want := "Usage: chute " + topic
		if topic == "" {
			want = `Run "chute help COMMAND" for a command's flags.`
		}
		if !strings.Contains(out, want) {
			t.Errorf("%s: exit %d, output does not hold %q:\n%s%s", name, code, want, out, errs)
		}
	}
	if want := 14 + 14*14 + 14*14*14 - (11 + 11*11 + 11*11*11); ran != want {
		t.Fatalf("ran %d combinations, want %d", ran, want)
	}
}

// runWithin runs the command line in-process; ok is false if it did not
// return within d (the goroutine is left behind: the test fails anyway).
func runWithin(args []string, d time.Duration) (code int, stdout, stderr string, ok bool) {
	type result struct {
		code     int
		out, err string
	}
	done := make(chan result, 1)
	go func() {
		var out, errb bytes.Buffer
		c := run(args, &out, &errb)
		done <- result{c, out.String(), errb.String()}
	}()
	select {
	case r := <-done:
		return r.code, r.out, r.err, true
	case <-time.After(d):
		return 0, "", "", false
	}
}

// TestHelpTopics: help for a command shows that command's flags; a
// config subcommand its own; an unknown command is a usage error.
func TestHelpTopics(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"help", "upload"}, 0, "-parallel"},
		{[]string{"upload", "a.txt", "--help"}, 0, "-parallel"},
		{[]string{"token", "--sub", "help"}, 0, "-secret"},
		{[]string{"config", "print", "-h"}, 0, "Usage: chute config print"},
		{[]string{"help", "config"}, 0, "Usage: chute config print|check"},
		{[]string{"bogus", "-h"}, 2, `unknown command "bogus"`},
		{[]string{"help", "bogus"}, 2, `unknown command "bogus"`},
	} {
		code, out, errs := runCmd(t, c.args...)
		if code != c.code || !strings.Contains(out+errs, c.want) {
			t.Errorf("chute %s: %d, want %d and %q:\n%s%s", strings.Join(c.args, " "), code, c.code, c.want, out, errs)
		}
	}
	// After "--" a help word is an argument like any other.
	if code, _, errs := runCmd(t, "token", "--secret", "0123456789abcdef0123456789abcdef", "--", "help"); code != 2 || !strings.Contains(errs, `unexpected argument "help"`) {
		t.Errorf("token -- help: %d %q", code, errs)
	}
}
