package kurrentdb

import (
	"context"
	"errors"
	"io"
	"regexp"
	"strconv"
	"strings"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/orderstore/orderstore/eventstore"
)

// ErrInvalidConnString is returned by Open for a connection string the
// client cannot use.
var ErrInvalidConnString = errors.New("invalid KurrentDB connection string")

// failure is an error of the server or the client, kept as text so that no
// client type leaves the package. It matches the port's sentinel kind, if any.
type failure struct {
	op   string
	kind error // eventstore.ErrUnavailable, ErrNotFound, ErrInvalidPosition or nil
	msg  string
}

func (e *failure) Error() string {
	if e.kind == nil {
		return e.op + ": kurrentdb: " + e.msg
	}
	return e.op + ": " + e.kind.Error() + ": kurrentdb: " + e.msg
}

func (e *failure) Unwrap() error { return e.kind }

// dropped is the raw reason a subscription ended. It stays inside the
// package: Subscribe reports it as a failure.
type dropped struct{ err error }

func (e *dropped) Error() string {
	if e.err == nil || errors.Is(e.err, io.EOF) {
		return "subscription dropped: the server ended it"
	}
	return "subscription dropped: " + e.err.Error()
}

func (e *dropped) Unwrap() error { return e.err }

// panicked is a panic of the client inside one call, recovered by guard.
// It ends that call as a lost connection: the client is replaced.
type panicked struct {
	value string
	stack []byte
}

func (e *panicked) Error() string { return "client panicked: " + e.value }

// refusedPosition reports whether err is the server's refusal to read $all
// from a place where no record starts (KurrentDB's TFChunkReadSide throws
// InvalidReadException there, which StorageReaderWorker.All answers with
// ReadAllResult.InvalidPosition). The server says so in text only: a read
// ends with gRPC Unknown "Unexpected ReadAllResult: InvalidPosition >> …"
// (Enumerator.ReadAllForwards passes the result on as an unknown error), a
// subscription with InvalidArgument "Trying to read from an invalid
// position." (RpcExceptions.InvalidPositionException).
func refusedPosition(err error) bool {
	var gs interface{ GRPCStatus() *status.Status }
	if err == nil || !errors.As(err, &gs) {
		return false
	}
	st := gs.GRPCStatus()
	switch st.Code() {
	case codes.InvalidArgument:
		return strings.Contains(st.Message(), "invalid position")
	case codes.Unknown:
		return strings.Contains(st.Message(), "ReadAllResult: InvalidPosition")
	}
	return false
}

// codeOf returns the client's error code in err's chain.
func codeOf(err error) (esdb.ErrorCode, bool) {
	var e *esdb.Error
	if errors.As(err, &e) {
		return e.Code(), true
	}
	return 0, false
}

// kindOf returns the port sentinel that a client error code stands for, nil
// if none does.
func kindOf(code esdb.ErrorCode) error {
	switch code {
	case esdb.ErrorCodeConnectionClosed, esdb.ErrorUnavailable, esdb.ErrorCodeDeadlineExceeded,
		esdb.ErrorCodeNotLeader, esdb.ErrorAborted:
		return eventstore.ErrUnavailable
	case esdb.ErrorCodeResourceNotFound, esdb.ErrorCodeStreamDeleted:
		return eventstore.ErrNotFound
	}
	return nil
}

// isPortError reports whether err already is one of the port's errors (or a
// context's), which pass through unchanged.
func isPortError(err error) bool {
	for _, target := range []error{
		eventstore.ErrClosed, eventstore.ErrUnavailable, eventstore.ErrNotFound,
		eventstore.ErrWrongExpectedVersion, eventstore.ErrInvalidArgument, eventstore.ErrInvalidPosition,
		context.Canceled, context.DeadlineExceeded,
	} {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

// translate turns an error of the client into the port's terms.
func translate(op string, err error) error {
	if err == nil || isPortError(err) {
		return err
	}
	var kind error
	if code, ok := codeOf(err); ok {
		kind = kindOf(code)
	}
	if kind == nil {
		switch status.Code(err) {
		case codes.Unavailable, codes.DeadlineExceeded:
			kind = eventstore.ErrUnavailable
		}
	}
	var (
		d *dropped
		p *panicked
	)
	switch {
	case refusedPosition(err):
		kind = eventstore.ErrInvalidPosition
	case errors.As(err, &d), errors.As(err, &p):
		kind = eventstore.ErrUnavailable
	}
	return &failure{op: op, kind: kind, msg: err.Error()}
}

// connectionLost reports whether err says the client can no longer reach the
// server: a dead client (connection closed), an unavailable node, or a
// client that panicked.
func connectionLost(err error) bool {
	if p := (*panicked)(nil); errors.As(err, &p) {
		return true
	}
	if code, ok := codeOf(err); ok && (code == esdb.ErrorCodeConnectionClosed || code == esdb.ErrorUnavailable) {
		return true
	}
	return status.Code(err) == codes.Unavailable
}

// answered reports whether err shows that the server was reached: success
// or a refusal that only a server gives.
func answered(err error) bool {
	if err == nil || errors.Is(err, eventstore.ErrWrongExpectedVersion) ||
		errors.Is(err, eventstore.ErrInvalidPosition) || refusedPosition(err) {
		return true
	}
	code, ok := codeOf(err)
	if !ok {
		return false
	}
	switch code {
	case esdb.ErrorCodeWrongExpectedVersion, esdb.ErrorCodeResourceNotFound, esdb.ErrorCodeStreamDeleted,
		esdb.ErrorCodeAccessDenied, esdb.ErrorCodeUnauthenticated:
		return true
	}
	return false
}

// gotRe finds the stream's actual revision in the client's text for a wrong
// expected version: "expecting '3' but got '5'" (or 'no_stream').
var gotRe = regexp.MustCompile(`but got '([^']*)'`)

// parseActual returns the actual stream version named in the text of a wrong
// expected version error: NoVersion for "no_stream".
func parseActual(text string) (int64, bool) {
	m := gotRe.FindStringSubmatch(text)
	if m == nil {
		return 0, false
	}
	if m[1] == "no_stream" {
		return eventstore.NoVersion, true
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}
