// Package web holds Chute's demo page and its browser client, chute.js,
// embedded in the binary: plain HTML, CSS and ES modules, no build step.
//
// What it owns: the static files (FS) and nothing else. Serving them is
// the HTTP layer's job (broker/httpapi serves FS at / when its
// Options.Static is set); the page talks to the /v1 API of the same origin
// and sends the bytes straight to the store's presigned URLs, so the store
// must allow the page's origin and expose the ETag header (see
// docs/clients/javascript.md).
//
// The page (static/) and the client (client/) live apart: client/ is the
// npm package @chute-dev/client, and its chute.js and chute-worker.js are
// the very files served here, so the package and the page's script cannot
// drift apart. FS joins both folders at one root.
package web

import (
	"embed"
	"io/fs"
	"slices"
	"strings"
)

//go:embed static
var static embed.FS

// The client's files the page serves; the rest of client/ (package.json,
// index.d.ts, README.md, LICENSE) is for npm only.
//
//go:embed client/chute.js client/chute-worker.js
var client embed.FS

// clientFiles are the files of the npm package served next to the page.
var clientFiles = []string{"chute.js", "chute-worker.js"}

// FS returns the static files: index.html, app.js, chute.js,
// chute-worker.js (chute.js's checksum worker) and style.css, at the root
// of the returned file system.
func FS() fs.FS {
	return pageFS{static: sub(static, "static"), client: sub(client, "client")}
}

func sub(fsys fs.FS, dir string) fs.FS {
	s, err := fs.Sub(fsys, dir)
	if err != nil {
		panic(err) // the directory is embedded above: unreachable
	}
	return s
}

// pageFS is static/ with the client's files added at its root.
type pageFS struct{ static, client fs.FS }

func (p pageFS) Open(name string) (fs.File, error) {
	if slices.Contains(clientFiles, name) {
		return p.client.Open(name)
	}
	return p.static.Open(name)
}

// ReadDir lists both folders' entries at the root (sorted by name, as
// fs.ReadDir promises); below it there is only static/.
func (p pageFS) ReadDir(name string) ([]fs.DirEntry, error) {
	entries, err := fs.ReadDir(p.static, name)
	if err != nil || name != "." {
		return entries, err
	}
	for _, f := range clientFiles {
		info, err := fs.Stat(p.client, f)
		if err != nil {
			return nil, err
		}
		entries = append(entries, fs.FileInfoToDirEntry(info))
	}
	slices.SortFunc(entries, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return entries, nil
}
