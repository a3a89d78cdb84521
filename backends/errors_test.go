package backends

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
)

// Provider-specific error codes, translated at the adapter's edge into the
// package's errors.
func TestTranslateProviderCodes(t *testing.T) {
	kinds := []error{ErrNotFound, ErrInvalidPart, ErrAccessDenied, ErrUnavailable, ErrNotSupported}
	for _, tc := range []struct {
		provider string
		resp     minio.ErrorResponse
		kind     error
	}{
		{"spaces: NoSuchKey for a missing upload id", minio.ErrorResponse{Code: "NoSuchKey", StatusCode: 404}, ErrNotFound},
		{"aws: NoSuchUpload", minio.ErrorResponse{Code: "NoSuchUpload", StatusCode: 404}, ErrNotFound},
		{"r2: unequal parts", minio.ErrorResponse{Code: "InvalidPart", StatusCode: 400, Message: "All non-trailing parts must have the same length."}, ErrInvalidPart},
		{"minio: invalid part", minio.ErrorResponse{Code: "XMinioInvalidPart", StatusCode: 400}, ErrInvalidPart},
		{"aws: part too large", minio.ErrorResponse{Code: "EntityTooLarge", StatusCode: 400}, ErrInvalidPart},
		{"aws: wrong region", minio.ErrorResponse{Code: "AuthorizationHeaderMalformed", StatusCode: 400}, ErrAccessDenied},
		{"any: clock skew", minio.ErrorResponse{Code: "RequestTimeTooSkewed", StatusCode: 403}, ErrAccessDenied},
		{"gcs: missing security header", minio.ErrorResponse{Code: "MissingSecurityHeader", StatusCode: 400}, ErrAccessDenied},
		{"b2: unauthorized", minio.ErrorResponse{Code: "Unauthorized", StatusCode: 401}, ErrAccessDenied},
		{"r2: too many requests", minio.ErrorResponse{Code: "TooManyRequests", StatusCode: 429}, ErrUnavailable},
		{"minio: not initialized", minio.ErrorResponse{Code: "XMinioServerNotInitialized", StatusCode: 503}, ErrUnavailable},
		{"versitygw: CORS not implemented", minio.ErrorResponse{Code: "NotImplemented", StatusCode: 501}, ErrNotSupported},
		{"b2: POST object", minio.ErrorResponse{StatusCode: 501}, ErrNotSupported},
		{"any: method not allowed", minio.ErrorResponse{Code: "MethodNotAllowed", StatusCode: 405}, ErrNotSupported},
		{"aws: no lifecycle", minio.ErrorResponse{Code: "NoSuchLifecycleConfiguration", StatusCode: 404}, ErrNotFound},
		{"aws: no CORS", minio.ErrorResponse{Code: "NoSuchCORSConfiguration", StatusCode: 404}, ErrNotFound},
		{"unknown code, 400", minio.ErrorResponse{Code: "WeirdThing", StatusCode: 400}, nil},
	} {
		t.Run(tc.provider, func(t *testing.T) {
			got := translate(tc.resp)
			for _, k := range kinds {
				if want := k == tc.kind; errors.Is(got, k) != want {
					t.Errorf("errors.Is(%q, %v) = %v, want %v", got, k, !want, want)
				}
			}
			if tc.resp.Code != "" && !strings.Contains(got.Error(), tc.resp.Code) {
				t.Errorf("message %q does not name the store's code %s", got, tc.resp.Code)
			}
		})
	}
}

func TestTranslateExported(t *testing.T) {
	err := Translate("get bucket cors", minio.ErrorResponse{Code: "AccessDenied", StatusCode: 403, Message: "key AKIDSECRET refused"}, "AKIDSECRET")
	if !errors.Is(err, ErrAccessDenied) || strings.Contains(err.Error(), "AKIDSECRET") || !strings.HasPrefix(err.Error(), "backends: get bucket cors: access denied:") {
		t.Errorf("Translate = %q", err)
	}
	if Translate("x", nil) != nil {
		t.Error("Translate(nil) != nil")
	}
}

func TestPresets(t *testing.T) {
	names := Providers()
	if len(names) != 11 {
		t.Fatalf("Providers() = %v, want 11 presets", names)
	}
	for _, n := range names {
		p, err := LookupPreset(n)
		if err != nil || p.Name != n || p.Title == "" {
			t.Errorf("LookupPreset(%q) = %+v, %v", n, p, err)
		}
		if n != ProviderGeneric && len(p.Sources) == 0 {
			t.Errorf("preset %s has no source", n)
		}
		for _, s := range p.Sources {
			if !strings.HasPrefix(s.URL, "https://") || s.Claim == "" || (s.Evidence != Documented && s.Evidence != Reported && s.Evidence != Tested) {
				t.Errorf("preset %s: source %+v", n, s)
			}
		}
		if p.PresignLimit() <= 0 || p.PresignLimit() > MaxPresignTTL {
			t.Errorf("preset %s: presign limit %v", n, p.PresignLimit())
		}
	}
	if g, _ := LookupPreset(""); g.Name != ProviderGeneric {
		t.Errorf(`LookupPreset("") = %q, want generic`, g.Name)
	}
	if _, err := LookupPreset("s3"); err == nil || !strings.Contains(err.Error(), "aws, b2") {
		t.Errorf("LookupPreset(s3) error %v", err)
	}
	r2, _ := LookupPreset(ProviderR2)
	if r2.PostPolicy() || !r2.EqualParts {
		t.Error("r2: want no POST policy and equal parts")
	}
	if region, ps := r2.Defaults("", nil); region != "auto" || ps {
		t.Errorf("r2 defaults %q %v", region, ps)
	}
	minioP, _ := LookupPreset(ProviderMinIO)
	if region, ps := minioP.Defaults("eu-1", new(false)); region != "eu-1" || ps {
		t.Errorf("explicit values lost: %q %v", region, ps)
	}
	if region, ps := minioP.Defaults("", nil); region != DefaultRegion || !ps {
		t.Errorf("minio defaults %q %v", region, ps)
	}
}

func TestNewS3Provider(t *testing.T) {
	cfg := Config{Endpoint: "http://127.0.0.1:1", Bucket: "uploads", AccessKey: "ak", SecretKey: "sk", Provider: "b2"}
	s, err := NewS3(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if s.PostPolicy() || s.Preset().Name != ProviderB2 {
		t.Errorf("b2 adapter: PostPolicy %v, preset %q", s.PostPolicy(), s.Preset().Name)
	}
	cfg.Provider = "nope"
	if _, err := NewS3(cfg); err == nil || !strings.Contains(err.Error(), "provider") {
		t.Errorf("unknown provider: %v", err)
	}
}

// docs/providers.md follows the preset table: every preset and every
// source URL appear in it.
func TestPresetsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/providers.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range Providers() {
		p, _ := LookupPreset(n)
		if !strings.Contains(string(doc), "`"+n+"`") {
			t.Errorf("docs/providers.md does not mention provider %s", n)
		}
		for _, s := range p.Sources {
			if !strings.Contains(string(doc), s.URL) {
				t.Errorf("docs/providers.md lacks the source %s of %s", s.URL, n)
			}
		}
	}
}
