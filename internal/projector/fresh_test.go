package projector_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/failforward/failforward/internal/projector"
	"github.com/failforward/failforward/internal/projector/projectortest"
	"github.com/failforward/failforward/internal/readstore"
	"github.com/failforward/failforward/internal/readstore/readstoretest"
)

// logBuffer is a bytes.Buffer that a logger and the test may share.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestReplayFromEmptyIntoFreshTables: a projector that starts on an empty
// read store under a long stream replays it into fresh tables and swaps
// them in. Readers see the empty tables until then; afterwards the tables
// equal, row for row, those of an ordinary replay, and the projector goes
// on applying new events under the lease it held throughout.
func TestReplayFromEmptyIntoFreshTables(t *testing.T) {
	readstoretest.Each(t, func(t *testing.T, d readstore.Dialect) {
		ctx := context.Background()
		_, nc := projectortest.StartNATS(t)
		evs := projectortest.Generate(6000, 11)
		projectortest.Publish(t, nc, evs[:5000])
		url := readstoretest.URL(t, d)
		db := openURL(t, url)
		logs := &logBuffer{}
		live := startProjector(t, projector.Config{Conn: nc, DB: db, FreshReplayFrom: 1000,
			Logger: slog.New(slog.NewTextHandler(logs, nil))})

		// Until the swap, the read store is as empty as it began: never
		// a part of the history.
		projectortest.WaitFor(t, 60*time.Second, "the swap", func() (bool, error) {
			pos, err := db.Position(ctx)
			if err != nil || pos == 0 {
				return false, err
			}
			if n := projectortest.Count(t, db, "history"); uint64(n) != pos {
				t.Errorf("at position %d the history holds %d rows", pos, n)
			}
			return true, nil
		})
		before, err := db.ReadLease(ctx)
		if err != nil {
			t.Fatal(err)
		}
		projectortest.Publish(t, nc, evs[5000:])
		projectortest.WaitPosition(t, db, 6000, 30*time.Second)
		after, err := db.ReadLease(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := live.stop(); err != nil {
			t.Fatalf("projector: %v", err)
		}
		if before.Holder == "" || after.Holder != before.Holder || after.Epoch != before.Epoch {
			t.Errorf("lease after the swap %+v, then %+v: want the projector's own, unchanged", before, after)
		}
		out := logs.String()
		if !strings.Contains(out, "swapped the replayed tables in") {
			t.Errorf("the projector did not replay into fresh tables; it logged:\n%s", out)
		}
		if strings.Contains(out, "lost its lease") {
			t.Errorf("the projector lost its lease to its own swap:\n%s", out)
		}
		projectortest.AssertSameRows(t, projectortest.Dump(t, db), projectortest.Dump(t, replay(t, d, nc)))
		assertNoRebuildLeft(t, db, url)
	})
}

// TestShortStreamReplaysInPlace: under FreshReplayFrom events, a
// projector on an empty read store applies the stream to it directly.
func TestShortStreamReplaysInPlace(t *testing.T) {
	_, nc := projectortest.StartNATS(t)
	projectortest.Publish(t, nc, projectortest.Generate(500, 3))
	db := readstoretest.Open(t, readstore.SQLite)
	logs := &logBuffer{}
	r := startProjector(t, projector.Config{Conn: nc, DB: db, FreshReplayFrom: 1000,
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	projectortest.WaitPosition(t, db, 500, 30*time.Second)
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), "fresh tables") {
		t.Errorf("a stream of 500 events was replayed into fresh tables:\n%s", logs.String())
	}
}
