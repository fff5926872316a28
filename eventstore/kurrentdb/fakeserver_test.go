package kurrentdb

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/orderstore/orderstore/eventstore"
)

// fakeServer is an in-process gRPC server speaking the part of KurrentDB's
// streams protocol that the adapter uses (reads of streams and $all,
// subscriptions to $all), on the client's own generated protos. It stands
// in for the server where none can run, not for the store: the adapter
// under test is the real one, and the fake answers as KurrentDB 26.1 does
// according to its source:
//
//   - An event written by an append is a prepare record committed by
//     itself: its position is (offset, offset) (AllReader.cs,
//     ReadAllEventsForwardInternal: CommitEventRecord(eventRecord,
//     prepare.LogPosition)). A legacy explicit transaction's events share
//     the offset of its commit record: (commit, offset of each prepare).
//   - A forward read of $all from (c, p) starts at the record at byte
//     offset c and is inclusive: it returns the events at or after (c, p).
//     An offset where no record starts fails the read ("Unexpected
//     ReadAllResult: InvalidPosition", StorageReaderWorker.All.cs), an
//     offset past the last record returns nothing (AllReader.cs:
//     nextCommitPos > LastIndexedPosition).
//   - A subscription from (c, p) is exclusive; from inside a record it
//     fails after its confirmation ("Trying to read from an invalid
//     position."); from beyond the head it goes live and waits.
//
// It records the metadata of every call, and can be told to misbehave.
type fakeServer struct {
	streams.UnimplementedStreamsServer
	addr string

	mu     sync.Mutex
	events []fakeEvent // in $all order
	starts map[uint64]bool
	next   uint64        // where the next record goes
	grown  chan struct{} // closed when events grow
	revs   map[string]uint64
	calls  []fakeCall
	noPos  bool // stream reads carry no position (older servers)
	// scavenged: a read from inside a record starts at the next one, as
	// in a scavenged chunk (TFChunkReadSideScavenged finds the closest
	// record forward) or past the end of a chunk.
	scavenged bool
	// corrupt, if set, may return a message to send first (for a
	// subscription: right after its confirmation).
	corrupt func(*streams.ReadReq) *streams.ReadResp
}

type fakeEvent struct {
	pos    esdb.Position
	stream string
	typ    string
	rev    uint64
	id     uuid.UUID
	meta   []byte // the user's metadata, none if nil
}

type fakeCall struct {
	method string
	md     metadata.MD
}

func startFake(t *testing.T) *fakeServer {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeServer{
		addr:   lis.Addr().String(),
		starts: map[uint64]bool{},
		next:   1 << 10, // after the first chunk's epoch record
		grown:  make(chan struct{}),
		revs:   map[string]uint64{},
	}
	srv := grpc.NewServer(grpc.ChainStreamInterceptor(f.record))
	streams.RegisterStreamsServer(srv, f)
	go func() { _ = srv.Serve(lis) }() //nolint:errcheck // ends at Stop
	t.Cleanup(srv.Stop)
	return f
}

// url is a connection string for the fake, which gives up quickly if the
// fake is gone.
func (f *fakeServer) url() string {
	return "esdb://" + f.addr + "?tls=false&maxDiscoverAttempts=1&discoveryInterval=10"
}

// open opens a store on the fake.
func (f *fakeServer) open(t *testing.T, prefixes ...string) *Store {
	t.Helper()
	s, err := Open(t.Context(), f.url(), Options{StreamPrefixes: prefixes})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

func (f *fakeServer) record(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	md, _ := metadata.FromIncomingContext(ss.Context())
	f.mu.Lock()
	f.calls = append(f.calls, fakeCall{method: info.FullMethod, md: md.Copy()})
	f.mu.Unlock()
	return handler(srv, ss)
}

func (f *fakeServer) recordedCalls() []fakeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.calls)
}

// size is the length of the n-th record, irregular as real ones are.
func size(n int) uint64 { return 97 + uint64(n%7)*23 }

// add appends events as separate appends to stream and returns their
// positions.
func (f *fakeServer) add(stream, typ string, n int) []uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []uint64
	for range n {
		p := f.next
		f.starts[p] = true
		f.next += size(len(f.events))
		f.events = append(f.events, fakeEvent{pos: esdb.Position{Commit: p, Prepare: p}, stream: stream, typ: typ, rev: f.rev(stream), id: uuid.New()})
		out = append(out, p)
	}
	f.grow()
	return out
}

// addLegacy appends n events to stream in one explicit transaction, as
// TCP clients could: n prepare records, then the commit record whose
// offset all n events have as commit position. It returns that offset.
func (f *fakeServer) addLegacy(stream string, n int) uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	prepares := make([]uint64, n)
	for i := range prepares {
		prepares[i] = f.next
		f.starts[f.next] = true
		f.next += size(len(f.events) + i)
	}
	commit := f.next
	f.starts[commit] = true
	f.next += 66
	for _, p := range prepares {
		f.events = append(f.events, fakeEvent{pos: esdb.Position{Commit: commit, Prepare: p}, stream: stream, typ: "Legacy", rev: f.rev(stream), id: uuid.New()})
	}
	f.grow()
	return commit
}

func (f *fakeServer) rev(stream string) uint64 {
	r := f.revs[stream]
	f.revs[stream] = r + 1
	return r
}

func (f *fakeServer) grow() {
	close(f.grown)
	f.grown = make(chan struct{})
}

// snapshot returns the events, the offset of the last record committed
// (the server's last indexed position) and a channel closed when more come.
func (f *fakeServer) snapshot() ([]fakeEvent, uint64, <-chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var last uint64
	if n := len(f.events); n > 0 {
		last = f.events[n-1].pos.Commit
	}
	return slices.Clone(f.events), last, f.grown
}

func (f *fakeServer) Read(req *streams.ReadReq, srv streams.Streams_ReadServer) error {
	o := req.GetOptions()
	if o.GetSubscription() != nil {
		return f.subscribe(req, srv)
	}
	if err := f.sendCorrupt(req, srv); err != nil {
		return err
	}
	if o.GetStream() != nil {
		return f.readStream(o, srv)
	}
	return f.readAll(o, srv)
}

func (f *fakeServer) sendCorrupt(req *streams.ReadReq, srv streams.Streams_ReadServer) error {
	f.mu.Lock()
	corrupt := f.corrupt
	f.mu.Unlock()
	if corrupt == nil {
		return nil
	}
	if resp := corrupt(req); resp != nil {
		return srv.Send(resp)
	}
	return nil
}

// set changes the fake's behaviour, under its lock.
func (f *fakeServer) set(fn func(f *fakeServer)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *fakeServer) readStream(o *streams.ReadReq_Options, srv streams.Streams_ReadServer) error {
	name := string(o.GetStream().GetStreamIdentifier().GetStreamName())
	events, _, _ := f.snapshot()
	f.mu.Lock()
	noPos := f.noPos
	f.mu.Unlock()
	from := o.GetStream().GetRevision()
	sent := 0
	for _, ev := range events {
		if ev.stream != name || ev.rev < from || uint64(sent) >= o.GetCount() {
			continue
		}
		if noPos {
			ev.pos = esdb.Position{Commit: math.MaxUint64, Prepare: math.MaxUint64}
		}
		if err := srv.Send(eventResp(ev)); err != nil {
			return err
		}
		sent++
	}
	if sent == 0 {
		return srv.Send(&streams.ReadResp{Content: &streams.ReadResp_StreamNotFound_{
			StreamNotFound: &streams.ReadResp_StreamNotFound{StreamIdentifier: &shared.StreamIdentifier{StreamName: []byte(name)}},
		}})
	}
	return nil
}

// position is where a read or subscription of $all starts; end reports End.
func position(o *streams.ReadReq_Options) (p esdb.Position, end bool) {
	all := o.GetAll()
	switch {
	case all.GetEnd() != nil:
		return esdb.Position{}, true
	case all.GetPosition() != nil:
		return esdb.Position{Commit: all.GetPosition().GetCommitPosition(), Prepare: all.GetPosition().GetPreparePosition()}, false
	}
	return esdb.Position{}, false // Start
}

// startsRecord reports whether a read may start at offset c.
func (f *fakeServer) startsRecord(c uint64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return c == 0 || f.starts[c] || f.scavenged
}

func (f *fakeServer) readAll(o *streams.ReadReq_Options, srv streams.Streams_ReadServer) error {
	events, last, _ := f.snapshot()
	from, end := position(o)
	count := o.GetCount()
	if o.GetReadDirection() == streams.ReadReq_Options_Backwards {
		sent := uint64(0)
		for i := len(events) - 1; i >= 0 && sent < count; i-- {
			if end || posLess(events[i].pos, from) {
				if err := srv.Send(eventResp(events[i])); err != nil {
					return err
				}
				sent++
			}
		}
		return nil
	}
	if from.Commit > last {
		return nil
	}
	if !f.startsRecord(from.Commit) {
		return status.Errorf(codes.Unknown, "Unexpected ReadAllResult: InvalidPosition >> "+
			"Log record at actual pos %d has non-positive length: 0.  in chunk #0-0 (chunk-000000.000000).", from.Commit)
	}
	sent := uint64(0)
	for _, ev := range events {
		if sent >= count {
			break
		}
		if !posLess(ev.pos, from) {
			if err := srv.Send(eventResp(ev)); err != nil {
				return err
			}
			sent++
		}
	}
	return nil
}

func (f *fakeServer) subscribe(req *streams.ReadReq, srv streams.Streams_ReadServer) error {
	o := req.GetOptions()
	if err := srv.Send(&streams.ReadResp{Content: &streams.ReadResp_Confirmation{
		Confirmation: &streams.ReadResp_SubscriptionConfirmation{SubscriptionId: uuid.NewString()},
	}}); err != nil {
		return err
	}
	if err := f.sendCorrupt(req, srv); err != nil {
		return err
	}
	from, _ := position(o)
	_, last, _ := f.snapshot()
	if from.Commit <= last && !f.startsRecord(from.Commit) {
		return status.Error(codes.InvalidArgument, "Trying to read from an invalid position.")
	}
	match := filterOf(o.GetFilter())
	caughtUp := false
	for {
		events, _, grown := f.snapshot()
		for _, ev := range events {
			if posLess(from, ev.pos) {
				from = ev.pos
				if match(ev) {
					if err := srv.Send(eventResp(ev)); err != nil {
						return err
					}
				}
			}
		}
		if !caughtUp {
			caughtUp = true
			if err := srv.Send(&streams.ReadResp{Content: &streams.ReadResp_CaughtUp_{CaughtUp: &streams.ReadResp_CaughtUp{}}}); err != nil {
				return err
			}
		}
		select {
		case <-grown:
		case <-srv.Context().Done():
			return srv.Context().Err()
		}
	}
}

// posLess orders positions as the server does (TFPos).
func posLess(a, b esdb.Position) bool {
	return a.Commit < b.Commit || a.Commit == b.Commit && a.Prepare < b.Prepare
}

// filterOf is the server-side filter of a subscription request.
func filterOf(fo *streams.ReadReq_Options_FilterOptions) func(fakeEvent) bool {
	if prefixes := fo.GetStreamIdentifier().GetPrefix(); len(prefixes) > 0 {
		return func(ev fakeEvent) bool {
			return slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(ev.stream, p) })
		}
	}
	if re := fo.GetEventType().GetRegex(); re != "" {
		r := regexp.MustCompile(re)
		return func(ev fakeEvent) bool { return r.MatchString(ev.typ) }
	}
	return func(fakeEvent) bool { return true }
}

func eventResp(ev fakeEvent) *streams.ReadResp {
	most, least := esdb.UUIDAsInt64(ev.id)
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano() / 100
	return &streams.ReadResp{Content: &streams.ReadResp_Event{Event: &streams.ReadResp_ReadEvent{
		Event: &streams.ReadResp_ReadEvent_RecordedEvent{
			Id:               &shared.UUID{Value: &shared.UUID_Structured_{Structured: &shared.UUID_Structured{MostSignificantBits: most, LeastSignificantBits: least}}},
			StreamIdentifier: &shared.StreamIdentifier{StreamName: []byte(ev.stream)},
			StreamRevision:   ev.rev,
			CommitPosition:   ev.pos.Commit,
			PreparePosition:  ev.pos.Prepare,
			Metadata:         map[string]string{"type": ev.typ, "content-type": "application/json", "created": strconv.FormatInt(created, 10)},
			Data:             []byte(fmt.Sprintf(`{"stream":%q}`, ev.stream)),
			CustomMetadata:   ev.meta,
		},
		Position: &streams.ReadResp_ReadEvent_CommitPosition{CommitPosition: ev.pos.Commit},
	}}}
}

// collect subscribes after a position until n events came, and returns
// them.
func collect(ctx context.Context, s *Store, after uint64, n int) ([]eventstore.RecordedEvent, error) {
	var got []eventstore.RecordedEvent
	enough := errors.New("enough")
	err := s.Subscribe(ctx, after, func(batch []eventstore.RecordedEvent) error {
		got = append(got, batch...)
		if len(got) >= n {
			return enough
		}
		return nil
	})
	if errors.Is(err, enough) {
		err = nil
	}
	return got, err
}
