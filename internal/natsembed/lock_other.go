//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd || windows)

package natsembed

import (
	"fmt"
	"os"
	"path/filepath"
)

// lockDir only creates the lock file on platforms without flock or
// LockFileEx: there, keeping two servers off one directory is the
// operator's job.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, LockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file: %w", err)
	}
	return f, nil
}

func unlockDir(f *os.File) error {
	return f.Close()
}
