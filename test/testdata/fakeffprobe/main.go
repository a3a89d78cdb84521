// Command fakeffprobe stands in for ffprobe in test/verify_test.go: it
// takes ffprobe's arguments, GETs the URL given last (the verify hook's
// download_url) and prints the duration the file declares in its first
// line, "DURATION=<seconds>", as ffprobe prints a duration. A file without
// one is "Invalid data" (exit 1); a refused GET is "Server returned"
// (exit 1), as ffprobe words them.
package main

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"strings"
)

func main() {
	if len(os.Args) < 2 {
		os.Exit(2)
	}
	resp, err := http.Get(os.Args[len(os.Args)-1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "Connection refused")
		os.Exit(1)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		fmt.Fprintf(os.Stderr, "Server returned %d\n", resp.StatusCode)
		os.Exit(1)
	}
	line, _ := bufio.NewReader(resp.Body).ReadString('\n')
	secs, ok := strings.CutPrefix(strings.TrimSpace(line), "DURATION=")
	if !ok {
		fmt.Fprintln(os.Stderr, "Invalid data found when processing input")
		os.Exit(1)
	}
	fmt.Println(secs)
}
