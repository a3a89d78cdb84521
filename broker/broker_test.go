package broker

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/chute-dev/chute/multipart"
)

func size(n int64) *int64 { return &n }

func wantCode(t *testing.T, err error, code Code) {
	t.Helper()
	if got := ErrorCode(err); got != code {
		t.Fatalf("error %v: code %q, want %q", err, got, code)
	}
}

func TestCreateValidation(t *testing.T) {
	svc, fs := newTestService(t)
	ctx := context.Background()
	cases := []struct {
		name string
		req  CreateRequest
		code Code
	}{
		{"no filename", CreateRequest{ContentType: "video/mp4", Size: size(1)}, CodeInvalidRequest},
		{"no type", CreateRequest{Filename: "a.mp4", Size: size(1)}, CodeInvalidRequest},
		{"bad type", CreateRequest{Filename: "a.mp4", ContentType: "video", Size: size(1)}, CodeInvalidRequest},
		{"no size", CreateRequest{Filename: "a.mp4", ContentType: "video/mp4"}, CodeInvalidRequest},
		{"negative size", CreateRequest{Filename: "a.mp4", ContentType: "video/mp4", Size: size(-1)}, CodeInvalidRequest},
		{"over profile", CreateRequest{Filename: "a.mp4", ContentType: "video/mp4", Size: size(5*multipart.GiB + 1)}, CodeTooLarge},
		{"over s3", CreateRequest{Filename: "a.mp4", ContentType: "video/mp4", Size: size(multipart.MaxObjectSize + 1)}, CodeTooLarge},
		{"type not allowed", CreateRequest{Filename: "a.exe", ContentType: "application/x-msdownload", Size: size(1)}, CodeUnsupportedType},
		{"unknown profile", CreateRequest{Filename: "a.mp4", ContentType: "video/mp4", Size: size(1), Profile: "nope"}, CodeInvalidRequest},
		{"control in filename", CreateRequest{Filename: "a\x00.mp4", ContentType: "video/mp4", Size: size(1)}, CodeInvalidRequest},
		{"bad metadata key", CreateRequest{Filename: "a.mp4", ContentType: "video/mp4", Size: size(1), Metadata: map[string]string{"Bad Key": "x"}}, CodeInvalidRequest},
		{"bad metadata value", CreateRequest{Filename: "a.mp4", ContentType: "video/mp4", Size: size(1), Metadata: map[string]string{"k": "line\nbreak"}}, CodeInvalidRequest},
		{"metadata too big", CreateRequest{Filename: "a.mp4", ContentType: "video/mp4", Size: size(1), Metadata: map[string]string{"k": strings.Repeat("x", 3000)}}, CodeInvalidRequest},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := svc.Create(ctx, "alice", c.req)
			wantCode(t, err, c.code)
		})
	}
	if len(fs.uploads) != 0 || len(fs.objects) != 0 {
		t.Fatalf("rejected creates left %d uploads, %d objects", len(fs.uploads), len(fs.objects))
	}
}

func TestSingleFlow(t *testing.T) {
	svc, fs := newTestService(t)
	ctx := context.Background()
	res, err := svc.Create(ctx, "alice", CreateRequest{Filename: "../../etc/Clip.MP4", ContentType: "Video/MP4", Size: size(1)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Strategy != "single" || res.Upload == nil || res.Parts != nil || res.PartCount != 0 {
		t.Fatalf("want a single upload: %+v", res)
	}
	if !strings.HasPrefix(res.Key, "alice/") || !strings.HasSuffix(res.Key, res.ID+".mp4") || strings.Contains(res.Key, "..") {
		t.Fatalf("key %q", res.Key)
	}
	if res.Upload.Headers["Content-Length"] != "1" || res.Upload.Headers["Content-Type"] != "video/mp4" {
		t.Fatalf("headers %v", res.Upload.Headers)
	}
	// Complete before the PUT: incomplete, and the session stays open.
	_, err = svc.Complete(ctx, "alice", res.ID, CompleteRequest{})
	wantCode(t, err, CodeIncomplete)
	st, err := svc.Status(ctx, "alice", res.ID, false)
	if err != nil || st.State != "pending" {
		t.Fatalf("status after failed complete: %+v %v", st, err)
	}
	fs.putObject(res.Key, 1, "video/mp4")
	done, err := svc.Complete(ctx, "alice", res.ID, CompleteRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if done.State != "completed" || done.Size != 1 || done.Download == nil || done.ETag == "" {
		t.Fatalf("%+v", done)
	}
	again, err := svc.Complete(ctx, "alice", res.ID, CompleteRequest{})
	if err != nil || again.ETag != done.ETag {
		t.Fatalf("second complete: %+v %v", again, err)
	}
	if _, err := svc.DownloadURL(ctx, "alice", res.ID); err != nil {
		t.Fatal(err)
	}
	_, err = svc.Abort(ctx, "alice", res.ID)
	wantCode(t, err, CodeConflict)
}

func TestSingleWrongSizeIsAborted(t *testing.T) {
	svc, fs := newTestService(t)
	ctx := context.Background()
	res, err := svc.Create(ctx, "alice", CreateRequest{Filename: "a.txt", ContentType: "text/plain", Size: size(10)})
	if err != nil {
		t.Fatal(err)
	}
	fs.putObject(res.Key, 11, "text/plain")
	_, err = svc.Complete(ctx, "alice", res.ID, CompleteRequest{})
	wantCode(t, err, CodeIncomplete)
	if _, ok := fs.objects[res.Key]; ok {
		t.Fatal("object of the wrong size was kept")
	}
	st, _ := svc.Status(ctx, "alice", res.ID, false)
	if st.State != "aborted" {
		t.Fatalf("state %s, want aborted", st.State)
	}
}

func TestEmptyFile(t *testing.T) {
	svc, _ := newTestService(t)
	res, err := svc.Create(context.Background(), "alice", CreateRequest{Filename: "empty", ContentType: "text/plain", Size: size(0)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Strategy != "single" || res.Upload.Headers["Content-Length"] != "0" || strings.Contains(res.Key, ".") {
		t.Fatalf("%+v", res)
	}
}

func createMultipart(t *testing.T, svc *Service, n int64) *CreateResult {
	t.Helper()
	res, err := svc.Create(context.Background(), "alice", CreateRequest{Filename: "v.mp4", ContentType: "video/mp4", Size: size(n)})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestMultipartFlow(t *testing.T) {
	svc, fs := newTestService(t)
	ctx := context.Background()
	total := 40*multipart.MiB + 7 // 5 MiB parts: 8 full parts and 7 bytes
	res := createMultipart(t, svc, total)
	if res.Strategy != "multipart" || res.PartCount != 9 || res.PartSize != 5*multipart.MiB || len(res.Parts) != 9 {
		t.Fatalf("%+v", res)
	}
	if res.Parts[8].Size != 7 || res.Parts[8].Headers["Content-Length"] != "7" {
		t.Fatalf("last part %+v", res.Parts[8])
	}
	up := fs.uploads
	var uploadID string
	for id := range up {
		uploadID = id
	}
	// Upload all parts, report all but part 4.
	etags := map[int]string{}
	for n := 9; n >= 1; n-- {
		etags[n] = fs.putPart(uploadID, n, res.Parts[n-1].Size)
		if n == 4 {
			continue
		}
		if _, err := svc.ReportPart(ctx, "alice", res.ID, n, ReportRequest{ETag: `"` + etags[n] + `"`, Size: size(res.Parts[n-1].Size)}); err != nil {
			t.Fatal(err)
		}
	}
	// Reported again, unquoted: idempotent.
	st, err := svc.ReportPart(ctx, "alice", res.ID, 1, ReportRequest{ETag: etags[1], Size: size(5 * multipart.MiB)})
	if err != nil || st.State != "uploading" || len(st.Parts) != 8 {
		t.Fatalf("%+v %v", st, err)
	}
	// A wrong size report is refused.
	_, err = svc.ReportPart(ctx, "alice", res.ID, 2, ReportRequest{ETag: etags[2], Size: size(3)})
	wantCode(t, err, CodeInvalidRequest)
	_, err = svc.ReportPart(ctx, "alice", res.ID, 10, ReportRequest{ETag: etags[2], Size: size(3)})
	wantCode(t, err, CodeInvalidRequest)

	// A wrong ETag in the client's list: 422, nothing completed.
	bad := []CompletePart{}
	for n := 1; n <= 9; n++ {
		e := etags[n]
		if n == 3 {
			e = strings.Repeat("0", 32)
		}
		bad = append(bad, CompletePart{PartNumber: n, ETag: e})
	}
	_, err = svc.Complete(ctx, "alice", res.ID, CompleteRequest{Parts: bad})
	wantCode(t, err, CodeIncomplete)
	if fs.completes.Load() != 0 {
		t.Fatal("CompleteMultipartUpload ran on a wrong ETag")
	}
	// Sync finds the unreported part 4.
	st, err = svc.Status(ctx, "alice", res.ID, true)
	if err != nil || len(st.Parts) != 9 || st.UploadedBytes != total {
		t.Fatalf("sync: %+v %v", st, err)
	}
	done, err := svc.Complete(ctx, "alice", res.ID, CompleteRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if done.Size != total || done.State != "completed" {
		t.Fatalf("%+v", done)
	}
	_, err = svc.PartURLs(ctx, "alice", res.ID, PartURLsRequest{PartNumbers: []int{1}})
	wantCode(t, err, CodeConflict)
	// A repeated report after complete answers the status with every part
	// (the report reads the session without its parts first); another
	// ETag for the same part is a conflict.
	st, err = svc.ReportPart(ctx, "alice", res.ID, 1, ReportRequest{ETag: etags[1], Size: size(5 * multipart.MiB)})
	if err != nil || st.State != "completed" || len(st.Parts) != 9 {
		t.Fatalf("repeat after complete: %+v %v", st, err)
	}
	_, err = svc.ReportPart(ctx, "alice", res.ID, 1, ReportRequest{ETag: strings.Repeat("1", 32), Size: size(5 * multipart.MiB)})
	wantCode(t, err, CodeConflict)
}

func TestCompleteMissingPart(t *testing.T) {
	svc, fs := newTestService(t)
	ctx := context.Background()
	res := createMultipart(t, svc, 12*multipart.MiB)
	var uploadID string
	for id := range fs.uploads {
		uploadID = id
	}
	fs.putPart(uploadID, 1, 5*multipart.MiB)
	fs.putPart(uploadID, 3, 2*multipart.MiB)
	_, err := svc.Complete(ctx, "alice", res.ID, CompleteRequest{})
	wantCode(t, err, CodeIncomplete)
	if !strings.Contains(ErrorMessage(err), "2") {
		t.Fatalf("message should name the missing part: %q", ErrorMessage(err))
	}
	st, _ := svc.Status(ctx, "alice", res.ID, false)
	if st.State != "pending" {
		t.Fatalf("state after failed complete %s", st.State)
	}
}

func TestConcurrentComplete(t *testing.T) {
	svc, fs := newTestService(t)
	ctx := context.Background()
	res := createMultipart(t, svc, 11*multipart.MiB)
	var uploadID string
	for id := range fs.uploads {
		uploadID = id
	}
	for n := 1; n <= 3; n++ {
		fs.putPart(uploadID, n, res.Parts[n-1].Size)
	}
	if _, err := svc.Status(ctx, "alice", res.ID, true); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	results := make([]*CompleteResult, 8)
	errs := make([]error, 8)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = svc.Complete(ctx, "alice", res.ID, CompleteRequest{})
		}()
	}
	wg.Wait()
	for i := range results {
		if errs[i] != nil {
			t.Fatalf("complete %d: %v", i, errs[i])
		}
		if results[i].ETag != results[0].ETag {
			t.Fatal("completes disagree")
		}
	}
	if n := fs.completes.Load(); n != 1 {
		t.Fatalf("CompleteMultipartUpload ran %d times", n)
	}
}

func TestOwnership(t *testing.T) {
	svc, _ := newTestService(t)
	ctx := context.Background()
	res := createMultipart(t, svc, 11*multipart.MiB)
	calls := map[string]func() error{
		"status": func() error { _, err := svc.Status(ctx, "mallory", res.ID, true); return err },
		"part-urls": func() error {
			_, err := svc.PartURLs(ctx, "mallory", res.ID, PartURLsRequest{PartNumbers: []int{1}})
			return err
		},
		"report": func() error {
			_, err := svc.ReportPart(ctx, "mallory", res.ID, 1, ReportRequest{ETag: "x", Size: size(5 * multipart.MiB)})
			return err
		},
		"complete": func() error { _, err := svc.Complete(ctx, "mallory", res.ID, CompleteRequest{}); return err },
		"abort":    func() error { _, err := svc.Abort(ctx, "mallory", res.ID); return err },
		"download": func() error { _, err := svc.DownloadURL(ctx, "mallory", res.ID); return err },
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) { wantCode(t, call(), CodeNotFound) })
	}
	st, err := svc.Status(ctx, "alice", res.ID, false)
	if err != nil || st.State != "pending" {
		t.Fatalf("the owner's session changed: %+v %v", st, err)
	}
	_, err = svc.Status(ctx, "alice", "upl_doesnotexistdoesnotexist12", false)
	wantCode(t, err, CodeNotFound)
	_, err = svc.Status(ctx, "alice", "../../etc", false)
	wantCode(t, err, CodeNotFound)
}

func TestPartURLs(t *testing.T) {
	svc, _ := newTestService(t)
	ctx := context.Background()
	res := createMultipart(t, svc, 11*multipart.MiB)
	sum := "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
	out, err := svc.PartURLs(ctx, "alice", res.ID, PartURLsRequest{PartNumbers: []int{3, 1}, ChecksumsSHA256: map[string]string{"3": sum}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Parts) != 2 || out.Parts[0].PartNumber != 3 || out.Parts[0].Size != multipart.MiB || out.Parts[0].Headers["x-amz-checksum-sha256"] != sum {
		t.Fatalf("%+v", out.Parts)
	}
	bad := []PartURLsRequest{
		{},
		{PartNumbers: []int{0}},
		{PartNumbers: []int{4}},
		{PartNumbers: make([]int, MaxBatch+1)},
		{PartNumbers: []int{1}, ChecksumsSHA256: map[string]string{"1": "short"}},
		{PartNumbers: []int{1}, ChecksumsSHA256: map[string]string{"x": sum}},
	}
	for i, req := range bad {
		_, err := svc.PartURLs(ctx, "alice", res.ID, req)
		if ErrorCode(err) != CodeInvalidRequest {
			t.Fatalf("case %d: %v", i, err)
		}
	}
}

func TestAbort(t *testing.T) {
	svc, fs := newTestService(t)
	ctx := context.Background()
	res := createMultipart(t, svc, 11*multipart.MiB)
	st, err := svc.Abort(ctx, "alice", res.ID)
	if err != nil || st.State != "aborted" {
		t.Fatalf("%+v %v", st, err)
	}
	if len(fs.uploads) != 0 {
		t.Fatal("multipart upload left in the store")
	}
	if _, err := svc.Abort(ctx, "alice", res.ID); err != nil {
		t.Fatalf("second abort: %v", err)
	}
	_, err = svc.Complete(ctx, "alice", res.ID, CompleteRequest{})
	wantCode(t, err, CodeConflict)
	_, err = svc.ReportPart(ctx, "alice", res.ID, 1, ReportRequest{ETag: "abc", Size: size(5 * multipart.MiB)})
	wantCode(t, err, CodeConflict)
}

func TestStoreDown(t *testing.T) {
	svc, fs := newTestService(t)
	fs.fail = ErrUnavailable
	_, err := svc.Create(context.Background(), "alice", CreateRequest{Filename: "v.mp4", ContentType: "video/mp4", Size: size(11 * multipart.MiB)})
	wantCode(t, err, CodeStorageUnavailable)
	fs.fail = errors.New("boom: http://store/?X-Amz-Signature=secret")
	_, err = svc.Create(context.Background(), "alice", CreateRequest{Filename: "v.mp4", ContentType: "video/mp4", Size: size(1)})
	wantCode(t, err, CodeInternal)
	if strings.Contains(ErrorMessage(err), "secret") {
		t.Fatal("internal detail leaked into the message")
	}
}

func TestErrorCode(t *testing.T) {
	if ErrorCode(nil) != "" || ErrorCode(errors.New("x")) != CodeInternal || ErrorMessage(errors.New("x")) != "Internal error." {
		t.Fatal("unknown errors must be internal")
	}
	wrapped := errors.Join(errors.New("ctx"), Errorf(CodeConflict, "upload is %s", "completed"))
	if ErrorCode(wrapped) != CodeConflict || ErrorMessage(wrapped) != "upload is completed" {
		t.Fatal(ErrorCode(wrapped), ErrorMessage(wrapped))
	}
}

func TestCompleteWrongPartSizeAborts(t *testing.T) {
	svc, fs := newTestService(t)
	ctx := context.Background()
	res := createMultipart(t, svc, 11*multipart.MiB) // parts 5, 5, 1 MiB
	var uploadID string
	for id := range fs.uploads {
		uploadID = id
	}
	fs.putPart(uploadID, 1, 5*multipart.MiB)
	fs.putPart(uploadID, 2, 5*multipart.MiB-1) // a store that let a short part through
	fs.putPart(uploadID, 3, multipart.MiB)
	_, err := svc.Complete(ctx, "alice", res.ID, CompleteRequest{})
	wantCode(t, err, CodeIncomplete)
	if !strings.Contains(ErrorMessage(err), "aborted") {
		t.Fatalf("message %q", ErrorMessage(err))
	}
	st, _ := svc.Status(ctx, "alice", res.ID, false)
	if st.State != "aborted" || len(fs.uploads) != 0 || fs.completes.Load() != 0 {
		t.Fatalf("state %s, %d uploads left, %d completes", st.State, len(fs.uploads), fs.completes.Load())
	}
}
