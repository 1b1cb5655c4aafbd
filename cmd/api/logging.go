package main

import (
	"io"
	"log/slog"

	"github.com/failforward/failforward/internal/telemetry"
)

// newLogger returns the api's logger: text lines by default, JSON lines
// with LOG_FORMAT=json, for log collectors that parse them. A line logged
// with a request's context carries the request's id and trace.
func newLogger(format string, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	if format == "json" {
		return slog.New(telemetry.LogHandler(slog.NewJSONHandler(w, opts)))
	}
	return slog.New(telemetry.LogHandler(slog.NewTextHandler(w, opts)))
}
