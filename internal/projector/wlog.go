package projector

import (
	"context"
	"log/slog"

	"github.com/ThreeDotsLabs/watermill"
)

// newWatermillLogger adapts log to Watermill's logger. Watermill's router
// logs every start and stop at info; they are routine here, since a
// session restarts after each failed batch, so they go to debug.
func newWatermillLogger(log *slog.Logger) watermill.LoggerAdapter {
	return quietLogger{
		LoggerAdapter: watermill.NewSlogLoggerWithLevelMapping(log, map[slog.Level]slog.Level{slog.LevelInfo: slog.LevelDebug}),
		log:           log,
	}
}

// quietLogger drops Watermill's trace and debug lines before they are
// built when log would drop them anyway. The router writes some for every
// message, and building each one's attributes cost the replay of a long
// stream a few percent of the projector's time.
type quietLogger struct {
	watermill.LoggerAdapter
	log *slog.Logger
}

func (l quietLogger) Debug(msg string, fields watermill.LogFields) {
	if l.log.Enabled(context.Background(), slog.LevelDebug) {
		l.LoggerAdapter.Debug(msg, fields)
	}
}

func (l quietLogger) Trace(msg string, fields watermill.LogFields) {
	if l.log.Enabled(context.Background(), watermill.LevelTrace) {
		l.LoggerAdapter.Trace(msg, fields)
	}
}

// With keeps log as it is: the fields do not change what it drops.
func (l quietLogger) With(fields watermill.LogFields) watermill.LoggerAdapter {
	return quietLogger{LoggerAdapter: l.LoggerAdapter.With(fields), log: l.log}
}
