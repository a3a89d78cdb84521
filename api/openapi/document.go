// Package openapi generates Chute's OpenAPI 3.1 document: the schemas of
// the /v1 bodies by reflection over the types of package api (their json
// and oapi tags and doc comments), the operations from the table in this
// file. cmd/openapigen writes it to broker/httpapi/openapi.json (run
// `go generate ./api`); TestDocumentIsGenerated fails when the checked-in
// file differs from what Generate returns.
package openapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/chute-dev/chute/api"
)

// op is one operation of the table.
type op struct {
	method, path string
	id, summary  string
	desc         string
	tag          string     // uploads, uppy or operations
	query        []any      // parameters of the operation (path parameters come from the path)
	body         any        // request body: a reflect.Type (package api) or a schema name
	bodyOptional bool       // the body may be left out
	status       int        // success status
	okDesc       string     // its description
	ok           any        // its schema: a reflect.Type, a schema name, or an obj
	okType       string     // its media type; application/json when empty
	errs         []string   // error responses (names of components.responses)
	extra        []response // further responses (readyz's 503)
	public       bool       // no token
}

type response struct {
	status int
	desc   string
	schema string
}

var (
	createErrs   = []string{"BadRequest", "Unauthorized", "Forbidden", "NotFound", "TooLarge", "UnsupportedType", "RateLimitedOrQuota", "Internal", "BadGateway", "Unavailable"}
	statusErrs   = []string{"BadRequest", "Unauthorized", "NotFound", "TooLarge", "RateLimited", "Internal", "BadGateway", "Unavailable"}
	sessionErrs  = []string{"BadRequest", "Unauthorized", "NotFound", "Conflict", "TooLarge", "RateLimited", "Internal", "BadGateway", "Unavailable"}
	completeErrs = []string{"BadRequest", "Unauthorized", "NotFound", "Conflict", "TooLarge", "UnsupportedType", "Unprocessable", "RateLimited", "Internal", "BadGateway", "Unavailable"}
)

func paramRef(name string) obj { return obj{{"$ref", "#/components/parameters/" + name}} }

// query parameters of GET /s3/params.
var paramsQuery = []any{
	obj{{"name", "filename"}, {"in", "query"}, {"required", false}, {"schema", obj{{"type", "string"}}}},
	obj{{"name", "type"}, {"in", "query"}, {"required", false}, {"schema", obj{{"type", "string"}}}, {"description", "The content type."}},
	obj{{"name", "profile"}, {"in", "query"}, {"required", false}, {"schema", obj{{"type", "string"}, {"default", "default"}}}},
	obj{{"name", "metadata"}, {"in", "query"}, {"required", false}, {"style", "deepObject"}, {"explode", true},
		{"schema", obj{{"type", "object"}, {"additionalProperties", obj{{"type", "string"}}}}}, {"description", "metadata[name]=value pairs."}},
}

// operations is the hand-kept table of the server's routes. The /s3
// operations are served again under /t/{token} (see tokenVariant).
var operations = []op{
	{method: "post", path: "/v1/uploads", id: "createUpload", summary: "Create an upload session", tag: "uploads",
		desc:   "Chute picks the strategy (single when size <= the profile's single_max) and the key. For multipart, parts holds URLs for the first batch of parts (at most 32).",
		body:   reflect.TypeFor[api.CreateRequest](),
		status: 201, okDesc: "Created; the first presigned URLs included.", ok: "Created", errs: createErrs},
	{method: "get", path: "/v1/uploads/{id}", id: "getUpload", summary: "Session status", tag: "uploads",
		query:  []any{paramRef("Sync")},
		status: 200, okDesc: "The session.", ok: reflect.TypeFor[api.Status](), errs: statusErrs},
	{method: "delete", path: "/v1/uploads/{id}", id: "abortUpload", summary: "Abort", tag: "uploads",
		desc:   "Ends an open session and aborts its multipart upload in the store (or removes a single upload's object). 409 for a completed or completing session.",
		status: 200, okDesc: "The aborted session (aborting an aborted session changes nothing).", ok: reflect.TypeFor[api.Status](), errs: sessionErrs},
	{method: "post", path: "/v1/uploads/{id}/part-urls", id: "partURLs", summary: "Presign part URLs in a batch", tag: "uploads",
		body:   reflect.TypeFor[api.PartURLsRequest](),
		status: 200, okDesc: "One presigned request per part asked for.", ok: reflect.TypeFor[api.PartURLsResult](), errs: sessionErrs},
	{method: "put", path: "/v1/uploads/{id}/parts/{n}", id: "reportPart", summary: "Report a finished part", tag: "uploads",
		body:   reflect.TypeFor[api.ReportRequest](),
		status: 200, okDesc: "The session with the part recorded (idempotent).", ok: reflect.TypeFor[api.Status](), errs: sessionErrs},
	{method: "post", path: "/v1/uploads/{id}/complete", id: "completeUpload", summary: "Finalize", tag: "uploads",
		desc: "Checks the store's own part list (every planned part, sizes as planned, ETags matching) before CompleteMultipartUpload, and the final object's size (and, for a profile with sniff, its first bytes against the declared type: 415 on a mismatch). Without a body the reported parts are used. For a profile with a verify hook, the application is then asked: it accepts (200), rejects (422 rejected, the object removed), or gives no verdict in time (503, the session stays open and a retried complete asks again); a completed session is never asked again.",
		body: reflect.TypeFor[api.CompleteRequest](), bodyOptional: true,
		status: 200, okDesc: "Completed (completing a completed session answers the same again).", ok: reflect.TypeFor[api.CompleteResult](), errs: completeErrs},
	{method: "get", path: "/v1/uploads/{id}/download-url", id: "downloadURL", summary: "A fresh presigned GET", tag: "uploads",
		status: 200, okDesc: "A presigned GET of the completed object.", ok: reflect.TypeFor[api.Download](), errs: sessionErrs},

	{method: "get", path: "/healthz", id: "healthz", summary: "Liveness", tag: "operations", public: true,
		status: 200, okDesc: "The process serves requests.", ok: "Health"},
	{method: "get", path: "/readyz", id: "readyz", summary: "Readiness", tag: "operations", public: true,
		status: 200, okDesc: "The session store and every backend answer.", ok: "Health",
		extra: []response{{503, "A dependency does not answer.", "NotReady"}}},
	{method: "get", path: "/metrics", id: "metrics", summary: "Prometheus metrics", tag: "operations", public: true,
		status: 200, okDesc: "The metrics in the Prometheus text exposition format (see docs/observability.md). Unauthenticated: keep it behind the network policy.",
		ok: obj{{"type", "string"}}, okType: "text/plain"},
	{method: "get", path: "/openapi.json", id: "openapi", summary: "This document", tag: "operations", public: true,
		status: 200, okDesc: "The OpenAPI 3.1 document of this server.",
		ok: obj{{"type", "object"}, {"required", []string{"openapi", "info", "paths"}}}},

	{method: "get", path: "/s3/params", id: "companionParams", summary: "Presigned POST policy for a single upload", tag: "uppy", desc: uppyAuth,
		query:  paramsQuery,
		status: 200, okDesc: "A POST policy form, with content-length-range from the profile.", ok: "CompanionParams", errs: createErrs},
	{method: "post", path: "/s3/multipart", id: "companionCreateMultipart", summary: "Create a multipart upload", tag: "uppy", desc: uppyAuth,
		body:   "CompanionCreateRequest",
		status: 200, okDesc: "The upload; uploadId is the session id.", ok: "CompanionUpload", errs: createErrs},
	{method: "get", path: "/s3/multipart/{uploadId}/{partNumber}", id: "companionSignPart", summary: "Presign one part", tag: "uppy", desc: uppyAuth,
		query:  []any{paramRef("Key")},
		status: 200, okDesc: "A presigned PUT for the part.", ok: "CompanionSigned", errs: sessionErrs},
	{method: "get", path: "/s3/multipart/{uploadId}", id: "companionListParts", summary: "The parts the store holds", tag: "uppy", desc: uppyAuth,
		query:  []any{paramRef("Key")},
		status: 200, okDesc: "The store's part list.", ok: obj{{"type", "array"}, {"items", ref("CompanionPart")}}, errs: sessionErrs},
	{method: "delete", path: "/s3/multipart/{uploadId}", id: "companionAbort", summary: "Abort", tag: "uppy", desc: uppyAuth,
		query:  []any{paramRef("Key")},
		status: 200, okDesc: "Aborted.", ok: "Empty", errs: sessionErrs},
	{method: "post", path: "/s3/multipart/{uploadId}/complete", id: "companionComplete", summary: "Finalize", tag: "uppy", desc: uppyAuth,
		query: []any{paramRef("Key")}, body: "CompanionCompleteRequest",
		status: 200, okDesc: "Completed, after the same checks as /v1.", ok: "CompanionComplete", errs: completeErrs},
}

// pathParams names the shared parameter of each path segment.
var pathParams = map[string]string{
	"{id}": "UploadID", "{n}": "PartNumberPath", "{uploadId}": "CompanionUploadID",
	"{partNumber}": "CompanionPartNumber", "{token}": "Token",
}

// uppyAuth is the description of an /s3 operation (tokenVariants
// replaces it under /t/{token}).
const uppyAuth = "Authenticated like /v1."

// errorResponses are components.responses: each an Error whose code is
// fixed (name, status, description, codes, Retry-After description).
var errorResponses = []struct {
	name, desc string
	codes      []string
	retryAfter string
}{
	{"BadRequest", "invalid_request: malformed JSON, a missing or invalid field, an unknown field in a /v1 request body (the message names it, e.g. unknown field \"checksum.algo\"), a part number out of range.", []string{"invalid_request"}, ""},
	{"Unauthorized", "unauthorized: no, bad or expired token.", []string{"unauthorized"}, ""},
	{"Forbidden", "forbidden: the token is valid but the action is not allowed (e.g. the profile's subjects do not include this subject); or the application's authorizer webhook refused the upload (its message, or \"upload not authorized\").", []string{"forbidden"}, ""},
	{"NotFound", "not_found: unknown session, or another subject's.", []string{"not_found"}, ""},
	{"Conflict", "conflict: the session is in the wrong state.", []string{"conflict"}, ""},
	{"TooLarge", "too_large: size over the profile's max_size or what S3 allows, or a request body over the limit.", []string{"too_large"}, ""},
	{"UnsupportedType", "unsupported_type: content type not in the profile's allowed_types, or (on complete, for a profile with sniff) the file's first bytes contradict its declared type: the object is removed and the upload aborted.", []string{"unsupported_type"}, ""},
	{"Unprocessable", "incomplete: parts missing, of the wrong size or with a mismatched ETag, or the object is not there. rejected: the profile's verify hook rejected the upload; the object was removed, the session is rejected, and the message is the hook's reason (completing it again answers the same).", []string{"incomplete", "rejected"}, ""},
	{"RateLimited", "rate_limited: too many requests for this subject (limits.rate and limits.burst; Retry-After says when to try again), or, on a create, too many open uploads for this subject (limits.max_open_sessions; message \"too many open uploads\": complete or abort some first).", []string{"rate_limited"},
		"Whole seconds to wait before the next request fits the subject's rate (sent when the request rate is over the limit)."},
	{"RateLimitedOrQuota", "rate_limited, as on every route; or, on a create, quota_exceeded: the upload would pass one of the subject's byte quotas (quotas.open_bytes or quotas.daily_bytes, globally or of the profile). Its message names the quota, its limit, what the subject already uses against it and what the upload needs (an upload of unknown size, on the Uppy routes, reserves the profile's max_size); it tells nothing of other subjects. Open bytes free up when uploads complete, abort or expire; for the daily quota Retry-After says when enough completed bytes leave the rolling day, when that alone makes room.", []string{"rate_limited", "quota_exceeded"},
		"Whole seconds to wait: before the next request fits the subject's rate (rate_limited), or until the daily quota has room for the upload if nothing else changes (quota_exceeded on daily_bytes; absent when only finishing open uploads can make room)."},
	{"Internal", "internal: anything else (details only in the server log).", []string{"internal"}, ""},
	{"BadGateway", "storage_unavailable: the store failed.", []string{"storage_unavailable"}, ""},
	{"Unavailable", "storage_unavailable: the store or the session store failed or timed out, or (at complete) the profile's verify hook gave no verdict in time; the session stays open and the call may be retried.", []string{"storage_unavailable"}, ""},
}

// errorStatus is the HTTP status of each error response.
var errorStatus = map[string]int{
	"BadRequest": 400, "Unauthorized": 401, "Forbidden": 403, "NotFound": 404, "Conflict": 409,
	"TooLarge": 413, "UnsupportedType": 415, "Unprocessable": 422, "RateLimited": 429,
	"RateLimitedOrQuota": 429, "Internal": 500, "BadGateway": 502, "Unavailable": 503,
}

// sharedSchemas are the named scalar schemas that fields point at with
// oapi:"ref=...", in document order; the enums take their values from
// package api.
func sharedSchemas() obj {
	enum := func(values []string, desc string) obj {
		return obj{{"type", "string"}, {"enum", values}, {"description", desc}}
	}
	return obj{
		{"ErrorCode", enum(api.ErrorCodes, "Chute's error vocabulary; each code has one HTTP status (see the responses).")},
		{"State", enum(api.States, "pending: created, no part reported; uploading: at least one part reported; completing: a complete is running; completed; aborted; expired: past expires_at before completing; rejected: the profile's verify hook rejected the upload at complete (its object was removed).")},
		{"Strategy", enum(api.Strategies, "single: one presigned PUT (size <= the profile's single_max); multipart: presigned parts and CompleteMultipartUpload.")},
		{"ChecksumAlgorithm", enum(api.ChecksumAlgorithms, "An S3 checksum algorithm. The backend must verify it (else 400 invalid_request naming the ones it can).")},
		{"UploadID", obj{{"type", "string"}, {"pattern", "^upl_[a-z2-7]{26}$"}, {"description", "A session id: upl_ and 26 base32 characters."}}},
		{"Key", obj{{"type", "string"}, {"minLength", 1}, {"description", "The object key, always chosen by Chute from the profile's key template."}}},
		{"PartNumber", obj{{"type", "integer"}, {"minimum", 1}, {"maximum", 10000}}},
		{"Size", obj{{"type", "integer"}, {"format", "int64"}, {"minimum", 0}}},
		{"Metadata", obj{{"type", "object"}, {"additionalProperties", obj{{"type", "string"}}}, {"maxProperties", 32},
			{"description", "User metadata, stored as x-amz-meta-* on the object (at most 32 entries and 2 KiB of keys and values)."}}},
	}
}

// createdVariants splits api.CreateResult by strategy (a oneOf with a
// discriminator): each variant lists the fields it has, and every field of
// the type must be in one of them.
var createdVariants = []struct {
	name, strategy string
	fields         []string
	required       []string // fields required here though omitempty in Go
}{
	{"CreatedSingle", "single", []string{"id", "key", "strategy", "state", "size", "content_type", "expires_at", "upload"},
		[]string{"upload"}},
	{"CreatedMultipart", "multipart", []string{"id", "key", "strategy", "state", "size", "content_type", "part_size", "part_count", "expires_at", "parts"},
		[]string{"part_size", "part_count", "parts"}},
}

// Generate returns the document, indented, with a final newline. srcDir
// is the directory of package api (its doc comments become descriptions).
func Generate(srcDir string) ([]byte, error) {
	d, err := readDocs(srcDir)
	if err != nil {
		return nil, err
	}
	s := &schemas{docs: d, out: map[string]obj{}, names: map[reflect.Type]string{
		reflect.TypeFor[api.PartURLsResult](): "PartURLs",
		reflect.TypeFor[api.CompleteResult](): "Completed",
	}}
	hand, err := orderedObject(handSchemas)
	if err != nil {
		return nil, fmt.Errorf("handSchemas: %w", err)
	}
	params, err := orderedObject(parameters)
	if err != nil {
		return nil, fmt.Errorf("parameters: %w", err)
	}

	// The error body first: every response below refers to it.
	s.component(reflect.TypeFor[api.Error]())
	created, err := s.created()
	if err != nil {
		return nil, err
	}

	paths := obj{}
	for _, o := range append(slices.Clone(operations), tokenVariants()...) {
		item, _ := paths.get(o.path).(obj)
		if item == nil {
			var ps []any
			for _, seg := range strings.Split(o.path, "/") {
				if strings.HasPrefix(seg, "{") {
					name, ok := pathParams[seg]
					if !ok {
						return nil, fmt.Errorf("%s: no parameter for %s", o.path, seg)
					}
					ps = append(ps, paramRef(name))
				}
			}
			if len(ps) > 0 {
				item = obj{{"parameters", ps}}
			} else {
				item = obj{}
			}
		}
		built, err := s.operation(o)
		if err != nil {
			return nil, err
		}
		paths = paths.set(o.path, item.set(o.method, built))
	}
	if s.err != nil {
		return nil, s.err
	}

	all := sharedSchemas()
	for _, name := range s.order {
		all = all.set(name, s.out[name])
	}
	for _, c := range created {
		all = all.set(c.key, c.val)
	}
	for _, m := range hand {
		if all.get(m.key) != nil {
			return nil, fmt.Errorf("schema %s is both generated and written by hand", m.key)
		}
		all = all.set(m.key, m.val)
	}

	responses := obj{}
	for _, r := range errorResponses {
		code := obj{{"const", r.codes[0]}}
		if len(r.codes) > 1 {
			code = obj{{"enum", r.codes}}
		}
		resp := obj{{"description", r.desc}}
		if r.retryAfter != "" {
			resp = resp.set("headers", obj{{"Retry-After", obj{{"description", r.retryAfter},
				{"schema", obj{{"type", "string"}, {"pattern", "^[1-9][0-9]*$"}}}}}})
		}
		schema := obj{{"allOf", []any{ref("Error")}},
			{"properties", obj{{"error", obj{{"properties", obj{{"code", code}}}}}}}}
		responses = responses.set(r.name, resp.set("content", obj{{"application/json", obj{{"schema", schema}}}}))
	}

	doc := obj{
		{"openapi", "3.1.0"},
		{"info", obj{
			{"title", "Chute"}, {"version", "1.0.0"},
			{"summary", "An upload broker: presigned uploads to S3-compatible stores, tracked sessions, checked completion."},
			{"description", "Clients ask Chute for permission to upload; Chute creates the upload on the store and hands back presigned URLs, so the bytes go straight to the store. Every /v1 and /s3 route needs `Authorization: Bearer <token>` unless the server runs with auth.mode none. A session belongs to the subject that created it; any other subject gets 404. Errors are always `{\"error\": {\"code\", \"message\"}}`. A method a documented path does not answer (PATCH /v1/uploads/{id}) gets 405 with code invalid_request and an `Allow` header listing the methods it does answer; an unknown path gets 404 not_found. Generated from the Go types of package api (github.com/chute-dev/chute/api)."},
			{"license", obj{{"name", "Apache-2.0"}, {"identifier", "Apache-2.0"}}},
		}},
		{"tags", []obj{
			{{"name", "uploads"}, {"description", "The native API."}},
			{{"name", "uppy"}, {"description", "Companion's /s3 protocol, as @uppy/aws-s3 v6 (companionEndpoint mode) speaks it; backed by the same sessions and checks as /v1."}},
			{{"name", "operations"}, {"description", "Health, readiness, metrics and this document; no token needed."}},
		}},
		{"paths", paths},
		{"components", obj{
			{"schemas", all},
			{"responses", responses},
			{"parameters", params},
			{"securitySchemes", obj{{"bearer", obj{{"type", "http"}, {"scheme", "bearer"}, {"bearerFormat", "JWT"},
				{"description", "An HS256 JWT with sub (the subject) and exp, or another configured token kind."}}}}},
		}},
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// created builds CreatedSingle, CreatedMultipart and Created (their oneOf)
// from api.CreateResult.
func (s *schemas) created() (obj, error) {
	t := reflect.TypeFor[api.CreateResult]()
	base := s.object(t)
	props := base.get("properties").(obj)
	covered := map[string]bool{}
	out := obj{}
	mapping := obj{}
	var oneOf []any
	for _, v := range createdVariants {
		p := obj{}
		for _, f := range v.fields {
			schema, ok := props.get(f).(obj)
			if !ok {
				return nil, fmt.Errorf("%s lists %s, no field of %s", v.name, f, t)
			}
			covered[f] = true
			switch f {
			case "strategy":
				schema = obj{{"const", v.strategy}}
			case "state":
				schema = obj{{"const", "pending"}}
			}
			p = p.set(f, schema)
		}
		var required []string
		for _, r := range base.get("required").([]string) {
			if slices.Contains(v.fields, r) {
				required = append(required, r)
			}
		}
		required = append(required, v.required...)
		slices.SortStableFunc(required, func(a, b string) int {
			return slices.Index(v.fields, a) - slices.Index(v.fields, b)
		})
		vs := obj{{"type", "object"}, {"required", required}, {"additionalProperties", false}, {"properties", p}}
		if d := s.docs[t.Name()]; d != "" {
			vs = vs.set("description", d)
		}
		out = out.set(v.name, vs)
		mapping = mapping.set(v.strategy, "#/components/schemas/"+v.name)
		oneOf = append(oneOf, ref(v.name))
	}
	for _, m := range props {
		if !covered[m.key] {
			return nil, fmt.Errorf("field %s of %s is in no variant of Created (createdVariants)", m.key, t)
		}
	}
	return out.set("Created", obj{{"oneOf", oneOf}, {"discriminator", obj{{"propertyName", "strategy"}, {"mapping", mapping}}}}), nil
}

// schemaOf is the schema a table entry names.
func (s *schemas) schemaOf(v any) obj {
	switch v := v.(type) {
	case reflect.Type:
		return s.component(v)
	case string:
		return ref(v)
	case obj:
		return v
	}
	s.fail("no schema for %v", v)
	return nil
}

func (s *schemas) operation(o op) (obj, error) {
	jsonOf := func(schema obj, typ string) obj {
		if typ == "" {
			typ = "application/json"
		}
		return obj{{typ, obj{{"schema", schema}}}}
	}
	responses := obj{{strconv.Itoa(o.status), obj{{"description", o.okDesc}, {"content", jsonOf(s.schemaOf(o.ok), o.okType)}}}}
	for _, e := range o.extra {
		responses = responses.set(strconv.Itoa(e.status), obj{{"description", e.desc}, {"content", jsonOf(ref(e.schema), "")}})
	}
	for _, name := range o.errs {
		st, ok := errorStatus[name]
		if !ok {
			return nil, fmt.Errorf("%s %s: unknown error response %s", o.method, o.path, name)
		}
		responses = responses.set(strconv.Itoa(st), obj{{"$ref", "#/components/responses/" + name}})
	}
	out := obj{{"operationId", o.id}, {"summary", o.summary}, {"responses", responses}, {"tags", []string{o.tag}}}
	if o.desc != "" {
		out = out.set("description", o.desc)
	}
	if len(o.query) > 0 {
		out = out.set("parameters", o.query)
	}
	if o.body != nil {
		out = out.set("requestBody", obj{{"required", !o.bodyOptional}, {"content", jsonOf(s.schemaOf(o.body), "")}})
	}
	if !o.public {
		sec := []any{obj{{"bearer", []string{}}}}
		if strings.HasPrefix(o.path, "/t/") {
			sec = []any{}
		}
		out = out.set("security", sec)
	}
	return out, nil
}

// tokenVariants are the /s3 operations again under /t/{token}, for
// clients that cannot send an Authorization header (Uppy).
func tokenVariants() []op {
	var out []op
	for _, o := range operations {
		if !strings.HasPrefix(o.path, "/s3/") {
			continue
		}
		o.path = "/t/{token}" + o.path
		o.id += "WithPathToken"
		o.desc = "The token is the {token} path segment; no Authorization header is needed."
		out = append(out, o)
	}
	return out
}

// orderedObject decodes a JSON object keeping its members' order.
func orderedObject(s string) (obj, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, fmt.Errorf("not a JSON object")
	}
	var out obj
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		out = append(out, member{t.(string), v})
	}
	return out, nil
}
