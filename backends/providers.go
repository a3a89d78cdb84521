package backends

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/chute-dev/chute/checksum"
)

// Provider presets. A backend's provider names the store's flavour, so
// that Chute can default what differs between S3-compatible stores and
// refuse a configuration the store is known not to accept. "" is
// ProviderGeneric.
const (
	ProviderAWS       = "aws"
	ProviderMinIO     = "minio"
	ProviderR2        = "r2"
	ProviderGCS       = "gcs"
	ProviderB2        = "b2"
	ProviderWasabi    = "wasabi"
	ProviderSpaces    = "spaces"
	ProviderCeph      = "ceph"
	ProviderSeaweedFS = "seaweedfs"
	ProviderVersityGW = "versitygw"
	ProviderGeneric   = "generic"
)

// Evidence says how well a quirk is known.
type Evidence string

const (
	// Documented means the provider's own documentation says so.
	Documented Evidence = "documented"
	// Reported means users or other projects report it; the provider's
	// documentation does not say it (or not clearly).
	Reported Evidence = "reported"
	// Tested means Chute's CI checks it against the store.
	Tested Evidence = "tested in CI"
)

// Source backs one quirk of a preset.
type Source struct {
	// Claim is what the source says, in a few words.
	Claim    string
	Evidence Evidence
	// URL is where it is said.
	URL string
}

// Preset is what Chute knows about one flavour of S3-compatible store.
// The zero value of each field is the behaviour of AWS S3, except for
// the integrity fields (PartChecksums to ConditionalCopy), whose zero
// value claims nothing: an ability is listed only where the provider
// documents it or Chute's CI measures it.
type Preset struct {
	// Name is the provider key ("r2").
	Name string
	// Title is the store's name for people ("Cloudflare R2").
	Title string
	// Region is the default region when the backend sets none; ""
	// means DefaultRegion.
	Region string
	// PathStyle is the default bucket addressing when the backend does
	// not set path_style: true for http://host/bucket/key, false for
	// http://bucket.host/key.
	PathStyle bool
	// NoPostPolicy means the store does not implement browser POST
	// policy uploads (S3 PostObject): Chute hands out a presigned PUT
	// instead where a client asks for a form.
	NoPostPolicy bool
	// EqualParts means every part of a multipart upload but the last
	// must have one size (the last may be smaller). Chute's part plans
	// always have that shape (multipart.Plan), and the Uppy-compatible
	// complete refuses any other, so this is documentation and a doctor
	// note rather than a switch.
	EqualParts bool
	// MaxPresignTTL is the longest presigned URL lifetime the store
	// accepts; 0 means MaxPresignTTL (7 days, SigV4's limit).
	MaxPresignTTL time.Duration
	// PurgesIncompleteAfter, when not 0, is the age after which the store
	// itself removes incomplete multipart uploads, whatever Chute's
	// session TTL says.
	PurgesIncompleteAfter time.Duration
	// PartChecksums lists the checksum algorithms whose part checksums
	// the store checks against the bytes: a part PUT with a signed
	// x-amz-checksum-* that does not match is refused.
	PartChecksums []checksum.Algorithm
	// FullObjectChecksums lists the algorithms for which the store
	// computes and keeps a FULL_OBJECT checksum of a multipart upload
	// created with that algorithm (and type), and checks one given at
	// complete.
	FullObjectChecksums []checksum.Algorithm
	// ListsPartChecksums: ListParts returns each part's checksum for an
	// upload created with a checksum algorithm.
	ListsPartChecksums bool
	// ConditionalWrites: the store honours If-None-Match: * on PutObject
	// and CompleteMultipartUpload (refuses to replace an object).
	ConditionalWrites bool
	// ConditionalCopy: the store honours If-None-Match: * on CopyObject.
	ConditionalCopy bool
	// Sources back the quirks above.
	Sources []Source
	// Notes are other things worth knowing, for docs and doctor.
	Notes []string
}

// PresignLimit returns the longest presigned URL lifetime the store
// accepts.
func (p Preset) PresignLimit() time.Duration {
	if p.MaxPresignTTL > 0 {
		return p.MaxPresignTTL
	}
	return MaxPresignTTL
}

// PostPolicy reports whether the store accepts POST policy uploads.
func (p Preset) PostPolicy() bool { return !p.NoPostPolicy }

// presets is the table of known stores. Keep docs/providers.md in step.
var presets = map[string]Preset{
	ProviderGeneric: {
		Name: ProviderGeneric, Title: "Generic S3-compatible store",
		Notes: []string{"No assumptions beyond the S3 API: virtual-host addressing unless path_style is set, region us-east-1 unless set."},
	},
	ProviderAWS: {
		Name: ProviderAWS, Title: "Amazon S3",
		PartChecksums:       checksum.All,
		FullObjectChecksums: []checksum.Algorithm{checksum.CRC64NVME, checksum.CRC32C, checksum.CRC32},
		ListsPartChecksums:  true, ConditionalWrites: true, ConditionalCopy: true,
		Sources: []Source{
			{"part checksums in CRC64NVME, CRC32C, CRC32, SHA256, SHA1 are checked; FULL_OBJECT multipart checksums for CRC64NVME, CRC32C, CRC32", Documented, "https://docs.aws.amazon.com/AmazonS3/latest/userguide/checking-object-integrity.html"},
			{"If-None-Match: * on PutObject, CompleteMultipartUpload and CopyObject (412 PreconditionFailed, 409 ConditionalRequestConflict)", Documented, "https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html"},
			{"presigned URLs (SigV4) are valid for at most 7 days", Documented, "https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-presigned-url.html"},
			{"path-style addressing is deprecated; virtual-hosted style is the default", Documented, "https://docs.aws.amazon.com/AmazonS3/latest/userguide/VirtualHosting.html"},
			{"a lifecycle rule AbortIncompleteMultipartUpload removes abandoned uploads", Documented, "https://docs.aws.amazon.com/AmazonS3/latest/userguide/mpu-abort-incomplete-mpu-lifecycle-config.html"},
		},
	},
	ProviderMinIO: {
		Name: ProviderMinIO, Title: "MinIO", PathStyle: true,
		PurgesIncompleteAfter: 24 * time.Hour,
		Sources: []Source{
			{"incomplete multipart uploads are purged after api stale_uploads_expiry (default 24h); AbortIncompleteMultipartUpload lifecycle rules are not supported", Reported, "https://github.com/minio/docs/issues/1216"},
			{"only path-style requests unless MINIO_DOMAIN is set (MINIO_DOMAIN environment doc)", Documented, "https://github.com/minio/minio/pull/5705"},
		},
		Notes: []string{"Chute never builds, runs or ships MinIO server (AGPL); this preset is not tested in CI."},
	},
	ProviderR2: {
		Name: ProviderR2, Title: "Cloudflare R2", Region: "auto",
		NoPostPolicy: true, EqualParts: true,
		PartChecksums:       checksum.All,
		FullObjectChecksums: []checksum.Algorithm{checksum.CRC64NVME},
		ConditionalWrites:   true,
		Sources: []Source{
			{"checksums: CRC64NVME as FULL_OBJECT only; CRC32, CRC32C, SHA1, SHA256 as COMPOSITE only", Documented, "https://developers.cloudflare.com/r2/api/s3/api/"},
			{"If-None-Match on PutObject and CompleteMultipartUpload; CopyObject takes cf-copy-destination-if-none-match instead", Documented, "https://developers.cloudflare.com/r2/api/s3/conditional-operations/"},
			{"all parts except the last must be the same size; the last no larger", Documented, "https://developers.cloudflare.com/r2/objects/multipart-objects/"},
			{"the region is auto (empty and us-east-1 alias to it)", Documented, "https://developers.cloudflare.com/r2/api/s3/api/"},
			{"PostObject (browser POST policy) is not in the implemented operations", Documented, "https://developers.cloudflare.com/r2/api/s3/api/"},
			{"incomplete multipart uploads are aborted after 7 days by default", Documented, "https://developers.cloudflare.com/r2/objects/multipart-objects/"},
			{"CORS rules with ExposeHeaders per bucket", Documented, "https://developers.cloudflare.com/r2/buckets/cors/"},
			{"\"*\" is not accepted as an allowed CORS header: name the headers", Reported, "https://zenn.dev/thecreator/articles/d278c7e6ff33e6"},
		},
	},
	ProviderGCS: {
		Name: ProviderGCS, Title: "Google Cloud Storage (XML API)", Region: "auto",
		Sources: []Source{
			{"XML API multipart uploads are compatible with S3 multipart uploads", Documented, "https://cloud.google.com/storage/docs/multipart-uploads"},
			{"incomplete multipart uploads never expire by themselves; use Object Lifecycle Management (AbortIncompleteMultipartUpload)", Documented, "https://cloud.google.com/storage/docs/multipart-uploads"},
			{"HTML form POST uploads with a policy document", Documented, "https://cloud.google.com/storage/docs/xml-api/post-object-forms"},
			{"V4 signed URLs are valid for at most 7 days", Documented, "https://cloud.google.com/storage/docs/access-control/signed-urls"},
		},
		Notes: []string{
			"Use HMAC keys (interoperability) as access_key/secret_key and endpoint https://storage.googleapis.com.",
			"CORS and lifecycle are set with gcloud (the XML API's bucket CORS call is not S3's); chute doctor may report them as unsupported.",
		},
	},
	ProviderB2: {
		Name: ProviderB2, Title: "Backblaze B2", NoPostPolicy: true,
		Sources: []Source{
			{"presigned URLs for download and upload are supported", Documented, "https://www.backblaze.com/docs/cloud-storage-s3-compatible-api"},
			{"PostObject (browser POST policy) is not among the supported calls and answers 501", Reported, "https://github.com/transloadit/uppy/issues/5052"},
			{"both virtual-host and path-style URLs are accepted", Documented, "https://www.backblaze.com/docs/cloud-storage-call-the-s3-compatible-api"},
		},
		Notes: []string{"The region is the one in the bucket's endpoint (s3.<region>.backblazeb2.com), e.g. us-west-004: set it."},
	},
	ProviderWasabi: {
		Name: ProviderWasabi, Title: "Wasabi",
		Sources: []Source{
			{"presigned URLs are valid for up to 7 days", Documented, "https://docs.wasabi.com/docs/how-do-i-generate-pre-signed-urls-for-temporary-access-with-wasabi"},
			{"CORS and lifecycle policies on buckets", Documented, "https://docs.wasabi.com/docs/operations-on-buckets"},
		},
	},
	ProviderSpaces: {
		Name: ProviderSpaces, Title: "DigitalOcean Spaces",
		Sources: []Source{
			{"multipart uploads and presigned URLs (SigV2 and SigV4) are supported", Documented, "https://docs.digitalocean.com/products/spaces/reference/s3-compatibility/"},
			{"lifecycle supports expiration and removing incomplete multipart uploads", Documented, "https://docs.digitalocean.com/products/spaces/reference/s3-compatibility/"},
			{"an unknown upload id is answered with NoSuchKey rather than NoSuchUpload", Reported, "https://github.com/tus/tusd/blob/main/pkg/s3store/s3store.go"},
		},
		Notes: []string{"The region is the datacenter (nyc3, fra1, ...) of endpoint https://<region>.digitaloceanspaces.com: set it."},
	},
	ProviderCeph: {
		Name: ProviderCeph, Title: "Ceph Object Gateway (RGW)", PathStyle: true,
		Sources: []Source{
			{"S3 API support, including POST object, CORS and lifecycle, per feature table", Documented, "https://docs.ceph.com/en/latest/radosgw/s3/"},
		},
		Notes: []string{"Virtual-host addressing needs rgw_dns_name; path style is the safe default."},
	},
	ProviderSeaweedFS: {
		Name: ProviderSeaweedFS, Title: "SeaweedFS S3 gateway", PathStyle: true,
		PartChecksums:       checksum.All,
		FullObjectChecksums: []checksum.Algorithm{checksum.CRC64NVME, checksum.CRC32C, checksum.CRC32},
		ConditionalWrites:   true, ConditionalCopy: true,
		Sources: []Source{
			{"(build 20261109) part checksums in all five algorithms are checked (BadDigest) but ListParts lists none, so a COMPOSITE complete must send the signed ones; FULL_OBJECT kept and checked for CRC64NVME, CRC32C, CRC32; If-None-Match honoured on PutObject, CompleteMultipartUpload and CopyObject (backends/storetest integrity checks)", Tested, "https://github.com/seaweedfs/seaweedfs"},
			{"presigned PUT/GET, multipart with ListParts, signed Content-Length and CORS with ETag exposed pass Chute's 30 store checks", Reported, "https://github.com/seaweedfs/seaweedfs/wiki/Amazon-S3-API"},
		},
		Notes: []string{"Start it with -s3.config holding an identity, or it checks no signatures at all."},
	},
	ProviderVersityGW: {
		Name: ProviderVersityGW, Title: "Versity S3 Gateway", PathStyle: true,
		PartChecksums:       checksum.All,
		FullObjectChecksums: []checksum.Algorithm{checksum.CRC64NVME, checksum.CRC32C, checksum.CRC32},
		ListsPartChecksums:  true, ConditionalWrites: true,
		Sources: []Source{
			{"v1.8.0 (posix backend): part checksums in all five algorithms are checked and listed, FULL_OBJECT kept and checked for CRC64NVME, CRC32C, CRC32, If-None-Match honoured on PutObject and CompleteMultipartUpload but ignored on CopyObject (backends/storetest integrity checks)", Tested, "https://github.com/versity/versitygw"},
			{"presigned PUT/GET, multipart, signed Content-Length and checksums, PutBucketCors, POST policy uploads (test/uppy_routes_test.go)", Tested, "https://github.com/versity/versitygw"},
		},
		Notes: []string{"Chute's CI runs every integration test against versitygw; `chute dev` embeds it."},
	},
}

// Providers returns the known provider names, sorted, "generic" included.
func Providers() []string {
	names := make([]string, 0, len(presets))
	for n := range presets {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// LookupPreset returns the preset named name ("" is generic). An unknown
// name gives an error that lists the known ones.
func LookupPreset(name string) (Preset, error) {
	if name == "" {
		name = ProviderGeneric
	}
	p, ok := presets[name]
	if !ok {
		return Preset{}, fmt.Errorf("%q is not a known provider (one of %s)", name, strings.Join(Providers(), ", "))
	}
	return p, nil
}

// Defaults returns the region and path style a backend of this preset
// gets: region and pathStyle when set (pathStyle nil means not set),
// else the preset's defaults.
func (p Preset) Defaults(region string, pathStyle *bool) (string, bool) {
	if region == "" {
		region = p.Region
		if region == "" {
			region = DefaultRegion
		}
	}
	ps := p.PathStyle
	if pathStyle != nil {
		ps = *pathStyle
	}
	return region, ps
}

// Preset returns the adapter's provider preset.
func (s *S3) Preset() Preset { return s.preset }

// PostPolicy reports whether the store takes POST policy uploads (see
// Preset.NoPostPolicy); the broker answers a presigned PUT instead when
// it does not.
func (s *S3) PostPolicy() bool { return s.preset.PostPolicy() }

// Client returns the minio-go client the adapter calls the store with,
// for diagnostics (chute doctor) that need calls the adapter does not
// make, such as GetBucketCors. Translate its errors with Translate.
func (s *S3) Client() *minio.Client { return s.core.Client }
