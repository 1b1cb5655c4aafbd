package main

import (
	"io"
	"log/slog"
)

// newLogger returns the api's logger: text lines by default, JSON lines
// with LOG_FORMAT=json, for log collectors that parse them.
func newLogger(format string, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
