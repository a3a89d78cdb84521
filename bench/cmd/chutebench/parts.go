package main

import (
	"crypto/md5"
	"encoding/hex"
	"strconv"

	"github.com/chute-dev/chute/multipart"
)

// sessionsPart is a reported 16 MiB part with a realistic ETag.
func sessionsPart(n int) multipart.Part {
	sum := md5.Sum([]byte(strconv.Itoa(n)))
	return multipart.Part{Number: n, ETag: hex.EncodeToString(sum[:]), Size: 16 << 20}
}
