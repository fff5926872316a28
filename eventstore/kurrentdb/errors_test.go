package kurrentdb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"testing"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/orderstore/orderstore/eventstore"
)

func TestParseActual(t *testing.T) {
	const prefix = "[ErrorCodeWrongExpectedVersion] an append request failed the optimistic concurrency on the server: "
	tests := []struct {
		text   string
		want   int64
		wantOK bool
	}{
		{prefix + "wrong expected version: expecting '3' but got '5'", 5, true},
		{prefix + "wrong expected version: expecting 'any' but got '0'", 0, true},
		{prefix + "wrong expected version: expecting 'stream_exists' but got 'no_stream'", eventstore.NoVersion, true},
		{prefix + "wrong expected version: expecting 'no_stream' but got '9223372036854775807'", 1<<63 - 1, true},
		{prefix + "wrong expected version: expecting '1' but got '-3'", 0, false},
		{prefix + "wrong expected version: expecting '1' but got 'later'", 0, false},
		{prefix + "wrong expected version", 0, false},
		{"", 0, false},
	}
	for _, tc := range tests {
		got, ok := parseActual(tc.text)
		if got != tc.want || ok != tc.wantOK {
			t.Errorf("parseActual(%q) = %d, %t; want %d, %t", tc.text, got, ok, tc.want, tc.wantOK)
		}
	}
}

func TestKindOf(t *testing.T) {
	tests := map[esdb.ErrorCode]error{
		esdb.ErrorCodeUnknown:               nil,
		esdb.ErrorCodeUnsupportedFeature:    nil,
		esdb.ErrorCodeDeadlineExceeded:      eventstore.ErrUnavailable,
		esdb.ErrorCodeUnauthenticated:       nil,
		esdb.ErrorCodeResourceNotFound:      eventstore.ErrNotFound,
		esdb.ErrorCodeResourceAlreadyExists: nil,
		esdb.ErrorCodeConnectionClosed:      eventstore.ErrUnavailable,
		esdb.ErrorCodeWrongExpectedVersion:  nil, // Append makes a *VersionError
		esdb.ErrorCodeAccessDenied:          nil,
		esdb.ErrorCodeStreamDeleted:         eventstore.ErrNotFound,
		esdb.ErrorCodeParsing:               nil,
		esdb.ErrorCodeInternalClient:        nil,
		esdb.ErrorCodeInternalServer:        nil,
		esdb.ErrorCodeNotLeader:             eventstore.ErrUnavailable,
		esdb.ErrorAborted:                   eventstore.ErrUnavailable,
		esdb.ErrorUnavailable:               eventstore.ErrUnavailable,
	}
	for code, want := range tests {
		if got := kindOf(code); got != want {
			t.Errorf("kindOf(%d) = %v, want %v", code, got, want)
		}
	}
}

// clientErrors returns real errors of a client whose discovery failed: the
// first call's (ErrorUnavailable) and the next one's (ConnectionClosed).
func clientErrors(t *testing.T) (unavailable, closed error) {
	t.Helper()
	cfg, err := esdb.ParseConnectionString(downURL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Logger = esdb.NoopLogging()
	c, err := esdb.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Abandoned, not closed: closing a client that failed discovery is
	// harmless here, but not what the adapter does.
	_, unavailable = c.AppendToStream(t.Context(), "s", esdb.AppendToStreamOptions{}, esdb.EventData{EventType: "T"})
	_, closed = c.AppendToStream(t.Context(), "s", esdb.AppendToStreamOptions{}, esdb.EventData{EventType: "T"})
	return unavailable, closed
}

func TestTranslate(t *testing.T) {
	unavailable, closed := clientErrors(t)
	if code, _ := codeOf(unavailable); code != esdb.ErrorUnavailable {
		t.Fatalf("failed discovery gave %v (code %d), want ErrorUnavailable", unavailable, code)
	}
	if code, _ := codeOf(closed); code != esdb.ErrorCodeConnectionClosed {
		t.Fatalf("call on a dead client gave %v (code %d), want ConnectionClosed", closed, code)
	}
	unknown, _ := esdb.FromError(errors.New("boom"))
	// How a refused start position reaches the adapter (see refusedPosition):
	// a read's error wraps the server's status in the client's *Error, a
	// subscription's comes raw in its drop.
	readRefused, _ := esdb.FromError(status.Error(codes.Unknown,
		"Unexpected ReadAllResult: InvalidPosition >> Log record at actual pos 1001 has non-positive length: 0."))
	subscriptionRefused := &dropped{err: status.Error(codes.InvalidArgument, "Trying to read from an invalid position.")}

	tests := []struct {
		name string
		err  error
		kind error // sentinel the result must match, nil for none
	}{
		{"read from an invalid position", readRefused, eventstore.ErrInvalidPosition},
		{"subscription from an invalid position", subscriptionRefused, eventstore.ErrInvalidPosition},
		{"other invalid argument", status.Error(codes.InvalidArgument, "'x' is a required argument"), nil},
		{"client panicked", &panicked{value: "unreachable code"}, eventstore.ErrUnavailable},
		{"discovery failed", unavailable, eventstore.ErrUnavailable},
		{"dead client", closed, eventstore.ErrUnavailable},
		{"wrapped", fmt.Errorf("could not construct append operation. Reason: %w", closed), eventstore.ErrUnavailable},
		{"gRPC unavailable", status.Error(codes.Unavailable, "connection refused"), eventstore.ErrUnavailable},
		{"gRPC deadline", status.Error(codes.DeadlineExceeded, "slow"), eventstore.ErrUnavailable},
		{"dropped by server", &dropped{err: io.EOF}, eventstore.ErrUnavailable},
		{"dropped", &dropped{err: status.Error(codes.Internal, "oops")}, eventstore.ErrUnavailable},
		{"unknown", unknown, nil},
		{"gRPC permission", status.Error(codes.PermissionDenied, "no"), nil},
	}
	sentinels := []error{eventstore.ErrUnavailable, eventstore.ErrNotFound, eventstore.ErrClosed,
		eventstore.ErrWrongExpectedVersion, eventstore.ErrInvalidPosition}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := translate("append s", tc.err)
			for _, s := range sentinels {
				if want := s == tc.kind; errors.Is(got, s) != want {
					t.Errorf("translate(%v) = %v; matches %v: %t, want %t", tc.err, got, s, !want, want)
				}
			}
			var e *esdb.Error
			if errors.As(got, &e) {
				t.Errorf("translate(%v) = %v: a client error escapes", tc.err, got)
			}
			if _, ok := status.FromError(got); ok {
				t.Errorf("translate(%v) = %v: a gRPC status escapes", tc.err, got)
			}
			if !strings.HasPrefix(got.Error(), "append s: ") {
				t.Errorf("translate(%v) = %q: want the operation first", tc.err, got)
			}
		})
	}

	// The port's own errors and contexts' pass through.
	for _, err := range []error{eventstore.ErrClosed, context.Canceled, &eventstore.VersionError{Stream: "s", Actual: 1},
		refuse("read $all", 7, "beyond the head of $all")} {
		if got := translate("op", err); got != err {
			t.Errorf("translate(%v) = %v, want it unchanged", err, got)
		}
	}
	if translate("op", nil) != nil {
		t.Error("translate(nil) != nil")
	}
}

func TestConnectionLostAndAnswered(t *testing.T) {
	unavailable, closed := clientErrors(t)
	unknown, _ := esdb.FromError(errors.New("boom"))
	tests := []struct {
		name           string
		err            error
		lost, answered bool
	}{
		{"nil", nil, false, true},
		{"discovery failed", unavailable, true, false},
		{"dead client", closed, true, false},
		{"gRPC unavailable", &dropped{err: status.Error(codes.Unavailable, "gone")}, true, false},
		{"cancelled", &dropped{err: status.Error(codes.Canceled, "ctx")}, false, false},
		{"unknown", unknown, false, false},
		{"version", &eventstore.VersionError{Stream: "s", Actual: 2}, false, true},
		{"position refused by the server", &dropped{err: status.Error(codes.InvalidArgument, "Trying to read from an invalid position.")}, false, true},
		{"position refused by the adapter", refuse("subscribe $all", 9, "beyond the head of $all"), false, true},
		{"client panicked", &panicked{value: "boom"}, true, false},
	}
	for _, tc := range tests {
		if got := connectionLost(tc.err); got != tc.lost {
			t.Errorf("%s: connectionLost = %t, want %t", tc.name, got, tc.lost)
		}
		if got := answered(tc.err); got != tc.answered {
			t.Errorf("%s: answered = %t, want %t", tc.name, got, tc.answered)
		}
	}
}

func TestKnownPosition(t *testing.T) {
	if knownPosition(math.MaxUint64) != 0 || knownPosition(0) != 0 || knownPosition(42) != 42 {
		t.Fatal("knownPosition must map the server's no-position markers to 0 and keep real positions")
	}
}
