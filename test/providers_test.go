package test

import (
	"bytes"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// A backend whose provider takes no POST policy uploads (b2 here; the
// store behind it is versitygw, with region and path style set
// explicitly, which win over the preset): Uppy's GET /s3/params answers a
// presigned PUT with the told size signed in, or a clear 400 without one.
func TestParamsPutFallback(t *testing.T) {
	tg := startServeYAML(t, `backends:
  main:
    provider: b2
profiles:
  default:
    max_size: 1MiB
    allowed_types: ["text/plain"]
`)
	if !tg.waitLog("takes no POST policy uploads") {
		t.Errorf("serve did not log that the store takes no POST policy uploads")
	}
	ep := tg.companion(t, "alice")
	q := url.Values{"filename": {"note.txt"}, "type": {"text/plain"}}

	r := tg.call(t, "", "GET", ep+"/s3/params?"+q.Encode(), nil)
	if r.status != 400 || r.errCode(t) != "invalid_request" || !strings.Contains(string(r.body), "does not take POST policy uploads") {
		t.Fatalf("params without size: %d %s", r.status, r.body)
	}
	q.Set("size", strconv.Itoa(2<<20))
	if r = tg.call(t, "", "GET", ep+"/s3/params?"+q.Encode(), nil); r.status != 413 {
		t.Fatalf("params over max_size: %d %s", r.status, r.body)
	}

	data := []byte("uploaded with a presigned PUT instead of a POST policy\n")
	q.Set("size", strconv.Itoa(len(data)))
	r = tg.call(t, "", "GET", ep+"/s3/params?"+q.Encode(), nil)
	var p struct {
		Method  string            `json:"method"`
		URL     string            `json:"url"`
		Fields  map[string]string `json:"fields"`
		Headers map[string]string `json:"headers"`
		Expires int64             `json:"expires"`
	}
	r.decode(t, &p)
	if r.status != 200 || p.Method != "PUT" || len(p.Fields) != 0 || p.Headers["Content-Length"] != strconv.Itoa(len(data)) || p.Expires <= 0 {
		t.Fatalf("params with size: %d %s", r.status, r.body)
	}
	headers := map[string]string{}
	for k, v := range p.Headers {
		if !strings.EqualFold(k, "Content-Length") {
			headers[k] = v
		}
	}
	// One byte more than signed: the store refuses it.
	if status, _ := put(t, http.MethodPut, p.URL, headers, append(bytes.Clone(data), 'x')); status/100 == 2 {
		t.Fatalf("the store took a body longer than the signed Content-Length")
	}
	if status, msg := put(t, http.MethodPut, p.URL, headers, data); status != 200 {
		t.Fatalf("PUT: %d %s", status, msg)
	}
	u, err := url.Parse(p.URL)
	if err != nil {
		t.Fatal(err)
	}
	key := u.Path[strings.Index(u.Path[1:], "/")+2:] // path style: /bucket/key
	tok := tg.token(t, "alice")
	r = tg.call(t, tok, "POST", "/v1/uploads/"+sessionIDOf(t, key)+"/complete", nil)
	var done struct {
		State string `json:"state"`
		Size  int64  `json:"size"`
	}
	r.decode(t, &done)
	if r.status != 200 || done.State != "completed" || done.Size != int64(len(data)) {
		t.Fatalf("complete: %d %s", r.status, r.body)
	}
}
