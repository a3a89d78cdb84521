package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/gofiber/fiber/v2"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// serveEmpty runs a Fiber app with one empty POST route: the ceiling for
// any Fiber handler on this machine.
func serveEmpty(args []string) error {
	fs := flag.NewFlagSet("empty", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address (loopback)")
	_ = fs.Parse(args)
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Post("/empty", func(c *fiber.Ctx) error { return c.SendStatus(http.StatusOK) })
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
		<-sig
		_ = app.Shutdown()
	}()
	return app.Listen(*addr)
}

// serveProxy runs the naive design: clients PUT the whole file to
// /upload/{key} and the server streams it to the store with minio-go's
// multipart PutObject (16 MiB parts, 4 in parallel, like the direct run).
func serveProxy(args []string) error {
	fs := flag.NewFlagSet("proxy", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address (loopback)")
	endpoint := fs.String("endpoint", "", "store URL")
	bucket := fs.String("bucket", "", "bucket")
	region := fs.String("region", "us-east-1", "region")
	_ = fs.Parse(args)
	ak, sk := os.Getenv("BENCH_ACCESS_KEY"), os.Getenv("BENCH_SECRET_KEY")
	u, err := url.Parse(*endpoint)
	if err != nil {
		return err
	}
	mc, err := minio.New(u.Host, &minio.Options{Creds: credentials.NewStaticV4(ak, sk, ""), Region: *region})
	if err != nil {
		return err
	}
	srv := &http.Server{Addr: *addr, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key, ok := strings.CutPrefix(r.URL.Path, "/upload/")
		if r.Method != http.MethodPut || !ok || key == "" {
			http.Error(w, "PUT /upload/{key}", http.StatusNotFound)
			return
		}
		info, err := mc.PutObject(r.Context(), *bucket, key, r.Body, r.ContentLength, minio.PutObjectOptions{
			PartSize: 16 << 20, NumThreads: 4, ContentType: "application/octet-stream",
		})
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		fmt.Fprintf(w, "%s %d\n", info.ETag, info.Size)
	})}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
		<-sig
		_ = srv.Shutdown(context.Background())
	}()
	if err := srv.ListenAndServe(); err != http.ErrServerClosed {
		return err
	}
	return nil
}
