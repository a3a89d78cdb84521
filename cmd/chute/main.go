// Command chute is the Chute upload broker.
//
//	chute                      run everything embedded (same as `chute dev`)
//	chute dev                  embedded session store and S3 store on loopback
//	chute serve --config FILE  run against a real Redis and S3-compatible store
//	chute config print|check   show the effective configuration (secrets redacted) or check it
//	chute token --secret S --sub ID   mint an HS256 token (development, tests)
//	chute upload FILE...       upload files through a Chute server (status ID, abort ID too)
//	chute doctor --config FILE check the object stores (credentials, bucket, CORS, lifecycle, round trip)
//	chute setup-bucket --config FILE  create the buckets, add CORS and lifecycle rules
//	chute version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `Chute is an upload broker: clients upload straight to S3-compatible storage
through short-lived presigned URLs, while Chute checks who they are and what
they may upload, and tracks every upload session in Redis.

Usage:
  chute [dev]                 run with everything embedded: no Redis, no S3, no
                              config. Data lives in ./chute-data.
  chute serve --config FILE   run against Redis and S3-compatible stores
  chute config print [--config FILE]   print the effective config, secrets redacted
  chute config check [--config FILE]   validate the config and exit
  chute token --secret S --sub SUBJECT [--ttl 1h]   mint an HS256 JWT
  chute upload FILE... [--server URL] [--token T] [--parallel 4] [--resume ID]
                              [--profile P] [--checksums]   upload files
  chute status ID             show an upload session (--json for JSON)
  chute abort ID              abort an upload session
  chute doctor --config FILE [--backend NAME]   check the object stores'
                              credentials, bucket, CORS, lifecycle and a
                              presigned round trip
  chute setup-bucket --config FILE [--backend NAME]   create the buckets
                              and add the CORS and lifecycle rules Chute needs
  chute gc --config FILE [--older-than 48h] [--apply]
                              list (and with --apply abort) store uploads no
                              session knows
  chute version               print the version, commit and its date
  chute help [COMMAND]        show help (also: chute COMMAND -h)

Every config key can be set from the environment: CHUTE_ + the upper-cased
path joined with _ (CHUTE_SERVER_LISTEN, CHUTE_BACKENDS_MAIN_SECRET_KEY, ...).
The config file may also be given as CHUTE_CONFIG.
The client commands (upload, status, abort) read CHUTE_SERVER and CHUTE_TOKEN.

Run "chute help COMMAND" for a command's flags.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if topic, rest, ok := helpRequest(args); ok {
		return help(topic, rest, stdout, stderr)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmd := "dev"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	err := dispatch(ctx, cmd, args, stdout, stderr)
	if errors.Is(err, errUnknownCommand) {
		fmt.Fprintf(stderr, "chute: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	stderrLog.Flush() // the buffered log first, then any error below
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "chute %s: %s\n", cmd, ue.msg)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "chute %s: %v\n", cmd, err)
		return 1
	}
	return 0
}

// errUnknownCommand is dispatch's answer for no such command.
var errUnknownCommand = errors.New("unknown command")

// dispatch runs command cmd. It never handles help itself (help does,
// through it), so help cannot recurse.
func dispatch(ctx context.Context, cmd string, args []string, stdout, stderr io.Writer) error {
	var err error
	switch cmd {
	case "dev":
		err = cmdDev(ctx, args, stdout, stderr)
	case "serve":
		err = cmdServe(ctx, args, stdout, stderr)
	case "config":
		err = cmdConfig(args, stdout, stderr)
	case "token":
		err = cmdToken(args, stdout, stderr)
	case "upload":
		err = cmdUpload(ctx, args, stdout, stderr)
	case "status":
		err = cmdStatus(ctx, args, stdout, stderr)
	case "abort":
		err = cmdAbort(ctx, args, stdout, stderr)
	case "doctor":
		err = cmdDoctor(ctx, args, stdout, stderr)
	case "setup-bucket":
		err = cmdSetupBucket(ctx, args, stdout, stderr)
	case "gc":
		err = cmdGC(ctx, args, stdout, stderr)
	case "version", "--version", "-v":
		err = cmdVersion(args, stdout, stderr)
	default:
		return errUnknownCommand
	}
	return err
}

// isHelpWord reports whether an argument asks for help.
func isHelpWord(a string) bool {
	return a == "help" || a == "-h" || a == "--help" || a == "-help"
}

// helpRequest reports whether args ask for help: a help word (help, -h,
// --help) anywhere before a "--". topic is the first other word (the
// command to explain; "" for the overview) and rest the words after it.
// A file or value literally named "help" is written ./help or --flag=help.
func helpRequest(args []string) (topic string, rest []string, ok bool) {
	var words []string
	for _, a := range args {
		if a == "--" {
			break
		}
		if isHelpWord(a) {
			ok = true
			continue
		}
		words = append(words, a)
	}
	if !ok {
		return "", nil, false
	}
	if len(words) == 0 {
		return "", nil, true
	}
	return words[0], words[1:], true
}

// help prints the overview (topic "") or a command's usage, by running
// the command with --help (its flag set prints the usage and returns
// flag.ErrHelp before doing anything). The command gets a cancelled
// context, so even one that ignored --help could not start work.
func help(topic string, rest []string, stdout, stderr io.Writer) int {
	if topic == "" {
		fmt.Fprint(stdout, usage)
		return 0
	}
	args := []string{"--help"}
	if topic == "config" && len(rest) > 0 && (rest[0] == "print" || rest[0] == "check") {
		args = []string{rest[0], "--help"}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := dispatch(ctx, topic, args, stdout, stderr)
	switch {
	case errors.Is(err, errUnknownCommand):
		fmt.Fprintf(stderr, "chute: unknown command %q\n\n%s", topic, usage)
		return 2
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	}
	fmt.Fprintf(stderr, "chute %s: %v\n", topic, err)
	return 2
}

// usageError is a wrong command line: exit code 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// newFlags returns a flag set that prints its help to stdout on --help and
// returns errors instead of exiting.
func newFlags(name, synopsis string, stdout, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stdout, "Usage: chute %s\n\n%s\n\nFlags:\n", name, synopsis)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		fs.SetOutput(stderr)
	}
	return fs
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	return nil
}
