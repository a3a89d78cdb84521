package config

import (
	"strings"
	"testing"
)

// Provider presets: their defaults, explicit values over them, and the
// errors for an unknown provider.
func TestProviderPresetDefaults(t *testing.T) {
	for _, tc := range []struct {
		name, yaml  string
		region      string
		pathStyle   bool
		description string
	}{
		{"generic", "", "us-east-1", false, "no provider: plain S3 defaults"},
		{"r2", "    provider: r2\n", "auto", false, "R2 signs with region auto"},
		{"gcs", "    provider: gcs\n", "auto", false, "GCS XML API"},
		{"minio", "    provider: minio\n", "us-east-1", true, "MinIO answers path style"},
		{"versitygw", "    provider: versitygw\n", "us-east-1", true, "versitygw answers path style"},
		{"minio virtual host", "    provider: minio\n    path_style: false\n", "us-east-1", false, "an explicit false wins over the preset"},
		{"aws path style", "    provider: aws\n    path_style: true\n    region: eu-west-1\n", "eu-west-1", true, "explicit values win"},
		{"r2 explicit region", "    provider: r2\n    region: us-east-1\n", "us-east-1", false, "an explicit region wins"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := mustLoad(t, writeFile(t, minimalYAML+tc.yaml), nil)
			b := c.Backends["main"]
			if b.Region != tc.region || b.PathStyle == nil || *b.PathStyle != tc.pathStyle {
				t.Errorf("%s: region %q path_style %v, want %q %v", tc.description, b.Region, b.PathStyle, tc.region, tc.pathStyle)
			}
		})
	}
}

func TestProviderPresetFromEnv(t *testing.T) {
	c := mustLoad(t, writeFile(t, minimalYAML), []string{"CHUTE_BACKENDS_MAIN_PROVIDER=minio", "CHUTE_BACKENDS_MAIN_PATH_STYLE=false"})
	if b := c.Backends["main"]; b.Provider != "minio" || *b.PathStyle {
		t.Errorf("backend = provider %q path_style %v, want minio false", b.Provider, *b.PathStyle)
	}
	c = mustLoad(t, writeFile(t, minimalYAML), []string{"CHUTE_BACKENDS_MAIN_PROVIDER=seaweedfs"})
	if b := c.Backends["main"]; !*b.PathStyle {
		t.Errorf("seaweedfs from the environment: path_style false, want the preset's true")
	}
}

func TestProviderUnknown(t *testing.T) {
	msg := loadErr(t, writeFile(t, minimalYAML+"    provider: s3\n"), nil)
	if !strings.Contains(msg, `backends.main.provider: "s3" is not a known provider (one of aws, b2, ceph, gcs, generic, minio, r2, seaweedfs, spaces, versitygw, wasabi)`) {
		t.Errorf("error %q does not name the key and the known providers", msg)
	}
}

func TestProviderURLTTLLimit(t *testing.T) {
	// Every preset allows SigV4's 7 days; the general limit names the key.
	msg := loadErr(t, writeFile(t, minimalYAML+"    provider: r2\nprofiles:\n  default:\n    url_ttl: 169h\n"), nil)
	if !strings.Contains(msg, "profiles.default.url_ttl:") {
		t.Errorf("error %q does not name profiles.default.url_ttl", msg)
	}
	mustLoad(t, writeFile(t, minimalYAML+"    provider: r2\nprofiles:\n  default:\n    url_ttl: 168h\n"), nil)
}
