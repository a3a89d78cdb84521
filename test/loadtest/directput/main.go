// Command directput uploads a file straight to an S3-compatible store with
// minio-go (multipart, 16 MiB parts, 4 threads) and prints the wall time
// and throughput. It is the baseline that `chute upload` is compared with:
//
//	go run ./test/loadtest/directput --endpoint 127.0.0.1:9000 \
//	    --access-key KEY --secret-key SECRET --bucket uploads FILE
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

func main() {
	endpoint := flag.String("endpoint", "127.0.0.1:9000", "store host:port (plain HTTP)")
	access := flag.String("access-key", "", "access key")
	secret := flag.String("secret-key", "", "secret key")
	bucket := flag.String("bucket", "uploads", "bucket")
	key := flag.String("key", "directput/object.bin", "object key")
	partSize := flag.Uint64("part-size", 16<<20, "part size in bytes")
	threads := flag.Uint("threads", 4, "parts in flight")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: directput [flags] FILE")
		os.Exit(2)
	}
	if err := run(flag.Arg(0), *endpoint, *access, *secret, *bucket, *key, *partSize, *threads); err != nil {
		fmt.Fprintln(os.Stderr, "directput:", err)
		os.Exit(1)
	}
}

func run(path, endpoint, access, secret, bucket, key string, partSize uint64, threads uint) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	c, err := minio.New(endpoint, &minio.Options{Creds: credentials.NewStaticV4(access, secret, ""), Region: "us-east-1", BucketLookup: minio.BucketLookupPath})
	if err != nil {
		return err
	}
	start := time.Now()
	info, err := c.PutObject(context.Background(), bucket, key, f, fi.Size(), minio.PutObjectOptions{
		PartSize: partSize, NumThreads: threads, ContentType: "application/octet-stream",
	})
	if err != nil {
		return err
	}
	d := time.Since(start)
	fmt.Printf("uploaded %d bytes to %s/%s in %s: %.1f MB/s (%.1f MiB/s)\n", info.Size, bucket, info.Key, d.Round(time.Millisecond),
		float64(info.Size)/d.Seconds()/1e6, float64(info.Size)/d.Seconds()/(1<<20))
	return nil
}
