package config

import (
	"strings"
	"testing"
	"time"
)

func TestJanitorAndRetention(t *testing.T) {
	d := Default()
	if !d.Janitor.Enabled || d.Janitor.Interval != Duration(time.Minute) || d.Janitor.Batch != 100 {
		t.Errorf("default janitor = %+v, want enabled, 1m, 100", d.Janitor)
	}
	if d.Sessions.Retention != Duration(24*time.Hour) {
		t.Errorf("default sessions.retention = %v, want 24h", d.Sessions.Retention)
	}
	backend := []string{"CHUTE_BACKENDS_MAIN_ENDPOINT=http://127.0.0.1:9000", "CHUTE_BACKENDS_MAIN_BUCKET=uploads",
		"CHUTE_BACKENDS_MAIN_ACCESS_KEY=k", "CHUTE_BACKENDS_MAIN_SECRET_KEY=s"}
	c, err := Load("", append(backend, "CHUTE_JANITOR_ENABLED=false", "CHUTE_JANITOR_INTERVAL=500ms", "CHUTE_JANITOR_BATCH=7", "CHUTE_SESSIONS_RETENTION=1h"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Janitor.Enabled || c.Janitor.Interval != Duration(500*time.Millisecond) || c.Janitor.Batch != 7 || c.Sessions.Retention != Duration(time.Hour) {
		t.Errorf("from the environment: janitor %+v, retention %v", c.Janitor, c.Sessions.Retention)
	}
	for env, want := range map[string]string{
		"CHUTE_JANITOR_INTERVAL=0s":    "janitor.interval",
		"CHUTE_JANITOR_BATCH=0":        "janitor.batch",
		"CHUTE_SESSIONS_RETENTION=-1s": "sessions.retention",
	} {
		if _, err := Load("", append(backend, env)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err %v, want one naming %s", env, err, want)
		}
	}
}
