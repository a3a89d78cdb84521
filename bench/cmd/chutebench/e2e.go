package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
)

// putClient sends the bytes of every end-to-end run.
var putClient = &http.Client{Transport: &http.Transport{
	MaxIdleConnsPerHost: 16,
	DisableCompression:  true,
	WriteBufferSize:     256 << 10,
	ReadBufferSize:      64 << 10,
}}

// chuteUpload uploads size bytes of f through Chute: create, part URLs in
// batches, conc parallel PUTs straight to the store, a report per part
// (when report is set; else the parts are listed in the complete call),
// complete. It returns the number of API calls made to Chute.
func chuteUpload(a *api, f *os.File, size int64, conc int, report bool) (int, error) {
	c, err := a.create(size, "")
	if err != nil {
		return 0, err
	}
	calls := 1
	urls := make([]partURL, c.PartCount+1)
	for _, p := range c.Parts {
		urls[p.PartNumber] = p
	}
	for lo := len(c.Parts) + 1; lo <= c.PartCount; lo += 1000 {
		var nums []int
		for n := lo; n <= min(c.PartCount, lo+999); n++ {
			nums = append(nums, n)
		}
		ps, err := a.partURLs(c.ID, nums)
		if err != nil {
			return calls, err
		}
		calls++
		for _, p := range ps {
			urls[p.PartNumber] = p
		}
	}
	etags := make([]string, c.PartCount+1)
	jobs := make(chan partURL)
	errc := make(chan error, conc)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range jobs {
				off := int64(p.PartNumber-1) * c.PartSize
				etag, err := putPart(p, io.NewSectionReader(f, off, p.Size))
				etags[p.PartNumber] = etag
				if err == nil && report {
					err = a.report(c.ID, p.PartNumber, etag, p.Size)
					mu.Lock()
					calls++
					mu.Unlock()
				}
				if err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	var ferr error
feed:
	for n := 1; n <= c.PartCount; n++ {
		select {
		case jobs <- urls[n]:
		case ferr = <-errc:
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if ferr == nil {
		select {
		case ferr = <-errc:
		default:
		}
	}
	if ferr != nil {
		return calls, ferr
	}
	calls++
	if report {
		return calls, a.complete(c.ID)
	}
	type part struct {
		N    int    `json:"part_number"`
		ETag string `json:"etag"`
	}
	parts := make([]part, 0, c.PartCount)
	for n := 1; n <= c.PartCount; n++ {
		parts = append(parts, part{n, etags[n]})
	}
	return calls, a.call("POST", "/v1/uploads/"+c.ID+"/complete", map[string]any{"parts": parts}, nil, 200)
}

// putPart PUTs one part to its presigned URL and returns the ETag.
func putPart(p partURL, body io.Reader) (string, error) {
	req, err := http.NewRequest(http.MethodPut, p.URL, body)
	if err != nil {
		return "", err
	}
	req.ContentLength = p.Size
	for k, v := range p.Headers {
		if k != "Content-Length" {
			req.Header.Set(k, v)
		}
	}
	resp, err := putClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("part %d: %w", p.PartNumber, scrubErr(err))
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("part %d: store answered %d", p.PartNumber, resp.StatusCode)
	}
	return resp.Header.Get("ETag"), nil
}

// scrubErr drops the URL (a presigned credential) from a client error.
func scrubErr(err error) error {
	if ue, ok := err.(interface{ Unwrap() error }); ok {
		return ue.Unwrap()
	}
	return err
}

// directUpload is minio-go's own multipart PutObject straight to the
// store: 16 MiB parts, 4 in parallel.
func directUpload(mc *minio.Client, bucket, key string, f *os.File, size int64) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	_, err := mc.PutObject(ctx, bucket, key, io.NewSectionReader(f, 0, size), size, minio.PutObjectOptions{
		PartSize: 16 << 20, NumThreads: 4, ContentType: "application/octet-stream",
	})
	return err
}

// proxyUpload sends the whole file to the naive proxy in one PUT.
func proxyUpload(addr, key string, f *os.File, size int64) error {
	req, err := http.NewRequest(http.MethodPut, "http://"+addr+"/upload/"+key, io.NewSectionReader(f, 0, size))
	if err != nil {
		return err
	}
	req.ContentLength = size
	resp, err := putClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("proxy: %d %s", resp.StatusCode, b)
	}
	return nil
}
