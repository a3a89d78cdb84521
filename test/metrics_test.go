package test

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// TestMetrics uploads through `chute serve` (one single file, one
// multipart file, one abort, one refused request) and reads /metrics: the
// counters must say exactly what happened, labelled by route pattern
// only.
func TestMetrics(t *testing.T) {
	tg := startServe(t)
	tok := tg.token(t, "metrics-user")

	// A single upload.
	small := randomBytes(t, 1000)
	s := create(t, tg, tok, "a.txt", "text/plain", int64(len(small)))
	if st, _ := put(t, s.Upload.Method, s.Upload.URL, s.Upload.Headers, small); st != 200 {
		t.Fatalf("single PUT: %d", st)
	}
	completeOK(t, tg, tok, s.ID, nil)

	// A multipart upload of two parts, reported, then completed twice
	// (the second answer is the same, and counts nothing).
	big := randomBytes(t, 16*mib+1)
	m := create(t, tg, tok, "b.bin", "application/octet-stream", int64(len(big)))
	uploadParts(t, tg, tok, m, big, m.Parts, 2, true)
	completeOK(t, tg, tok, m.ID, nil)
	completeOK(t, tg, tok, m.ID, nil)

	// An aborted upload.
	a := create(t, tg, tok, "c.bin", "application/octet-stream", 20*mib)
	if r := tg.call(t, tok, "DELETE", "/v1/uploads/"+a.ID, nil); r.status != 200 {
		t.Fatalf("abort: %d %s", r.status, r.body)
	}
	// A request refused by authentication, and an unknown route.
	if r := tg.call(t, "", "GET", "/v1/uploads/"+s.ID, nil); r.status != 401 {
		t.Fatalf("no token: %d", r.status)
	}
	if r := tg.call(t, tok, "GET", "/v1/no/such/route", nil); r.status != 404 {
		t.Fatalf("unknown route: %d", r.status)
	}

	text := scrapeMetrics(t, tg)
	want := []struct {
		name   string
		labels []string
		op     string // "=" or ">="
		value  float64
	}{
		{"chute_sessions_created_total", []string{`strategy="single"`}, "=", 1},
		{"chute_sessions_created_total", []string{`strategy="multipart"`}, "=", 2},
		{"chute_sessions_completed_total", []string{`strategy="single"`}, "=", 1},
		{"chute_sessions_completed_total", []string{`strategy="multipart"`}, "=", 1},
		{"chute_sessions_aborted_total", nil, "=", 1},
		{"chute_bytes_completed_total", nil, "=", float64(len(small) + len(big))},
		// Create returns the first batch: 2 parts for m, 2 for a, and the
		// single upload's one part URL.
		{"chute_parts_signed_total", nil, "=", 5},
		{"chute_parts_reported_total", nil, "=", 2},
		{"chute_sessions_state_transitions_total", []string{`to="pending"`}, "=", 3},
		{"chute_sessions_state_transitions_total", []string{`to="completing"`}, "=", 2},
		{"chute_sessions_state_transitions_total", []string{`to="completed"`}, "=", 2},
		{"chute_sessions_state_transitions_total", []string{`to="aborted"`}, "=", 1},
		{"chute_http_requests_total", []string{`route="/v1/uploads"`, `method="POST"`, `status="201"`}, "=", 3},
		{"chute_http_requests_total", []string{`route="/v1/uploads/:id/complete"`, `method="POST"`, `status="200"`}, "=", 3},
		{"chute_http_requests_total", []string{`route="/v1/uploads/:id/parts/:n"`, `method="PUT"`, `status="200"`}, "=", 2},
		{"chute_http_requests_total", []string{`route="/v1/uploads/:id"`, `method="DELETE"`, `status="200"`}, "=", 1},
		{"chute_http_requests_total", []string{`route="/v1/uploads/:id"`, `method="GET"`, `status="401"`}, "=", 1},
		{"chute_http_requests_total", []string{`route="unmatched"`, `method="GET"`, `status="404"`}, "=", 1},
		{"chute_http_requests_total", []string{`route="/readyz"`, `method="GET"`, `status="200"`}, ">=", 1},
		{"chute_http_request_duration_seconds_count", []string{`route="/v1/uploads"`, `method="POST"`}, "=", 3},
		// Every upload is a multipart one, the single one too.
		{"chute_store_request_duration_seconds_count", []string{`backend="main"`, `op="create_multipart"`}, "=", 3},
		{"chute_store_request_duration_seconds_count", []string{`backend="main"`, `op="complete_multipart"`}, "=", 2},
		{"chute_store_request_duration_seconds_count", []string{`backend="main"`, `op="abort_multipart"`}, "=", 1},
		{"chute_store_request_duration_seconds_count", []string{`backend="main"`, `op="stat"`}, ">=", 2},
		{"chute_store_errors_total", []string{`backend="main"`, `op="complete_multipart"`, `kind="unavailable"`}, "=", 0},
		{"chute_redis_request_duration_seconds_count", []string{`op="transition"`}, ">=", 5},
		{"chute_redis_errors_total", []string{`op="get"`}, "=", 0},
	}
	for _, w := range want {
		got, ok := sample(text, w.name, w.labels...)
		switch {
		case !ok:
			t.Errorf("%s{%s}: no such series", w.name, strings.Join(w.labels, ","))
		case w.op == "=" && got != w.value, w.op == ">=" && got < w.value:
			t.Errorf("%s{%s} = %v, want %s %v", w.name, strings.Join(w.labels, ","), got, w.op, w.value)
		}
	}
	// Labels carry patterns, never ids, keys, tokens or raw paths.
	for _, leak := range []string{s.ID, m.ID, a.ID, s.Key, tok, "/v1/no/such/route", "metrics-user"} {
		if strings.Contains(text, leak) {
			t.Errorf("/metrics holds %q", leak)
		}
	}
	// Uploads in flight and the janitor's backlog are read from Redis at
	// each scrape: every upload above has ended, and one more stays open.
	for _, name := range []string{"chute_sessions_open", "chute_janitor_backlog_sessions"} {
		if got, ok := sample(text, name); !ok || got != 0 {
			t.Errorf("%s = %v (present: %v), want 0", name, got, ok)
		}
	}
	create(t, tg, tok, "d.bin", "application/octet-stream", 20*mib)
	if got, ok := sample(scrapeMetrics(t, tg), "chute_sessions_open"); !ok || got != 1 {
		t.Errorf("chute_sessions_open = %v (present: %v) with one upload open, want 1", got, ok)
	}
	if validated.Load() == 0 {
		t.Error("no response was validated against openapi.json")
	}
}

// scrapeMetrics GETs /metrics without a token and returns its text.
func scrapeMetrics(t *testing.T, tg *target) string {
	t.Helper()
	resp, err := http.Get(tg.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if err := responseError("GET", "/metrics", resp.StatusCode, resp.Header, body); err != nil {
		t.Errorf("/metrics does not match openapi.json: %v", err)
	}
	return string(body)
}

// sample returns the value of the series of name whose labels include
// every one of labels (`k="v"`), from the text exposition format.
func sample(text, name string, labels ...string) (float64, bool) {
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "#") {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		if sp < 0 {
			continue
		}
		series := line[:sp]
		n, lbl, _ := strings.Cut(series, "{")
		if n != name {
			continue
		}
		match := true
		for _, l := range labels {
			if !strings.Contains(","+strings.TrimSuffix(lbl, "}")+",", ","+l+",") {
				match = false
				break
			}
		}
		if !match {
			continue
		}
		v, err := strconv.ParseFloat(line[sp+1:], 64)
		if err != nil {
			return 0, false
		}
		return v, true
	}
	return 0, false
}
