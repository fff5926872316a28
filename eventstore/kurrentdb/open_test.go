package kurrentdb

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// TestOpen_LogsWhatIsTrue: Open does no I/O, so for a server that is down
// it logs that the store is configured, never that it is open.
func TestOpen_LogsWhatIsTrue(t *testing.T) {
	var buf bytes.Buffer
	s, err := Open(t.Context(), downURL, Options{Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if log := buf.String(); !strings.Contains(log, `msg="event store configured"`) || strings.Contains(log, "event store open") {
		t.Fatalf("Open of a server that is down logged:\n%s", log)
	}
}
