package main

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"
)

// TestLogFormat checks LOG_FORMAT and -log-format: JSON lines a log
// collector can parse, text by default, and a clear error otherwise.
func TestLogFormat(t *testing.T) {
	for _, tt := range []struct {
		env, flag, want string
	}{
		{"", "", "text"}, {"json", "", "json"}, {"json", "text", "text"}, {"", "json", "json"},
	} {
		var args []string
		if tt.flag != "" {
			args = []string{"-log-format", tt.flag}
		}
		cfg, err := parseConfig(args, func(k string) string { return map[string]string{"LOG_FORMAT": tt.env}[k] }, io.Discard)
		if err != nil || cfg.LogFormat != tt.want {
			t.Errorf("LOG_FORMAT=%q -log-format=%q: %q, %v; want %q", tt.env, tt.flag, cfg.LogFormat, err, tt.want)
		}
		var out bytes.Buffer
		newLogger(cfg.LogFormat, &out).Info("request failed", "path", "/v1/x")
		var line map[string]any
		isJSON := json.Unmarshal(out.Bytes(), &line) == nil
		if isJSON != (tt.want == "json") || !strings.Contains(out.String(), "request failed") {
			t.Errorf("LOG_FORMAT %s wrote %q", tt.want, out.String())
		}
		if isJSON && (line["msg"] != "request failed" || line["path"] != "/v1/x" || line["level"] != "INFO") {
			t.Errorf("JSON line %v lacks its message, level or attribute", line)
		}
	}
	_, err := parseConfig(nil, func(k string) string { return map[string]string{"LOG_FORMAT": "xml"}[k] }, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "LOG_FORMAT") {
		t.Errorf("LOG_FORMAT=xml = %v, want an error naming LOG_FORMAT", err)
	}
}
