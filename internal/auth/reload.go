package auth

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// WatchInterval is how often Watch looks at the AUTH_FILE: a revoked token
// stops working within about this long.
const WatchInterval = time.Second

// Reload reads the AUTH_FILE at path again and, when it parses and every
// entry is valid, swaps its entries in. On any error the tokens in use
// stay as they were: a half-edited file must not lock everyone out, nor
// let anyone in.
func (t *Tokens) Reload(path string) error {
	tab, err := loadTable(path)
	if err != nil {
		return err
	}
	t.table.Store(tab)
	return nil
}

// Len returns how many tokens are in use.
func (t *Tokens) Len() int {
	return len(t.table.Load().entries)
}

// fileStamp is what Watch compares to notice a changed file without
// reading it: an editor's save, a rename over it (as AddToFile does) or a
// truncation all change one of them.
type fileStamp struct {
	modTime time.Time
	size    int64
	found   bool
}

func stampOf(path string) fileStamp {
	info, err := os.Stat(path)
	if err != nil {
		return fileStamp{}
	}
	return fileStamp{modTime: info.ModTime(), size: info.Size(), found: true}
}

// Watch reloads the AUTH_FILE at path whenever its modification time or
// size changes, looking every WatchInterval, and whenever the process
// receives SIGHUP, until ctx ends. Polling needs no file-system
// notification support, and sees a file replaced by a rename just the
// same. Each reload, and each file that could not be used (so the old
// tokens stay), is logged.
func (t *Tokens) Watch(ctx context.Context, path string, log *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	t.watch(ctx, path, log, hup, WatchInterval)
}

// watch is Watch with its signal channel and interval given.
func (t *Tokens) watch(ctx context.Context, path string, log *slog.Logger, hup <-chan os.Signal, interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()

	// Compared with the file as it was loaded, so that a change made
	// between Load and Watch is not missed.
	last := t.table.Load().stamp
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			last = stampOf(path)
			t.reloadAndLog(ctx, path, "SIGHUP", log)
		case <-tick.C:
			now := stampOf(path)
			if now == last {
				continue
			}
			last = now
			t.reloadAndLog(ctx, path, "file changed", log)
		}
	}
}

func (t *Tokens) reloadAndLog(ctx context.Context, path, why string, log *slog.Logger) {
	if err := t.Reload(path); err != nil {
		log.ErrorContext(ctx, "AUTH_FILE not reloaded, the previous tokens stay in use",
			slog.String("path", path), slog.String("trigger", why), slog.Any("err", err))
		return
	}
	log.InfoContext(ctx, "AUTH_FILE reloaded", slog.String("path", path), slog.String("trigger", why), slog.Int("tokens", t.Len()))
}
