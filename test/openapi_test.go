package test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/chute-dev/chute/broker/httpapi"
)

// validateResponse, when set, checks every answer that target.call reads
// (harness_test.go). init sets it to checkResponse: the whole suite then
// holds the server to its OpenAPI document.
var validateResponse func(t testing.TB, method, path string, status int, header http.Header, body []byte)

var (
	apiDoc    *openapi3.T
	apiRouter routers.Router
	// validated counts the answers checked, so that a test can prove the
	// hook ran.
	validated atomic.Int64
)

func init() {
	// kin-openapi asserts date-time and int64 but has no check of its own
	// for uri: presigned URLs must be absolute http(s) URLs.
	openapi3.DefineStringFormatValidator("uri", openapi3.NewCallbackValidator(func(v string) error {
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("not an absolute http(s) URL")
		}
		return nil
	}))
	doc, err := openapi3.NewLoader().LoadFromData(httpapi.OpenAPI())
	if err != nil {
		panic(fmt.Sprintf("loading the OpenAPI document: %v", err))
	}
	// The legacy router validates the document and matches paths alone
	// (the document names no servers: any host is this server).
	r, err := legacy.NewRouter(doc)
	if err != nil {
		panic(fmt.Sprintf("routing the OpenAPI document: %v", err))
	}
	apiDoc, apiRouter = doc, r
	validateResponse = checkResponse
}

// checkResponse validates one answer against the document: its status
// must be documented for the operation, and its body must fit that
// response's schema. An answer to a path the document does not have must
// be a 404 with Chute's error shape.
func checkResponse(t testing.TB, method, path string, status int, header http.Header, body []byte) {
	t.Helper()
	if err := responseError(method, path, status, header, body); err != nil {
		t.Errorf("%s %s → %d does not match openapi.json: %v", method, pathOnly(path), status, err)
	}
	validated.Add(1)
}

func responseError(method, path string, status int, header http.Header, body []byte) error {
	req := httptest.NewRequest(method, path, nil)
	route, params, err := apiRouter.FindRoute(req)
	var re *routers.RouteError // the legacy router returns fresh values, not the sentinels
	if errors.As(err, &re) && (re.Reason == routers.ErrPathNotFound.Error() || re.Reason == routers.ErrMethodNotAllowed.Error()) {
		// The legacy router says "not found" for a documented path under
		// another method too: ask it with the methods the document uses.
		otherMethod := false
		for _, m := range []string{"GET", "POST", "PUT", "DELETE"} {
			if _, _, err := apiRouter.FindRoute(httptest.NewRequest(m, path, nil)); err == nil {
				otherMethod = true
			}
		}
		switch {
		case otherMethod && status == http.StatusMethodNotAllowed:
			if header.Get("Allow") == "" {
				return fmt.Errorf("405 without an Allow header")
			}
		case otherMethod && status == http.StatusUnauthorized:
		case otherMethod:
			return fmt.Errorf("undocumented method on a documented path answered %d, not 405 (or 401)", status)
		case status != http.StatusNotFound:
			return fmt.Errorf("undocumented route answered %d, not 404", status)
		}
		var v any
		if err := json.Unmarshal(body, &v); err != nil {
			return fmt.Errorf("undocumented route: body is not JSON: %v", err)
		}
		return apiDoc.Components.Schemas["Error"].Value.VisitJSON(v, openapi3.EnableJSONSchema2020())
	}
	if err != nil {
		return err
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: req, PathParams: params, Route: route,
		},
		Status:  status,
		Header:  header,
		Body:    io.NopCloser(bytes.NewReader(body)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	return openapi3filter.ValidateResponse(context.Background(), in)
}

// pathOnly drops a query string from a path for messages.
func pathOnly(p string) string {
	if i := strings.IndexByte(p, '?'); i >= 0 {
		return p[:i]
	}
	return p
}

// TestResponseValidatorRejects proves the hook can fail: answers that
// break the document are refused.
func TestResponseValidatorRejects(t *testing.T) {
	js := http.Header{"Content-Type": {"application/json"}}
	id := "upl_aaaaaaaaaaaaaaaaaaaaaaaaaa"
	good := `{"id":"` + id + `","key":"a/b.txt","strategy":"single","state":"pending","size":1,"content_type":"text/plain",` +
		`"parts":[],"uploaded_bytes":0,"created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z","expires_at":"2026-01-02T00:00:00Z"}`
	if err := responseError("GET", "/v1/uploads/"+id+"?sync=true", 200, js, []byte(good)); err != nil {
		t.Fatalf("a good status is refused: %v", err)
	}
	for name, tc := range map[string]struct {
		method, path string
		status       int
		body         string
	}{
		"unknown state":        {"GET", "/v1/uploads/" + id, 200, strings.Replace(good, `"pending"`, `"sleeping"`, 1)},
		"missing field":        {"GET", "/v1/uploads/" + id, 200, strings.Replace(good, `"uploaded_bytes":0,`, ``, 1)},
		"extra field":          {"GET", "/v1/uploads/" + id, 200, strings.Replace(good, `"size":1,`, `"size":1,"secret":"x",`, 1)},
		"undocumented status":  {"GET", "/v1/uploads/" + id, 418, `{"error":{"code":"internal","message":"x"}}`},
		"error code vs status": {"GET", "/v1/uploads/" + id, 404, `{"error":{"code":"conflict","message":"x"}}`},
		"unknown error code":   {"POST", "/v1/uploads", 400, `{"error":{"code":"oops","message":"x"}}`},
		"plain text error":     {"POST", "/v1/uploads", 400, `"bad"`},
		"bad date-time":        {"GET", "/v1/uploads/" + id, 200, strings.Replace(good, `"2026-01-02T00:00:00Z"`, `"tomorrow"`, 1)},
		"relative url":         {"GET", "/v1/uploads/" + id + "/download-url", 200, `{"url":"/x","expires_at":"2026-01-02T00:00:00Z"}`},
		"unknown route 200":    {"GET", "/v1/nothing", 200, `{}`},
		"unknown route shape":  {"GET", "/v1/nothing", 404, `{"message":"no"}`},
		"wrong method as 404":  {"PATCH", "/v1/uploads/" + id, 404, `{"error":{"code":"not_found","message":"x"}}`},
		"405 without Allow":    {"PATCH", "/v1/uploads/" + id, 405, `{"error":{"code":"invalid_request","message":"x"}}`},
	} {
		if err := responseError(tc.method, tc.path, tc.status, js, []byte(tc.body)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	allow := http.Header{"Content-Type": {"application/json"}, "Allow": {"GET, HEAD, DELETE"}}
	if err := responseError("PATCH", "/v1/uploads/"+id, 405, allow, []byte(`{"error":{"code":"invalid_request","message":"x"}}`)); err != nil {
		t.Errorf("a 405 with Allow is refused: %v", err)
	}
}
