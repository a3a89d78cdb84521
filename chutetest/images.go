package chutetest

import (
	"regexp"
	"runtime/debug"
	"strings"
)

// The images Run starts, in one place. Each of the three is chosen, first
// match wins, by:
//
//  1. WithImages (or WithLocalImages),
//  2. the environment variable EnvChuteImage, EnvRedisImage or EnvS3Image,
//  3. the default: DefaultChuteImage(), DefaultRedisImage, DefaultS3Image.
//
// The defaults are public images that Docker pulls when they are missing;
// the Local* images are the ones the Chute repository builds for its own CI,
// which has no registry.
const (
	// ChuteImageRepository is where Chute's release images are published,
	// tagged with the release's version as Go writes it ("v1.2.3").
	ChuteImageRepository = "ghcr.io/chute-dev/chute"
	// DefaultRedisImage is the official Redis image (Chute needs Redis 6.2
	// or newer; see docs/webhooks.md).
	DefaultRedisImage = "redis:7-alpine"
	// DefaultS3Image is versitygw, the store Chute's CI tests against.
	DefaultS3Image = "versity/versitygw:v1.8.0"

	// LocalChuteImage is what `make image` builds in the Chute repository.
	LocalChuteImage = "chute:local"
	// LocalRedisImage and LocalS3Image are what `scripts/build-images.sh`
	// builds in the Chute repository (FROM scratch, no registry needed).
	LocalRedisImage = "chute-test/redis:local"
	LocalS3Image    = "chute-test/versitygw:local"

	// EnvChuteImage, EnvRedisImage and EnvS3Image name an image for every
	// Run that WithImages does not override, e.g. a mirror in a private
	// registry (CHUTETEST_REDIS_IMAGE=registry.example.com/redis:7.4.2).
	EnvChuteImage = "CHUTETEST_CHUTE_IMAGE"
	EnvRedisImage = "CHUTETEST_REDIS_IMAGE"
	EnvS3Image    = "CHUTETEST_S3_IMAGE"

	// chuteFallbackTag is the tag of DefaultChuteImage when the build
	// doesn't name a Chute release (see DefaultChuteImage).
	chuteFallbackTag = "latest"
	modulePath       = "github.com/chute-dev/chute"
)

// DefaultChuteImage returns the Chute image matching the Chute module this
// test binary is built with: ChuteImageRepository tagged with the module's
// version when that is a release ("ghcr.io/chute-dev/chute:v1.2.3"). A
// pseudo-version (a commit between releases), a replace directive or a
// build without module information has no published image of its own; then
// the tag is "latest". Pin the version (EnvChuteImage or WithImages) when
// that matters.
func DefaultChuteImage() string {
	bi, ok := debug.ReadBuildInfo()
	return ChuteImageRepository + ":" + chuteTag(bi, ok)
}

// pseudoVersion matches the suffix Go gives pseudo-versions:
// "-20261207183000-0123456789ab" or ".20261207183000-0123456789ab".
var pseudoVersion = regexp.MustCompile(`[-.][0-9]{14}-[0-9a-f]{12}$`)

// chuteTag returns the image tag for the Chute module in bi: its version
// when it is a release, else chuteFallbackTag.
func chuteTag(bi *debug.BuildInfo, ok bool) string {
	if !ok || bi == nil {
		return chuteFallbackTag
	}
	mod := &bi.Main
	if mod.Path != modulePath {
		mod = nil
		for _, d := range bi.Deps {
			if d.Path == modulePath {
				mod = d
				break
			}
		}
	}
	if mod == nil || mod.Replace != nil {
		return chuteFallbackTag
	}
	v := mod.Version
	if !strings.HasPrefix(v, "v") || strings.Contains(v, "+") || pseudoVersion.MatchString(v) {
		return chuteFallbackTag // "(devel)", "", "+dirty", "+incompatible", pseudo-versions
	}
	return v
}

// images are the three images of one Run.
type images struct{ chute, redis, s3 string }

// resolveImages picks each image: the option's when set, else the
// environment's (getenv), else the default.
func resolveImages(opt images, getenv func(string) string) images {
	pick := func(option, env string, def func() string) string {
		if option != "" {
			return option
		}
		if v := strings.TrimSpace(getenv(env)); v != "" {
			return v
		}
		return def()
	}
	return images{
		chute: pick(opt.chute, EnvChuteImage, DefaultChuteImage),
		redis: pick(opt.redis, EnvRedisImage, func() string { return DefaultRedisImage }),
		s3:    pick(opt.s3, EnvS3Image, func() string { return DefaultS3Image }),
	}
}

// WithLocalImages runs the images the Chute repository builds (LocalChuteImage,
// LocalRedisImage, LocalS3Image) instead of the published ones: for Chute's
// own CI and for machines without a registry. They are never pulled; a
// missing one is an error naming the command that builds it.
func WithLocalImages() Option {
	return WithImages(LocalChuteImage, LocalRedisImage, LocalS3Image)
}

// buildHint returns how to build image when it is one of the Chute
// repository's local images, else "".
func buildHint(image string) string {
	switch image {
	case LocalChuteImage:
		return "run `make image` in the Chute repository"
	case LocalRedisImage, LocalS3Image:
		return "run `scripts/build-images.sh` in the Chute repository"
	}
	if strings.HasSuffix(image, ":local") {
		return "it is a local image (tag \"local\"): build it, it can't be pulled"
	}
	return ""
}
