// Package atomicfile writes a file so that a reader, or a crash, never
// sees half of it: the bytes go to a temporary file beside it, are synced,
// and the temporary file is renamed over the old one. It sits at the
// ground with package event so that every floor may use it; the image
// store, OCI bundles and the workshop's programs do. (Sandbox state, the
// progress store, the course's index, IPAM leases and the class roll still
// write their own way.)
package atomicfile

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// WriteFile writes data to path atomically; the file gets exactly mode.
func WriteFile(path string, data []byte, mode os.FileMode) error {
	return Copy(path, bytes.NewReader(data), mode)
}

// Copy streams r into path atomically, with exactly mode: a file of tens of MB
// never has to be held in memory whole.
func Copy(path string, r io.Reader, mode os.FileMode) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			_ = os.Remove(f.Name())
			err = fmt.Errorf("write %s: %w", path, err)
		}
	}()
	if _, err = io.Copy(f, r); err == nil {
		err = f.Sync()
	}
	if err == nil {
		// Exactly mode, not mode less the umask: CreateTemp made it 0600.
		err = f.Chmod(mode)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	return err
}
