package readmodel

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/orderstore/orderstore/domain"
)

// OrdersSchema returns the DDL of a table of open orders. An order's row is
// written when it is placed and deleted when it is shipped or cancelled, so
// the table holds the orders still in flight, not the whole history.
func OrdersSchema(table string) string {
	return `CREATE TABLE ` + table + ` (id TEXT PRIMARY KEY, state BLOB NOT NULL) STRICT, WITHOUT ROWID;`
}

// Tables is one generation of a projection's tables: the prefix of their
// names, and the state of open orders remembered between transactions, so
// that a replay reads back from the orders table only what the cache had
// to let go. The runner keeps one per generation it writes, uses it in one
// transaction at a time, and reports each transaction's outcome to Done.
type Tables struct {
	// Prefix names the tables: Prefix + "orders", and the projection's own.
	Prefix string
	// cache holds the committed state of open orders as encodeOrder
	// stores it: compact, and without pointers for the GC to follow.
	cache map[string][]byte
	size  int // of cache, as counted by entrySize
	limit int // of size
	// pending holds the state written by the transaction in progress; nil
	// marks an order that ended (its row is gone).
	pending map[string][]byte
	// complete: cache holds every open order of the table, so an order
	// it lacks is not open and needs no lookup.
	complete bool
}

// entrySize estimates the memory an entry of the cache takes: its key and
// value (as allocated) and, roughly, the map's own share.
func entrySize(id string, state []byte) int { return len(id) + cap(state) + 96 }

// NewTables returns the Tables named with prefix, caching open orders in
// up to about limit bytes (none if limit is 0). empty tells that the
// tables were just created: until the cache first overflows, an order
// missing from it is known to be missing from the table too.
func NewTables(prefix string, empty bool, limit int) *Tables {
	return &Tables{Prefix: prefix, cache: make(map[string][]byte), complete: empty && limit > 0, limit: limit}
}

// Outcome is how a transaction ended.
type Outcome int

// The outcomes of a transaction.
const (
	// Unknown: the commit failed (it may have happened or not), or the
	// transaction was abandoned in a panic.
	Unknown Outcome = iota
	Committed
	RolledBack
)

// Done ends the transaction that used t: what it wrote becomes the cached
// state if it committed, and is forgotten if it rolled back. If the outcome
// is unknown, t forgets everything: the table is the truth.
func (t *Tables) Done(o Outcome) {
	switch o {
	case Committed:
		for id, state := range t.pending {
			if state == nil {
				t.forget(id)
			} else {
				t.remember(id, state)
			}
		}
	case Unknown:
		clear(t.cache)
		t.size, t.complete = 0, false
	}
	t.pending = nil // not cleared: one large transaction would keep its memory
}

// StopCaching empties the cache and keeps it empty. The runner caches
// orders while it replays history, where most of them are read back, not
// while it follows new events one small batch at a time, where the cache
// would hold memory for little gain.
func (t *Tables) StopCaching() {
	t.cache, t.size, t.limit, t.complete = make(map[string][]byte), 0, 0, false
}

func (t *Tables) forget(id string) {
	if old, ok := t.cache[id]; ok {
		t.size -= entrySize(id, old)
		delete(t.cache, id)
	}
}

// remember caches the committed state of open order id. Past the limit,
// it evicts half the cache, in no particular order: the orders of a
// replay's next events are as likely among them as not, and any evicted
// order is still in the table.
func (t *Tables) remember(id string, state []byte) {
	if t.limit == 0 {
		return
	}
	t.forget(id)
	n := entrySize(id, state)
	if t.size+n > t.limit {
		for k := range t.cache {
			if t.size+n <= t.limit/2 {
				break
			}
			t.forget(k)
		}
		t.complete = false
	}
	t.cache[id] = state
	t.size += n
}

// ApplyEvents is the body of a projection's Apply: it loads the orders the
// events touch from t, gives each event in turn to apply (which checks it
// against the orders, records its effect and updates the orders, or
// returns why it cannot), and writes the orders and, through flush, the
// projection's own figures within tx. It returns len(events), or the index
// n of the event apply refused and why: tx then holds exactly the effects
// of events[:n] if n > 0, and must be rolled back if n == 0. Failures of
// the database are StorageErrors.
func ApplyEvents(ctx context.Context, tx *sql.Tx, t *Tables, events []Event,
	apply func(*Orders, Event) error, flush func(ctx context.Context, tx *sql.Tx, prefix string) error) (int, error) {
	orders, err := LoadOrders(ctx, tx, t, events)
	if err != nil {
		return 0, Storage(err)
	}
	n, applyErr := len(events), error(nil)
	for i, ev := range events {
		if err := apply(orders, ev); err != nil {
			n, applyErr = i, fmt.Errorf("apply %s at position %d: %w", ev.Type, ev.Position, err)
			break
		}
	}
	if n == 0 {
		return 0, applyErr
	}
	if err := errors.Join(orders.Flush(ctx, tx), flush(ctx, tx, t.Prefix)); err != nil {
		return 0, Storage(err)
	}
	return n, applyErr
}

// Orders is the state of the orders one batch touches: loaded before the
// batch (from the cache of its Tables, or in bulk from the table), changed
// in memory, and written back by Flush. The state kept is an order's
// status, currency, lines and stock policy (ReserveStock); other fields are
// zero.
type Orders struct {
	t *Tables
	m map[string]*orderEntry
}

type orderEntry struct {
	o      domain.Order
	stored bool // a row exists in the table
	dirty  bool
}

// LoadOrders gets the state of every order that an order event of events
// refers to, in the orders table of t.
func LoadOrders(ctx context.Context, tx *sql.Tx, t *Tables, events []Event) (*Orders, error) {
	s := &Orders{t: t, m: make(map[string]*orderEntry)}
	var ids []any
	for _, ev := range events {
		if !IsOrderEvent(ev.Payload) {
			continue
		}
		id, err := OrderID(ev.Stream)
		if err != nil {
			continue // Apply reports it at the event
		}
		if _, ok := s.m[id]; ok {
			continue
		}
		e := &orderEntry{}
		s.m[id] = e
		state, ok := t.pending[id]
		if !ok {
			state, ok = t.cache[id]
		}
		switch {
		case state != nil:
			if e.o, err = decodeOrder(state); err != nil {
				return nil, fmt.Errorf("load order %s: %w", id, err)
			}
			e.stored = true
		case !ok && !t.complete && ev.Version != 0:
			// An event at version 0 starts its stream (every store
			// numbers a stream from 0: storetest's Versions case), so
			// no order precedes it and there is nothing to look up. Most
			// orders are first seen so; then the cache, if it holds the
			// order, tells, and only what it let go is looked up.
			ids = append(ids, id)
		}
	}
	for len(ids) > 0 {
		n := min(len(ids), chunkRows)
		if err := s.load(ctx, tx, ids[:n]); err != nil {
			return nil, fmt.Errorf("load orders: %w", err)
		}
		ids = ids[n:]
	}
	return s, nil
}

func (s *Orders) load(ctx context.Context, tx *sql.Tx, ids []any) (err error) {
	rows, err := tx.QueryContext(ctx, `SELECT id, state FROM `+s.t.Prefix+`orders WHERE id IN (`+placeholders(len(ids))+`)`, ids...)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, rows.Close()) }()
	for rows.Next() {
		var (
			id    string
			state []byte
		)
		if err := rows.Scan(&id, &state); err != nil {
			return err
		}
		o, err := decodeOrder(state)
		if err != nil {
			return fmt.Errorf("order %s: %w", id, err)
		}
		if e := s.m[id]; e != nil {
			e.o, e.stored = o, true
			// Not written by this transaction (pending would have it), so
			// committed: cacheable whatever becomes of the transaction.
			s.t.remember(id, state)
		}
	}
	return rows.Err()
}

// Get returns the state of open order id. It returns the zero Order (Exists
// is false) if the order was never placed or has been shipped or cancelled,
// whether in an earlier batch (its row is gone) or in this one, so that the
// result never depends on where batches split. id must belong to an event
// given to LoadOrders.
func (s *Orders) Get(id string) domain.Order {
	if e := s.m[id]; e != nil && open(e.o.Status) {
		return e.o
	}
	return domain.Order{}
}

func open(s domain.Status) bool { return s == domain.StatusPlaced || s == domain.StatusPaid }

// Put sets the state of order id, to be written by Flush.
func (s *Orders) Put(id string, o domain.Order) {
	e := s.m[id]
	if e == nil {
		e = &orderEntry{}
		s.m[id] = e
	}
	e.o, e.dirty = o, true
}

// Flush writes the changed states into the table (open orders are
// upserted, orders that ended are deleted), and into the pending state of
// its Tables, for Done.
func (s *Orders) Flush(ctx context.Context, tx *sql.Tx) error {
	var upserts, deletes []any
	// Without a cache, an order written earlier in the transaction is
	// read back from the table, which has it: no need to keep it pending.
	caching := s.t.limit > 0
	if caching && s.t.pending == nil {
		s.t.pending = make(map[string][]byte)
	}
	for id, e := range s.m {
		if !e.dirty {
			continue
		}
		switch {
		case open(e.o.Status):
			state := encodeOrder(e.o)
			upserts = append(upserts, id, state)
			if caching {
				s.t.pending[id] = state
			}
		case e.stored:
			deletes = append(deletes, id)
			if caching {
				s.t.pending[id] = nil
			}
		}
	}
	table := s.t.Prefix + "orders"
	if err := ExecValues(ctx, tx, `INSERT INTO `+table+` (id, state)`,
		`ON CONFLICT (id) DO UPDATE SET state = excluded.state`, 2, upserts); err != nil {
		return fmt.Errorf("write orders: %w", err)
	}
	for len(deletes) > 0 {
		n := min(len(deletes), chunkRows)
		if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE id IN (`+placeholders(n)+`)`, deletes[:n]...); err != nil {
			return fmt.Errorf("delete orders: %w", err)
		}
		deletes = deletes[n:]
	}
	return nil
}

// encodeOrder packs the status, currency and lines of o: length-prefixed
// strings and varints, several times cheaper than JSON in a rebuild.
func encodeOrder(o domain.Order) []byte {
	b := make([]byte, 0, 16+24*len(o.Lines))
	b = appendString(b, string(o.Status))
	b = appendString(b, o.Currency)
	b = binary.AppendUvarint(b, uint64(len(o.Lines)))
	for _, l := range o.Lines {
		b = appendString(b, l.SKU)
		b = binary.AppendVarint(b, l.Quantity)
		b = binary.AppendVarint(b, l.UnitPrice)
	}
	// Flags only when set: the state of an order placed under the track
	// policy is stored as before there were any.
	if o.ReserveStock {
		b = binary.AppendUvarint(b, flagReserveStock)
	}
	return b
}

// flagReserveStock marks the state of an order placed under the reserve
// stock policy.
const flagReserveStock = 1

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

var errCorrupt = errors.New("corrupt order state")

func decodeOrder(b []byte) (domain.Order, error) {
	d := decoder{b: b}
	o := domain.Order{Status: domain.Status(d.string()), Currency: d.string()}
	n := d.uvarint()
	if n > uint64(len(b)) {
		return o, errCorrupt
	}
	o.Lines = make([]domain.Line, n)
	for i := range o.Lines {
		o.Lines[i] = domain.Line{SKU: d.string(), Quantity: d.varint(), UnitPrice: d.varint()}
	}
	if len(d.b) > 0 && !d.bad {
		flags := d.uvarint()
		if flags != flagReserveStock {
			return o, errCorrupt
		}
		o.ReserveStock = true
		if o.Status == domain.StatusPlaced || o.Status == domain.StatusPaid {
			o.StockReservation = domain.ReservationPending
		}
	}
	if d.bad || len(d.b) != 0 {
		return o, errCorrupt
	}
	return o, nil
}

// decoder reads what encodeOrder wrote; bad records the first overrun.
type decoder struct {
	b   []byte
	bad bool
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.bad, d.b = true, nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.bad, d.b = true, nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.bad, d.b = true, nil
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}
