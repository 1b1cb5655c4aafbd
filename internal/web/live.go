package web

import (
	"cmp"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"
)

// keepAlive is how long a live stream stays silent before it sends a
// comment, so that proxies do not close an idle connection.
const keepAlive = 20 * time.Second

// handleLive streams server-sent events: one "position" event each time
// the read models move past the position the page was rendered at (or
// the Last-Event-ID of a reconnecting browser). The page's script then
// fetches itself again and swaps its live region in place.
func (h *Handler) handleLive(w http.ResponseWriter, r *http.Request) {
	since, _ := strconv.ParseUint(cmp.Or(r.Header.Get("Last-Event-ID"), r.URL.Query().Get("since")), 10, 64)
	if since == 0 {
		since = h.position(r.Context())
	}
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no") // tell a buffering proxy to pass events on at once
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "retry: 2000\n\n")
	if err := rc.Flush(); err != nil {
		h.log.Warn("live stream cannot flush", slog.Any("err", err))
		return
	}
	tick := time.NewTicker(h.livePoll)
	defer tick.Stop()
	quiet := time.Now()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-h.done:
			return
		case <-tick.C:
		}
		pos, err := h.db.Position(r.Context())
		switch {
		case err != nil:
			if r.Context().Err() == nil {
				h.log.Warn("live stream: read position", slog.Any("err", err))
			}
			continue
		case pos > since:
			since = pos
			fmt.Fprintf(w, "id: %d\nevent: position\ndata: %d\n\n", pos, pos)
		case time.Since(quiet) >= keepAlive:
			fmt.Fprint(w, ": keep-alive\n\n")
		default:
			continue
		}
		quiet = time.Now()
		if err := rc.Flush(); err != nil {
			return
		}
	}
}
