package web

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/failforward/failforward/internal/readmodel"
)

// Periods are named as the read model names them: "2026-03" for a month,
// "2026-Q1" for a quarter, in UTC.

func periodOf(t time.Time, bucket string) string {
	t = t.UTC()
	if bucket == readmodel.BucketQuarter {
		return fmt.Sprintf("%d-Q%d", t.Year(), (int(t.Month())-1)/3+1)
	}
	return t.Format("2006-01")
}

// periodStart parses a period of bucket; ok is false when it is not one.
func periodStart(p, bucket string) (time.Time, bool) {
	if bucket == readmodel.BucketQuarter {
		y, q, found := strings.Cut(p, "-Q")
		year, err1 := strconv.Atoi(y)
		quarter, err2 := strconv.Atoi(q)
		if !found || err1 != nil || err2 != nil || quarter < 1 || quarter > 4 || year < 1970 || year > 9999 {
			return time.Time{}, false
		}
		return time.Date(year, time.Month(3*(quarter-1)+1), 1, 0, 0, 0, 0, time.UTC), true
	}
	t, err := time.Parse("2006-01", p)
	if err != nil || t.Year() < 1970 {
		return time.Time{}, false
	}
	return t, true
}

func monthsIn(bucket string) int {
	if bucket == readmodel.BucketQuarter {
		return 3
	}
	return 1
}

// periodEnd is the first instant after period p.
func periodEnd(start time.Time, bucket string) time.Time {
	return start.AddDate(0, monthsIn(bucket), 0)
}

func prevPeriod(start time.Time, bucket string) time.Time {
	return start.AddDate(0, -monthsIn(bucket), 0)
}

// periodName is a period in words: "March 2026", "Q1 2026".
func periodName(p, bucket string) string {
	t, ok := periodStart(p, bucket)
	if !ok {
		return p
	}
	if bucket == readmodel.BucketQuarter {
		return fmt.Sprintf("Q%d %d", (int(t.Month())-1)/3+1, t.Year())
	}
	return t.Format("January 2006")
}

// periodRange lists the periods of bucket from first to last, newest
// first, at most limit of them.
func periodRange(first, last time.Time, bucket string, limit int) []string {
	var out []string
	for t := last; !t.Before(first) && len(out) < limit; t = prevPeriod(t, bucket) {
		out = append(out, periodOf(t, bucket))
	}
	return out
}
