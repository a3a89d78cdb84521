package client

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chute-dev/chute/checksum"
)

// fake is a stand-in for Chute and its store in one httptest server:
// /v1/... is the API, /store/{id}/{n}?gen=G&X-Amz-Signature=... the
// presigned PUTs. Hooks decide how the store answers.
type fake struct {
	t         *testing.T
	srv       *httptest.Server
	partSize  int64
	singleMax int64

	mu        sync.Mutex
	size      int64
	count     int
	strategy  string
	state     string
	ctype     string
	stored    map[int][]byte // the store's parts (0: the single object)
	reported  map[int]bool
	gen       map[int]int // how many times each part was signed
	puts      map[int]int // PUT attempts per part
	signed    [][]int     // part-urls batches
	checksums map[int]string
	completed bool
	reason    string // the verify hook's, in state rejected

	// Checksums, as the contract has them.
	alg        checksum.Algorithm               // the session's algorithm
	declared   string                           // whole value given at create
	canVerify  []checksum.Algorithm             // nil: all; else create refuses others
	legacy     bool                             // a server that knows no "checksum" field
	noWhole    bool                             // complete reports no whole-object value
	wholeHook  func(string) string              // changes the whole value complete reports
	creates    []CreateRequest                  // every create body received
	aborts     int                              // DELETE calls
	partSums   []map[string]string              // every part-urls "checksums" body
	createResp func(w http.ResponseWriter) bool // answers instead of Create when true
	// completeResp may answer a complete instead of the fake (return true).
	completeResp func(w http.ResponseWriter) bool

	// storeHook may answer a PUT instead of the store (return true).
	storeHook func(w http.ResponseWriter, n, gen, attempt int) bool
}

func newFake(t *testing.T, partSize, singleMax int64) *fake {
	f := &fake{t: t, partSize: partSize, singleMax: singleMax, stored: map[int][]byte{}, reported: map[int]bool{},
		gen: map[int]int{}, puts: map[int]int{}, checksums: map[int]string{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func jsonErr(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error":{"code":%q,"message":%q}}`, code, msg)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fake) sizeOf(n int) int64 {
	if n < f.count {
		return f.partSize
	}
	return f.size - int64(f.count-1)*f.partSize
}

// sign returns a part URL; the caller holds mu.
func (f *fake) sign(n int) PartURL {
	f.gen[n]++
	u := fmt.Sprintf("%s/store/upl_1/%d?gen=%d&X-Amz-Signature=topsecret", f.srv.URL, n, f.gen[n])
	h := map[string]string{"Content-Length": strconv.FormatInt(f.sizeOf(n), 10)}
	if s, ok := f.checksums[n]; ok {
		h[f.partAlg().Header()] = s
	}
	return PartURL{PartNumber: n, Method: "PUT", URL: u, Headers: h, ExpiresAt: time.Now().Add(15 * time.Minute), Size: f.sizeOf(n)}
}

func (f *fake) status() Status {
	st := Status{ID: "upl_1", Key: "k/upl_1.bin", Strategy: f.strategy, State: f.state, Size: f.size, ContentType: f.ctype, Parts: []Part{}, Reason: f.reason}
	if f.alg != "" && f.declared != "" {
		// As Chute does: only a known value is shown.
		st.Checksum = &Checksum{Algorithm: string(f.alg), Value: f.declared}
	}
	if f.strategy == "multipart" {
		st.PartSize, st.PartCount = f.partSize, f.count
	}
	for n := range f.reported {
		st.Parts = append(st.Parts, Part{Number: n, ETag: etagOf(f.stored[n]), Size: int64(len(f.stored[n]))})
		st.UploadedBytes += int64(len(f.stored[n]))
	}
	sort.Slice(st.Parts, func(i, j int) bool { return st.Parts[i].Number < st.Parts[j].Number })
	return st
}

// partAlg is the algorithm of the part checksums: the session's, or
// SHA256 for the older checksums_sha256.
func (f *fake) partAlg() checksum.Algorithm {
	if f.alg != "" {
		return f.alg
	}
	return checksum.SHA256
}

// wholeValue is the stored object's checksum as a store reports it:
// full-object for a CRC (or a single object), else COMPOSITE "-N".
func (f *fake) wholeValue(obj []byte) string {
	if f.strategy == "single" || f.alg.IsCRC() {
		return f.alg.Sum(obj)
	}
	var ds [][]byte
	for n := 1; n <= f.count; n++ {
		h := f.alg.New()
		h.Write(f.stored[n])
		ds = append(ds, h.Sum(nil))
	}
	return checksum.CompositeOf(f.alg, ds)
}

func etagOf(b []byte) string {
	s := sha256.Sum256(b)
	return fmt.Sprintf("\"%x\"", s[:16])
}

func (f *fake) serve(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/store/") {
		f.store(w, r)
		return
	}
	if r.Header.Get("Authorization") != "Bearer tok" {
		jsonErr(w, 401, "unauthorized", "no token")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	path := strings.TrimPrefix(r.URL.Path, "/v1/uploads")
	switch {
	case r.Method == "POST" && path == "":
		if f.createResp != nil && f.createResp(w) {
			return
		}
		var req CreateRequest
		dec := json.NewDecoder(r.Body)
		dec.DisallowUnknownFields() // as Chute's /v1 does
		if err := dec.Decode(&req); err != nil {
			jsonErr(w, 400, "invalid_request", err.Error())
			return
		}
		f.creates = append(f.creates, req)
		if c := req.Checksum; c != nil {
			if f.legacy {
				jsonErr(w, 400, "invalid_request", `unknown field "checksum"`)
				return
			}
			alg := checksum.Algorithm(c.Algorithm)
			if !alg.Valid() || (f.canVerify != nil && !slices.Contains(f.canVerify, alg)) {
				jsonErr(w, 400, "invalid_request", "checksum.algorithm: the store cannot verify "+c.Algorithm+"; it can verify "+checksum.List(f.canVerify))
				return
			}
			if c.Value != "" && alg.Check(c.Value) != nil {
				jsonErr(w, 400, "invalid_request", "checksum.value: malformed")
				return
			}
			f.alg, f.declared = alg, c.Value
		} else {
			f.alg, f.declared = "", ""
		}
		if req.Size == nil {
			jsonErr(w, 400, "invalid_request", "size is required")
			return
		}
		size := *req.Size
		f.size, f.ctype, f.state = size, req.ContentType, "pending"
		u := Upload{ID: "upl_1", Key: "k/upl_1.bin", State: "pending", Size: size, ContentType: req.ContentType}
		if size <= f.singleMax {
			f.strategy, u.Strategy = "single", "single"
			u.Upload = &SignedRequest{Method: "PUT", URL: f.srv.URL + "/store/upl_1/0?X-Amz-Signature=topsecret",
				Headers: map[string]string{"Content-Length": strconv.FormatInt(size, 10), "Content-Type": req.ContentType}}
			if f.declared != "" {
				f.checksums[0] = f.declared
				u.Upload.Headers[f.alg.Header()] = f.declared
			}
		} else {
			f.strategy, u.Strategy = "multipart", "multipart"
			f.count = int((size + f.partSize - 1) / f.partSize)
			u.PartSize, u.PartCount = f.partSize, f.count
			for n := 1; n <= min(f.count, 2); n++ {
				u.Parts = append(u.Parts, f.sign(n))
			}
		}
		writeJSON(w, 201, u)
	case r.Method == "GET" && path == "/upl_1":
		writeJSON(w, 200, f.status())
	case r.Method == "DELETE" && path == "/upl_1":
		f.state = "aborted"
		f.aborts++
		writeJSON(w, 200, f.status())
	case r.Method == "POST" && path == "/upl_1/part-urls":
		var req struct {
			PartNumbers []int             `json:"part_numbers"`
			SHA256      map[string]string `json:"checksums_sha256"`
			Checksums   map[string]string `json:"checksums"`
		}
		dec := json.NewDecoder(r.Body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil || len(req.PartNumbers) > 1000 {
			jsonErr(w, 400, "invalid_request", "bad part-urls")
			return
		}
		if len(req.Checksums) > 0 && f.alg == "" {
			jsonErr(w, 400, "invalid_request", "checksums: the upload was created without a checksum algorithm")
			return
		}
		f.partSums = append(f.partSums, req.Checksums)
		for k, v := range req.SHA256 {
			n, _ := strconv.Atoi(k)
			f.checksums[n] = v
		}
		for k, v := range req.Checksums {
			if err := f.alg.Check(v); err != nil {
				jsonErr(w, 400, "invalid_request", "checksums: part "+k+": "+err.Error())
				return
			}
		}
		for k, v := range req.Checksums {
			n, _ := strconv.Atoi(k)
			f.checksums[n] = v
		}
		f.signed = append(f.signed, req.PartNumbers)
		var out struct {
			Parts []PartURL `json:"parts"`
		}
		for _, n := range req.PartNumbers {
			out.Parts = append(out.Parts, f.sign(n))
		}
		writeJSON(w, 200, out)
	case r.Method == "PUT" && strings.HasPrefix(path, "/upl_1/parts/"):
		n, _ := strconv.Atoi(strings.TrimPrefix(path, "/upl_1/parts/"))
		var req struct {
			ETag string `json:"etag"`
			Size int64  `json:"size"`
		}
		_ = json.NewDecoder(r.Body).Decode(&req)
		if b, ok := f.stored[n]; !ok || etagOf(b) != req.ETag || int64(len(b)) != req.Size {
			jsonErr(w, 400, "invalid_request", "part does not match the store")
			return
		}
		f.reported[n] = true
		f.state = "uploading"
		writeJSON(w, 200, f.status())
	case r.Method == "POST" && path == "/upl_1/complete" && f.completeResp != nil && f.completeResp(w):
	case r.Method == "POST" && path == "/upl_1/complete":
		if f.strategy == "multipart" {
			for n := 1; n <= f.count; n++ {
				if !f.reported[n] {
					jsonErr(w, 422, "incomplete", fmt.Sprintf("part %d missing", n))
					return
				}
			}
		} else if _, ok := f.stored[0]; !ok {
			jsonErr(w, 422, "incomplete", "no object")
			return
		}
		cm := Completed{ID: "upl_1", Key: "k/upl_1.bin", State: "completed", Size: f.size, ContentType: f.ctype, ETag: "\"final\"",
			Download: &Download{URL: f.srv.URL + "/store/get?X-Amz-Signature=topsecret"}}
		if f.alg != "" {
			f.mu.Unlock()
			obj := f.object()
			f.mu.Lock()
			whole := f.wholeValue(obj)
			if f.declared != "" && f.alg.Sum(obj) != f.declared {
				jsonErr(w, 422, "incomplete", "the object's checksum does not match the declared one")
				return
			}
			if f.wholeHook != nil {
				whole = f.wholeHook(whole)
			}
			if !f.noWhole {
				cm.Checksum = &Checksum{Algorithm: string(f.alg), Value: whole}
			}
		}
		f.state, f.completed = "completed", true
		writeJSON(w, 200, cm)
	case r.Method == "GET" && path == "/upl_1/download-url":
		writeJSON(w, 200, Download{URL: f.srv.URL + "/store/get"})
	default:
		jsonErr(w, 404, "not_found", "no such route")
	}
}

func (f *fake) store(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/store/"), "/")
	n, _ := strconv.Atoi(parts[len(parts)-1])
	gen, _ := strconv.Atoi(r.URL.Query().Get("gen"))
	f.mu.Lock()
	f.puts[n]++
	attempt := f.puts[n]
	hook := f.storeHook
	var want int64
	if f.strategy == "single" {
		want = f.size
	} else {
		want = f.sizeOf(n)
	}
	sum := f.checksums[n]
	a := f.partAlg()
	f.mu.Unlock()
	if r.ContentLength != want {
		w.WriteHeader(403)
		fmt.Fprint(w, "<Error><Code>SignatureDoesNotMatch</Code></Error>")
		return
	}
	if hook != nil && hook(w, n, gen, attempt) {
		_, _ = io.Copy(io.Discard, r.Body)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	if sum != "" {
		if r.Header.Get(a.Header()) != sum || a.Sum(body) != sum {
			w.WriteHeader(400)
			fmt.Fprint(w, "<Error><Code>BadDigest</Code></Error>")
			return
		}
	}
	if f.strategy == "single" && r.Header.Get("Content-Type") != f.ctype {
		w.WriteHeader(403)
		fmt.Fprint(w, "<Error><Code>SignatureDoesNotMatch</Code></Error>")
		return
	}
	f.mu.Lock()
	f.stored[n] = body
	f.mu.Unlock()
	w.Header().Set("ETag", etagOf(body))
	w.WriteHeader(200)
}

// putsOf returns how many PUTs part n got.
func (f *fake) putsOf(n int) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.puts[n]
}

// object returns the stored bytes, parts in order.
func (f *fake) object() []byte {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.strategy == "single" {
		return f.stored[0]
	}
	var out []byte
	for n := 1; n <= f.count; n++ {
		out = append(out, f.stored[n]...)
	}
	return out
}
