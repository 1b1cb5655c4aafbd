package readstore

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/lib/pq"
)

// ErrUnavailable reports a read store that cannot answer right now: the
// database is down, restarting or unreachable. Retrying later may
// succeed; the request itself was not at fault.
var ErrUnavailable = errors.New("read store unavailable")

// Unavailable reports whether err means the read store is unreachable or
// shutting down, rather than that the query was wrong: err wraps
// ErrUnavailable; the connection could not be made or was lost (refused,
// reset, timed out, a bad or closed connection); or Postgres refused it
// with SQLSTATE class 08 (connection exception), 57P01 (admin shutdown),
// 57P02 (crash shutdown), 57P03 (cannot connect now, for instance while
// starting) or 53300 (too many connections).
func Unavailable(err error) bool {
	if err == nil {
		return false
	}
	var (
		pqErr  *pq.Error
		netErr net.Error
		opErr  *net.OpError
	)
	switch {
	case errors.As(err, &pqErr):
		code := string(pqErr.Code)
		return strings.HasPrefix(code, "08") || code == "57P01" || code == "57P02" || code == "57P03" || code == "53300"
	case errors.Is(err, ErrUnavailable), errors.Is(err, driver.ErrBadConn), errors.Is(err, sql.ErrConnDone),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE):
		return true
	case errors.As(err, &opErr):
		return true
	case errors.As(err, &netErr):
		return netErr.Timeout()
	}
	return false
}
