package config

import (
	"strings"
	"testing"
)

func TestQuotasFromYAMLAndEnv(t *testing.T) {
	path := writeFile(t, `
quotas:
  daily_bytes: 10GiB
profiles:
  default:
    quotas:
      open_bytes: 1GiB
  video:
    max_size: 2GiB
`)
	c := mustLoad(t, path, []string{"CHUTE_BACKENDS_MAIN_ENDPOINT=http://127.0.0.1:7070", "CHUTE_BACKENDS_MAIN_BUCKET=uploads",
		"CHUTE_BACKENDS_MAIN_ACCESS_KEY=k", "CHUTE_BACKENDS_MAIN_SECRET_KEY=s",
		"CHUTE_QUOTAS_OPEN_BYTES=3GiB", "CHUTE_PROFILES_VIDEO_QUOTAS_DAILY_BYTES=500MiB"})
	if c.Quotas != (Quota{DailyBytes: 10 << 30, OpenBytes: 3 << 30}) || !c.Quotas.On() {
		t.Errorf("quotas %+v", c.Quotas)
	}
	if q := c.Profiles["default"].Quotas; q != (Quota{OpenBytes: 1 << 30}) {
		t.Errorf("profiles.default.quotas %+v", q)
	}
	if q := c.Profiles["video"].Quotas; q != (Quota{DailyBytes: 500 << 20}) {
		t.Errorf("profiles.video.quotas %+v", q)
	}
	if (Quota{}).On() {
		t.Error("a zero quota is on")
	}
}

func TestQuotasValidated(t *testing.T) {
	c := valid()
	c.Quotas.OpenBytes = -1
	p := c.Profiles["default"]
	p.Quotas.DailyBytes = -5
	c.Profiles["default"] = p
	err := c.Validate()
	if err == nil {
		t.Fatal("negative quotas validated")
	}
	msg := err.Error()
	for _, want := range []string{"quotas.open_bytes: must not be negative", "profiles.default.quotas.daily_bytes: must not be negative"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
	if msg := loadErr(t, writeFile(t, "quotas:\n  daily: 1GiB\n"), nil); !strings.Contains(msg, "quotas.daily") {
		t.Errorf("unknown key: %q", msg)
	}
}
