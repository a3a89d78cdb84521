package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"mime"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/chute-dev/chute/checksum"
	"github.com/chute-dev/chute/client"
)

// clientFlags are the flags every client command takes.
type clientFlags struct {
	server, token *string
}

func addClientFlags(fs *flag.FlagSet) clientFlags {
	server := os.Getenv("CHUTE_SERVER")
	if server == "" {
		server = "http://127.0.0.1:8080"
	}
	return clientFlags{
		server: fs.String("server", server, "Chute's URL (default $CHUTE_SERVER or http://127.0.0.1:8080)"),
		token:  fs.String("token", os.Getenv("CHUTE_TOKEN"), "bearer token (default $CHUTE_TOKEN)"),
	}
}

func (f clientFlags) client(opts ...client.Option) *client.Client {
	return client.New(*f.server, append([]client.Option{client.WithToken(*f.token)}, opts...)...)
}

// parseInterleaved parses flags that may come before, between or after the
// positional arguments, and returns the positional ones.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err.Error()}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos, args = append(pos, args[0]), args[1:]
	}
}

func cmdUpload(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("upload FILE... [flags]", "Upload files through Chute, straight to the store, with a progress bar per file.\nPrints each file's key and download URL. After an interruption, pass the\nprinted session id to --resume to send only the missing parts.", stdout, stderr)
	cf := addClientFlags(fs)
	parallel := fs.Int("parallel", 4, "parts in flight per file")
	resume := fs.String("resume", "", "resume this upload session (one FILE only)")
	profile := fs.String("profile", "", "upload profile (default: the server's \"default\")")
	ctype := fs.String("content-type", "", "content type (default: from the file extension)")
	sumFlag := fs.String("checksum", string(client.DefaultChecksum), "checksum checked end to end: "+checksum.List(checksum.All)+", or none")
	checksums := fs.Bool("checksums", false, "deprecated: same as --checksum SHA256")
	files, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return usageError{"no FILE given"}
	}
	if *resume != "" && len(files) > 1 {
		return usageError{"--resume takes one FILE"}
	}
	if *parallel < 1 {
		return usageError{"--parallel must be at least 1"}
	}
	alg := client.NoChecksum
	if !strings.EqualFold(*sumFlag, "none") {
		if alg, err = checksum.Parse(*sumFlag); err != nil {
			return usageError{"--checksum: " + err.Error()}
		}
	}
	if *checksums {
		alg = checksum.SHA256
	}
	c := cf.client(client.WithParallel(*parallel))

	tty := isTerminal(stderr)
	var bars *mpb.Progress
	if tty {
		bars = mpb.NewWithContext(ctx, mpb.WithOutput(stderr), mpb.WithRefreshRate(150*time.Millisecond), mpb.WithWidth(40))
	}
	// Messages go above the bars while they are drawn.
	var msg io.Writer = stderr
	if bars != nil {
		msg = bars
	}
	failed := 0
	for _, path := range files {
		res, err := uploadFile(ctx, c, path, bars, msg, client.UploadOptions{
			ContentType: *ctype, Profile: *profile, Parallel: *parallel, ResumeID: *resume, Checksum: alg,
		})
		if err != nil {
			failed++
			fmt.Fprintf(msg, "chute upload: %s: %v\n", path, err)
			if ctx.Err() != nil {
				break
			}
			continue
		}
		fmt.Fprintf(stdout, "%s\n  key:      %s\n  download: %s\n", path, res.Key, res.DownloadURL)
		switch {
		case !res.Checksum.IsZero():
			fmt.Fprintf(stdout, "  checksum: %s %s (verified)\n", res.Checksum.Algorithm, res.Checksum.Value)
		case res.ChecksumNote != "":
			fmt.Fprintf(stdout, "  checksum: not verified: %s\n", res.ChecksumNote)
			fmt.Fprintf(msg, "chute upload: %s: warning: the whole file was not verified: %s\n", path, res.ChecksumNote)
		}
	}
	if bars != nil {
		bars.Wait()
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d files failed", failed, len(files))
	}
	return nil
}

// uploadFile uploads one file, showing its progress on bars (nil: print a
// line to stderr every few seconds instead).
func uploadFile(ctx context.Context, c *client.Client, path string, bars *mpb.Progress, stderr io.Writer, opts client.UploadOptions) (*client.Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	size := fi.Size()
	opts.Filename = filepath.Base(path)
	if opts.ContentType == "" {
		opts.ContentType = mime.TypeByExtension(filepath.Ext(path))
		if opts.ContentType == "" {
			opts.ContentType = "application/octet-stream"
		}
	}
	name := opts.Filename
	if len(name) > 24 {
		name = name[:21] + "..."
	}

	var session string
	opts.OnSession = func(id string) {
		session = id
		if opts.ResumeID == "" {
			fmt.Fprintf(stderr, "%s: session %s (after an interruption: chute upload %s --resume %s)\n", path, id, path, id)
		}
	}
	var bar *mpb.Bar
	if bars != nil {
		bar = bars.AddBar(size,
			mpb.PrependDecorators(decor.Name(name, decor.WCSyncSpaceR), decor.CountersKibiByte("% .1f / % .1f", decor.WCSyncSpace)),
			mpb.AppendDecorators(decor.Percentage(decor.WCSyncSpace), decor.EwmaSpeed(decor.SizeB1024(0), "% .1f", 30, decor.WCSyncSpace), decor.Name(" ETA "), decor.EwmaETA(decor.ET_STYLE_GO, 30)),
		)
		var mu sync.Mutex
		last := time.Now()
		opts.OnProgress = func(p client.Progress) {
			mu.Lock()
			defer mu.Unlock()
			now := time.Now()
			bar.EwmaSetCurrent(p.Uploaded, now.Sub(last))
			last = now
		}
	} else {
		var lastPrint time.Time
		opts.OnProgress = func(p client.Progress) {
			if time.Since(lastPrint) < 2*time.Second && p.Uploaded < p.Total {
				return
			}
			lastPrint = time.Now()
			pct := 100.0
			if p.Total > 0 {
				pct = float64(p.Uploaded) * 100 / float64(p.Total)
			}
			fmt.Fprintf(stderr, "%s: %s / %s (%.0f%%), %d/%d parts\n", path, human(p.Uploaded), human(p.Total), pct, p.PartsDone, p.Parts)
		}
	}
	res, err := c.Upload(ctx, f, size, opts)
	if bar != nil {
		if err != nil {
			bar.Abort(false)
		} else {
			bar.SetCurrent(size)
			bar.SetTotal(size, true)
		}
		bar.Wait()
	}
	if _, rejected := client.Rejected(err); err != nil && session != "" && !rejected {
		err = fmt.Errorf("%w (resume with: chute upload %s --resume %s)", err, path, session)
	}
	return res, err
}

// human formats a byte count in binary units.
func human(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

func cmdStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("status ID [flags]", "Show an upload session's status, reconciled with the store.", stdout, stderr)
	cf := addClientFlags(fs)
	asJSON := fs.Bool("json", false, "print the status as JSON")
	ids, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(ids) != 1 {
		return usageError{"want one session ID"}
	}
	st, err := cf.client().Status(ctx, ids[0], true)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	fmt.Fprintf(stdout, "id:       %s\nkey:      %s\nstate:    %s\nstrategy: %s\nsize:     %s (%d bytes)\n", st.ID, st.Key, st.State, st.Strategy, human(st.Size), st.Size)
	if st.Strategy == "multipart" {
		fmt.Fprintf(stdout, "parts:    %d of %d stored (%s)\n", len(st.Parts), st.PartCount, human(st.UploadedBytes))
		if missing := missingParts(st); missing != "" && st.State != "completed" {
			fmt.Fprintf(stdout, "missing:  %s\n", missing)
		}
	}
	if st.Reason != "" {
		fmt.Fprintf(stdout, "reason:   %s\n", st.Reason)
	}
	fmt.Fprintf(stdout, "expires:  %s\n", st.ExpiresAt.Format(time.RFC3339))
	return nil
}

// missingParts lists the parts not stored yet, as ranges ("3-5, 9").
func missingParts(st *client.Status) string {
	have := make(map[int]bool, len(st.Parts))
	for _, p := range st.Parts {
		have[p.Number] = true
	}
	var out []string
	for n := 1; n <= st.PartCount; n++ {
		if have[n] {
			continue
		}
		m := n
		for m+1 <= st.PartCount && !have[m+1] {
			m++
		}
		if m == n {
			out = append(out, fmt.Sprint(n))
		} else {
			out = append(out, fmt.Sprintf("%d-%d", n, m))
		}
		n = m
	}
	return strings.Join(out, ", ")
}

func cmdAbort(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("abort ID [flags]", "Abort an upload session and the multipart upload in the store.", stdout, stderr)
	cf := addClientFlags(fs)
	ids, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(ids) != 1 {
		return usageError{"want one session ID"}
	}
	st, err := cf.client().Abort(ctx, ids[0])
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s %s\n", st.ID, st.State)
	return nil
}
