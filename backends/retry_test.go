package backends

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chute-dev/chute/multipart"
)

// The store client (minio-go) retries a request that failed with a 5xx
// or a transport error maxRetries times in all, with exponential backoff
// and full jitter; Chute adds no loop of its own on top (docs/faults.md).
// These tests pin that behaviour: a change of minio-go or of maxRetries
// that retries more or not at all shows here.

func countingStore(t *testing.T, status int) (*S3, *atomic.Int32) {
	t.Helper()
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(status)
		if r.Method != http.MethodHead {
			_, _ = w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>ServiceUnavailable</Code><Message>busy</Message></Error>`))
		}
	}))
	t.Cleanup(srv.Close)
	s, err := NewS3(Config{Name: "t", Endpoint: srv.URL, Bucket: "bucket", AccessKey: "ak", SecretKey: "sk-secret", PathStyle: true, Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return s, &n
}

func TestStoreRetries5xx(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		op   string
		call func(*S3) error
	}{
		{"stat", func(s *S3) error { _, err := s.Stat(ctx, "k"); return err }},
		{"list parts", func(s *S3) error { _, err := s.ListParts(ctx, "k", "u"); return err }},
		{"abort", func(s *S3) error { return s.AbortMultipart(ctx, "k", "u") }},
		{"remove", func(s *S3) error { return s.Remove(ctx, "k") }},
		{"complete", func(s *S3) error {
			_, err := s.CompleteMultipart(ctx, "k", "u", []multipart.Part{{Number: 1, ETag: strings.Repeat("a", 32)}}, CompleteOptions{})
			return err
		}},
	} {
		t.Run(tc.op, func(t *testing.T) {
			s, n := countingStore(t, http.StatusServiceUnavailable)
			err := tc.call(s)
			if !errors.Is(err, ErrUnavailable) {
				t.Fatalf("err = %v, want ErrUnavailable", err)
			}
			if got := n.Load(); got != maxRetries {
				t.Fatalf("%d requests, want %d (one try and %d retries)", got, maxRetries, maxRetries-1)
			}
			if strings.Contains(err.Error(), "sk-secret") || strings.Contains(err.Error(), "http://") {
				t.Fatalf("error leaks: %v", err)
			}
		})
	}
}

func TestStoreNoRetryOn4xx(t *testing.T) {
	s, n := countingStore(t, http.StatusForbidden)
	_, err := s.Stat(context.Background(), "k")
	if !errors.Is(err, ErrAccessDenied) {
		t.Fatalf("err = %v", err)
	}
	if got := n.Load(); got != 1 {
		t.Fatalf("%d requests for a 403, want 1", got)
	}
}

// A closed port: ErrUnavailable after the retries, not a hang.
func TestStoreConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	s, err := NewS3(Config{Name: "t", Endpoint: "http://" + addr, Bucket: "bucket", AccessKey: "ak", SecretKey: "sk-secret", PathStyle: true, Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Stat(context.Background(), "k")
	if !errors.Is(err, ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want ErrUnavailable before the timeout", err)
	}
	// The address may be named (it is logged, never sent to a client:
	// the broker answers with a fixed message); credentials never are.
	if strings.Contains(err.Error(), "sk-secret") {
		t.Fatalf("error leaks the secret: %v", err)
	}
}

// A store that accepts and never answers: the call ends at its timeout.
func TestStoreBlackholeTimesOut(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { _ = c.Close() })
		}
	}()
	s, err := NewS3(Config{Name: "t", Endpoint: "http://" + ln.Addr().String(), Bucket: "bucket", AccessKey: "ak", SecretKey: "sk", PathStyle: true, Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for _, call := range []func() error{
		func() error { _, err := s.Stat(context.Background(), "k"); return err },
		func() error { return s.Ping(context.Background()) },
		func() error { _, err := s.CreateMultipart(context.Background(), "k", ObjectOptions{}); return err },
	} {
		err := call()
		if !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want ErrUnavailable and DeadlineExceeded", err)
		}
	}
}
