package profiling

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestStartCPUWritesAProfile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cpu.pprof")
	stop, err := StartCPU(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// A profile is a gzipped protocol buffer.
	if !bytes.HasPrefix(b, []byte{0x1f, 0x8b}) {
		t.Fatalf("the file is not a profile: %d bytes starting %x", len(b), b[:min(len(b), 4)])
	}
}

func TestStartCPUWithoutPathDoesNothing(t *testing.T) {
	stop, err := StartCPU("")
	if err != nil || stop() != nil {
		t.Fatalf("StartCPU(\"\") = %v", err)
	}
}

func TestStartCPUUnwritablePath(t *testing.T) {
	if _, err := StartCPU(filepath.Join(t.TempDir(), "missing", "cpu.pprof")); err == nil {
		t.Fatal("a profile in a missing directory started")
	}
}
