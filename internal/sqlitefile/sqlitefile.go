// Package sqlitefile checks a database file's header before SQLite opens
// it, so that a foreign or truncated file is refused at startup instead of
// failing later, or being taken for an empty database.
package sqlitefile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/orderstore/orderstore/internal/dirlock"
)

var (
	// ErrNotSQLite is returned by Check for a file that is not a SQLite
	// database.
	ErrNotSQLite = errors.New("the file is not a SQLite database")
	// ErrTruncated is returned by Check for a file shorter than its header
	// says it is.
	ErrTruncated = errors.New("the file is truncated")
)

const headerSize = 100

// Check reads the header of the database file at path. A missing or empty
// file passes (SQLite creates it); a file that is not SQLite fails with
// ErrNotSQLite, and one shorter than the page count its header records
// fails with ErrTruncated.
func Check(path string) (err error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, f.Close()) }()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if st.Size() == 0 {
		return nil
	}
	h := make([]byte, headerSize)
	n, err := io.ReadFull(f, h)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return err
	}
	if n < 16 || string(h[:16]) != "SQLite format 3\x00" {
		return ErrNotSQLite
	}
	if n < headerSize {
		return fmt.Errorf("%w: %d bytes, shorter than a SQLite header", ErrTruncated, st.Size())
	}
	pageSize := int64(binary.BigEndian.Uint16(h[16:18]))
	if pageSize == 1 {
		pageSize = 65536
	}
	changes := binary.BigEndian.Uint32(h[24:28])
	pages := int64(binary.BigEndian.Uint32(h[28:32]))
	validFor := binary.BigEndian.Uint32(h[92:96])
	// The page count is only valid when written by the same change as the
	// header (SQLite's own rule); then the file must hold every page.
	if validFor == changes && pages > 0 && st.Size() < pages*pageSize {
		return fmt.Errorf("%w: %d bytes, its header records %d pages of %d bytes", ErrTruncated, st.Size(), pages, pageSize)
	}
	return nil
}

// Prepare readies directory dir for the database file name, guarded by the
// lock file lockName, before SQLite opens it: it refuses a directory whose
// path SQLite's URI would misread, creates dir, takes the lock (failing
// with dirlock.ErrHeld when another process holds it) and checks the file
// (see Check). It returns the lock, to close after the database, and the
// file's path.
func Prepare(dir, lockName, name string) (lock *os.File, path string, err error) {
	if strings.ContainsAny(dir, "?#") {
		return nil, "", fmt.Errorf("data directory %q: '?' and '#' are not supported in the path", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, "", err
	}
	if lock, err = dirlock.Lock(filepath.Join(dir, lockName)); err != nil {
		return nil, "", err
	}
	path = filepath.Join(dir, name)
	if err := Check(path); err != nil {
		return nil, path, errors.Join(err, lock.Close())
	}
	return lock, path, nil
}
