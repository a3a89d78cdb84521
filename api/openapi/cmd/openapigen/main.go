// Command openapigen writes Chute's OpenAPI document, generated from the
// types of package api (see package api/openapi). go generate runs it in
// the api directory:
//
//	go generate ./api
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/chute-dev/chute/api/openapi"
)

func main() {
	src := flag.String("src", ".", "directory of package api (its doc comments become descriptions)")
	out := flag.String("o", "../broker/httpapi/openapi.json", "file to write")
	flag.Parse()
	doc, err := openapi.Generate(*src)
	if err != nil {
		fmt.Fprintln(os.Stderr, "openapigen:", err)
		os.Exit(1)
	}
	if err := os.WriteFile(*out, doc, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "openapigen:", err)
		os.Exit(1)
	}
}
