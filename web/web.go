// Package web holds Chute's demo page and its browser client, chute.js,
// embedded in the binary: plain HTML, CSS and ES modules, no build step.
//
// What it owns: the static files (FS) and nothing else. Serving them is
// the HTTP layer's job (broker/httpapi serves FS at / when its
// Options.Static is set); the page talks to the /v1 API of the same origin
// and sends the bytes straight to the store's presigned URLs, so the store
// must allow the page's origin and expose the ETag header (see
// docs/clients/javascript.md).
package web

import (
	"embed"
	"io/fs"
)

//go:embed static
var files embed.FS

// FS returns the static files: index.html, app.js, chute.js,
// chute-worker.js (chute.js's checksum worker) and style.css, at the root
// of the returned file system.
func FS() fs.FS {
	sub, err := fs.Sub(files, "static")
	if err != nil {
		panic(err) // the directory is embedded above: unreachable
	}
	return sub
}
