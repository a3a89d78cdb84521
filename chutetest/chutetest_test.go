package chutetest

import (
	"strings"
	"testing"
	"time"

	"github.com/chute-dev/chute/config"
)

// TestChuteEnvLoads checks that the environment Run gives the Chute
// container is a configuration Chute itself accepts, with every option
// landing on the key it is meant for.
func TestChuteEnvLoads(t *testing.T) {
	s := newSettings([]Option{
		WithJWTSecret("0123456789abcdef0123456789abcdef-test"),
		WithBucket("app-uploads"),
		WithProfile("images", Profile{
			MaxSize: "10MiB", PartSize: "5MiB", SingleMax: "5MiB",
			AllowedTypes: []string{"image/png", "image/*"}, URLTTL: "5m",
			KeyTemplate: "{subject}/{id}{ext}",
		}),
		WithProfile("plain", Profile{}),
		WithEnv(map[string]string{"CHUTE_LOG_LEVEL": "debug", "CHUTE_LOG_FORMAT": "text"}),
	})
	s3 := S3{Endpoint: "http://127.0.0.1:45678", Region: Region, Bucket: s.bucket,
		AccessKey: "AKTESTTESTTESTTEST12", SecretKey: "secret-key-for-the-test"}
	var environ []string
	for k, v := range chuteEnv(&s, s3) {
		environ = append(environ, k+"="+v)
	}
	cfg, err := config.Load("", environ)
	if err != nil {
		t.Fatalf("Chute refuses the container's environment: %v", err)
	}

	if cfg.Server.Listen != "0.0.0.0:8080" {
		t.Errorf("server.listen = %q", cfg.Server.Listen)
	}
	if cfg.Sessions.RedisURL != "redis://redis:6379/0" {
		t.Errorf("sessions.redis_url = %q", cfg.Sessions.RedisURL)
	}
	if cfg.Auth.Mode != config.AuthJWT || cfg.Auth.JWT.Secret != s.secret {
		t.Errorf("auth = %q with secret %q, want jwt with the option's secret", cfg.Auth.Mode, cfg.Auth.JWT.Secret)
	}
	b, ok := cfg.Backends["main"]
	if !ok {
		t.Fatalf("no backend main in %v", cfg.Backends)
	}
	if b.Endpoint != "http://s3:7070" || b.PublicEndpoint != s3.Endpoint || b.Bucket != "app-uploads" ||
		b.AccessKey != s3.AccessKey || b.SecretKey != s3.SecretKey || b.Region != Region || b.PathStyle == nil || !*b.PathStyle {
		t.Errorf("backend main = %+v", b)
	}
	img, ok := cfg.Profiles["images"]
	if !ok {
		t.Fatalf("no profile images in %v", cfg.Profiles)
	}
	if img.MaxSize != 10<<20 || img.PartSize != 5<<20 || img.SingleMax != 5<<20 ||
		strings.Join(img.AllowedTypes, ",") != "image/png,image/*" ||
		time.Duration(img.URLTTL) != 5*time.Minute || img.KeyTemplate != "{subject}/{id}{ext}" ||
		img.Backend != "main" {
		t.Errorf("profile images = %+v", img)
	}
	if _, ok := cfg.Profiles["plain"]; !ok {
		t.Error("a profile with every field empty was not created")
	}
	if _, ok := cfg.Profiles[config.DefaultProfile]; !ok {
		t.Error("the default profile is gone")
	}
	// WithEnv comes last and wins.
	if cfg.Log.Level != "debug" || cfg.Log.Format != "text" {
		t.Errorf("log = %+v, want WithEnv's debug/text", cfg.Log)
	}
}

func TestDefaults(t *testing.T) {
	a, b := newSettings(nil), newSettings(nil)
	if a.images != (images{}) || a.bucket != DefaultBucket {
		t.Errorf("defaults = %+v", a)
	}
	if len(a.secret) < 32 || a.secret == b.secret {
		t.Errorf("random JWT secrets %q and %q: want 32+ bytes, different per Run", a.secret, b.secret)
	}
}
