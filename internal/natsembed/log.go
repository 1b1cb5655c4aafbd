package natsembed

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
)

// maxWarnings bounds the warnings kept for Start's error message; a damaged
// store can make the server warn once per file.
const maxWarnings = 8

// logger adapts nats-server's Logger to slog, and remembers the fatal
// error and the first warnings so that Start can report them: with no
// logger of its own nats-server would drop them, and with its default one
// a fatal error would exit the process.
type logger struct {
	slog *slog.Logger

	mu       sync.Mutex
	fatalMsg string
	warns    []string
}

func (l *logger) fatal() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.fatalMsg
}

func (l *logger) warnings() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.warns...)
}

func (l *logger) log(level slog.Level, format string, v []any) string {
	msg := fmt.Sprintf(format, v...)
	if l.slog != nil {
		l.slog.Log(context.Background(), level, msg, "component", "nats-server")
	}
	return msg
}

func (l *logger) Noticef(format string, v ...any) { l.log(slog.LevelInfo, format, v) }
func (l *logger) Debugf(format string, v ...any)  { l.log(slog.LevelDebug, format, v) }
func (l *logger) Tracef(format string, v ...any)  { l.log(slog.LevelDebug-4, format, v) }
func (l *logger) Errorf(format string, v ...any)  { l.log(slog.LevelError, format, v) }

func (l *logger) Warnf(format string, v ...any) {
	msg := l.log(slog.LevelWarn, format, v)
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.warns) < maxWarnings {
		l.warns = append(l.warns, strings.TrimSpace(msg))
	}
}

// Fatalf records the error instead of exiting: an embedding process decides
// what a failed server means for it.
func (l *logger) Fatalf(format string, v ...any) {
	msg := l.log(slog.LevelError, format, v)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fatalMsg == "" {
		l.fatalMsg = msg
	}
}
