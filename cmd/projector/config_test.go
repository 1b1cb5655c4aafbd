package main

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"
)

// TestLogFormat checks that LOG_FORMAT=json (or -log-format json) makes
// the projector log JSON lines, and that another value is refused.
func TestLogFormat(t *testing.T) {
	env := map[string]string{"NATS_URL": "nats://127.0.0.1:4222", "DATABASE_URL": "sqlite:x.db", "LOG_FORMAT": "json"}
	getenv := func(k string) string { return env[k] }
	for _, name := range []string{"projector", "rebuild"} {
		cfg, err := parseConfig(name, nil, getenv, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		cfg.logger(&out).Error("batch failed", "position", 7)
		var line map[string]any
		if err := json.Unmarshal(out.Bytes(), &line); err != nil || line["msg"] != "batch failed" || line["position"] != 7.0 {
			t.Errorf("%s with LOG_FORMAT=json wrote %q", name, out.String())
		}
	}
	cfg, err := parseConfig("projector", []string{"-log-format", "text"}, getenv, io.Discard)
	if err != nil || cfg.LogFormat != "text" {
		t.Errorf("-log-format text = %q, %v", cfg.LogFormat, err)
	}
	env["LOG_FORMAT"] = "xml"
	if _, err := parseConfig("projector", nil, getenv, io.Discard); err == nil || !strings.Contains(err.Error(), "LOG_FORMAT") {
		t.Errorf("LOG_FORMAT=xml = %v, want an error naming LOG_FORMAT", err)
	}
}

// TestLeaseTimes checks LEASE_DURATION and LEASE_RENEWAL, their flags and
// defaults, and that a renewal no shorter than the lease is refused.
func TestLeaseTimes(t *testing.T) {
	env := map[string]string{"NATS_URL": "nats://127.0.0.1:4222", "DATABASE_URL": "sqlite:x.db"}
	getenv := func(k string) string { return env[k] }
	cfg, err := parseConfig("projector", nil, getenv, io.Discard)
	if err != nil || cfg.LeaseDuration != 3*time.Second || cfg.LeaseRenewal != time.Second {
		t.Fatalf("defaults = %s, %s, %v; want 3s, 1s", cfg.LeaseDuration, cfg.LeaseRenewal, err)
	}
	env["LEASE_DURATION"], env["LEASE_RENEWAL"] = "10s", "2s"
	cfg, err = parseConfig("projector", []string{"-lease-renewal", "4s"}, getenv, io.Discard)
	if err != nil || cfg.LeaseDuration != 10*time.Second || cfg.LeaseRenewal != 4*time.Second {
		t.Errorf("LEASE_DURATION=10s -lease-renewal 4s = %s, %s, %v", cfg.LeaseDuration, cfg.LeaseRenewal, err)
	}
	for _, c := range []struct{ duration, renewal, names string }{
		{"1s", "1s", "LEASE_RENEWAL"},
		{"soon", "1s", "LEASE_DURATION"},
		{"3s", "-1s", "LEASE_RENEWAL"},
	} {
		env["LEASE_DURATION"], env["LEASE_RENEWAL"] = c.duration, c.renewal
		if _, err := parseConfig("projector", nil, getenv, io.Discard); err == nil || !strings.Contains(err.Error(), c.names) {
			t.Errorf("LEASE_DURATION=%s LEASE_RENEWAL=%s: %v, want an error naming %s", c.duration, c.renewal, err, c.names)
		}
	}
}

func TestBatchSizeAndProfile(t *testing.T) {
	env := map[string]string{"NATS_URL": "nats://127.0.0.1:4222", "DATABASE_URL": "sqlite:x.db", "BATCH_SIZE": "500", "CPU_PROFILE": "cpu.pprof"}
	getenv := func(k string) string { return env[k] }
	for _, name := range []string{"projector", "rebuild"} {
		cfg, err := parseConfig(name, nil, getenv, io.Discard)
		if err != nil || cfg.BatchSize != 500 || cfg.CPUProfile != "cpu.pprof" {
			t.Errorf("%s: BATCH_SIZE=500 CPU_PROFILE=cpu.pprof gives %d, %q, %v", name, cfg.BatchSize, cfg.CPUProfile, err)
		}
		cfg, err = parseConfig(name, []string{"-batch-size", "2000", "-cpuprofile", "other.pprof"}, getenv, io.Discard)
		if err != nil || cfg.BatchSize != 2000 || cfg.CPUProfile != "other.pprof" {
			t.Errorf("%s: the flags give %d, %q, %v; want them to win", name, cfg.BatchSize, cfg.CPUProfile, err)
		}
	}
	for _, bad := range []string{"0", "-3", "many"} {
		env["BATCH_SIZE"] = bad
		if _, err := parseConfig("projector", nil, getenv, io.Discard); err == nil || !strings.Contains(err.Error(), "BATCH_SIZE") {
			t.Errorf("BATCH_SIZE=%s: %v, want an error naming BATCH_SIZE", bad, err)
		}
	}
}
