package chutetest

import (
	"runtime/debug"
	"strings"
	"testing"
)

// TestResolveImages checks the order: WithImages, then the environment,
// then the defaults, each image on its own.
func TestResolveImages(t *testing.T) {
	env := func(vars map[string]string) func(string) string {
		return func(k string) string { return vars[k] }
	}
	none := env(nil)
	all := env(map[string]string{
		EnvChuteImage: "mirror.example.com/chute:v1.2.3",
		EnvRedisImage: " mirror.example.com/redis:7.4.2 ", // spaces trimmed
		EnvS3Image:    "mirror.example.com/versitygw:v1.8.0",
	})
	tests := []struct {
		name string
		opts []Option
		env  func(string) string
		want images
	}{
		{"defaults", nil, none, images{DefaultChuteImage(), DefaultRedisImage, DefaultS3Image}},
		{"environment over defaults", nil, all,
			images{"mirror.example.com/chute:v1.2.3", "mirror.example.com/redis:7.4.2", "mirror.example.com/versitygw:v1.8.0"}},
		{"one variable, the others default", nil, env(map[string]string{EnvS3Image: "my/s3:1"}),
			images{DefaultChuteImage(), DefaultRedisImage, "my/s3:1"}},
		{"empty variable is unset", nil, env(map[string]string{EnvRedisImage: "  "}),
			images{DefaultChuteImage(), DefaultRedisImage, DefaultS3Image}},
		{"option over environment", []Option{WithImages("opt/chute:2", "", "")}, all,
			images{"opt/chute:2", "mirror.example.com/redis:7.4.2", "mirror.example.com/versitygw:v1.8.0"}},
		{"local images over environment", []Option{WithLocalImages()}, all,
			images{LocalChuteImage, LocalRedisImage, LocalS3Image}},
		{"later option wins", []Option{WithLocalImages(), WithImages("", "other/redis:7", "")}, none,
			images{LocalChuteImage, "other/redis:7", LocalS3Image}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newSettings(tc.opts)
			if got := resolveImages(s.images, tc.env); got != tc.want {
				t.Errorf("images = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestDefaultImagesArePublic(t *testing.T) {
	for _, img := range []string{DefaultChuteImage(), DefaultRedisImage, DefaultS3Image} {
		if buildHint(img) != "" || strings.HasSuffix(img, ":local") {
			t.Errorf("default image %s is a local one", img)
		}
	}
	if !strings.HasPrefix(DefaultChuteImage(), ChuteImageRepository+":") {
		t.Errorf("DefaultChuteImage() = %s, want %s:<tag>", DefaultChuteImage(), ChuteImageRepository)
	}
	for _, img := range []string{LocalChuteImage, LocalRedisImage, LocalS3Image, "mine/x:local"} {
		if buildHint(img) == "" {
			t.Errorf("%s: no build hint, so a missing one would be pulled", img)
		}
	}
}

// TestChuteTag checks which Chute version names the image tag.
func TestChuteTag(t *testing.T) {
	dep := func(v string) *debug.BuildInfo {
		return &debug.BuildInfo{
			Main: debug.Module{Path: "example.com/app", Version: "(devel)"},
			Deps: []*debug.Module{{Path: "github.com/other/x", Version: "v9.9.9"}, {Path: modulePath, Version: v}},
		}
	}
	replaced := dep("v1.2.3")
	replaced.Deps[1].Replace = &debug.Module{Path: "../chute", Version: ""}
	tests := []struct {
		name string
		bi   *debug.BuildInfo
		ok   bool
		want string
	}{
		{"release", dep("v1.2.3"), true, "v1.2.3"},
		{"pre-release", dep("v1.3.0-rc.1"), true, "v1.3.0-rc.1"},
		{"pseudo-version", dep("v0.0.0-20261207183000-0123456789ab"), true, "latest"},
		{"pseudo-version after a tag", dep("v1.2.4-0.20261207183000-0123456789ab"), true, "latest"},
		{"replaced", replaced, true, "latest"},
		{"not a dependency", &debug.BuildInfo{Main: debug.Module{Path: "example.com/app"}}, true, "latest"},
		{"no build info", nil, false, "latest"},
		{"chute itself, a checkout", &debug.BuildInfo{Main: debug.Module{Path: modulePath, Version: "(devel)"}}, true, "latest"},
		{"chute itself, dirty", &debug.BuildInfo{Main: debug.Module{Path: modulePath, Version: "v1.2.3+dirty"}}, true, "latest"},
		{"chute itself, installed", &debug.BuildInfo{Main: debug.Module{Path: modulePath, Version: "v1.2.3"}}, true, "v1.2.3"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := chuteTag(tc.bi, tc.ok); got != tc.want {
				t.Errorf("chuteTag = %q, want %q", got, tc.want)
			}
		})
	}
}
