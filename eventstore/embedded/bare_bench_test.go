package embedded_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/orderstore/orderstore/eventstore/embedded"
)

// The bare benchmarks are the ceiling of the store: the same durable work
// done on modernc.org/sqlite directly, with no store logic around it (no
// writer goroutine, no version checks, no idempotency lookups, no decoding
// into events). Compare, in one run,
//
//	go test -run '^$' -bench 'Append|ReadAll|Bare' ./eventstore/embedded/
//
// BenchmarkAppend/writers=64 appends/s with BenchmarkBareInsert/tx=32 and
// writers=1 with tx=1 (group commit at 64 writers commits about 32 appends
// a transaction on 2 cores), and BenchmarkReadAll with BenchmarkBareReadAll.

// bareDSN holds the store's pragmas (store.go): the bare engine must pay
// for the same durability, WAL with synchronous=FULL.
const bareDSN = "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=cache_size(-65536)&_pragma=wal_autocheckpoint(16384)"

// bareSchema is the store's own table and indexes (store.go schemaDDL).
const bareSchema = embedded.SchemaDDL

const (
	bareInsert = `INSERT INTO events (position, stream, version, id, type, data, metadata, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
	bareSelect = `SELECT position, stream, version, id, type, data, metadata, recorded_at FROM events WHERE position > ? ORDER BY position LIMIT ?`
	// bareStreams matches BenchmarkAppend/writers=64: one stream a writer.
	bareStreams = 64
	barePage    = 1000
)

// bareMetadata is benchEvent's metadata.
var bareMetadata = []byte(`{"correlation_id":"3f1c","causation_id":"3f1c","schema":1}`)

// bareStreamNames are the streams' names, made once: the store gets them
// from its callers.
var bareStreamNames = func() (names [bareStreams]string) {
	for i := range names {
		names[i] = fmt.Sprintf("order-bench-%d", i)
	}
	return names
}()

// openBare opens a fresh database in a temp dir with the store's pragmas
// and schema, as the store's writer does: one connection, immediate
// transactions.
func openBare(b *testing.B) (db *sql.DB, path string) {
	b.Helper()
	path = filepath.Join(b.TempDir(), "bare.db")
	db, err := sql.Open("sqlite", path+bareDSN+"&_txlock=immediate")
	if err != nil {
		b.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	b.Cleanup(func() {
		if err := db.Close(); err != nil {
			b.Error(err)
		}
	})
	var mode string
	var syncMode int
	if err := db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil {
		b.Fatal(err)
	}
	if err := db.QueryRow(`PRAGMA synchronous`).Scan(&syncMode); err != nil {
		b.Fatal(err)
	}
	if mode != "wal" || syncMode != 2 {
		b.Fatalf("durability settings not in effect: journal_mode=%s synchronous=%d", mode, syncMode)
	}
	if _, err := db.Exec(bareSchema); err != nil {
		b.Fatal(err)
	}
	return db, path
}

// bareRows inserts rows first+1 … first+n in one transaction through the
// prepared insert, each row like one event of BenchmarkAppend.
func bareRows(ctx context.Context, db *sql.DB, insert *sql.Stmt, first, n int) (err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, tx.Rollback())
		}
	}()
	st := tx.StmtContext(ctx, insert)
	now := time.Now().UnixNano()
	for i := first + 1; i <= first+n; i++ {
		id := uuid.New()
		if _, err := st.ExecContext(ctx, i, bareStreamNames[i%bareStreams], int64(i/bareStreams),
			id[:], "OrderPlaced", payload, bareMetadata, now); err != nil {
			return errors.Join(err, st.Close())
		}
	}
	if err := st.Close(); err != nil {
		return err
	}
	return tx.Commit()
}

// BenchmarkBareInsert inserts event-sized rows (about 200 bytes of data and
// metadata, plus the index entry) in transactions of 1 and of 32 rows: one
// fsync per transaction. An op is one row.
func BenchmarkBareInsert(b *testing.B) {
	for _, txRows := range []int{1, 32} {
		b.Run(fmt.Sprintf("tx=%d", txRows), func(b *testing.B) {
			db, _ := openBare(b)
			ctx := b.Context()
			insert, err := db.PrepareContext(ctx, bareInsert)
			if err != nil {
				b.Fatal(err)
			}
			defer insert.Close() //nolint:errcheck // read-only after the benchmark
			b.ResetTimer()
			start := time.Now()
			for written := 0; written < b.N; written += txRows {
				if err := bareRows(ctx, db, insert, written, min(txRows, b.N-written)); err != nil {
					b.Fatal(err)
				}
			}
			elapsed := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "rows/s")
			b.ReportMetric(float64((b.N+txRows-1)/txRows)/float64(b.N), "fsyncs/row")
		})
	}
}

// BenchmarkBareReadAll reads every row of a 100,000-row table (as
// BenchmarkReadAll's store, filled the same way) in pages of 1,000 by
// position:
//
//   - database/sql: Rows.Next and Scan into Go values, the plain way;
//   - driver: the driver's rows read directly, as the store's query does
//     (read.go), with no conversion: the engine's own ceiling.
func BenchmarkBareReadAll(b *testing.B) {
	const total = 100_000
	db, path := openBare(b)
	ctx := b.Context()
	insert, err := db.PrepareContext(ctx, bareInsert)
	if err != nil {
		b.Fatal(err)
	}
	// Fill as BenchmarkReadAll's fill does, a transaction per 8 rows, so
	// that the WAL holds the same frames: a scan looks each page up in the
	// WAL index, whose size depends on the commits. The fill skips the
	// fsyncs, which change no byte the reader sees.
	if _, err := db.ExecContext(ctx, `PRAGMA synchronous=OFF`); err != nil {
		b.Fatal(err)
	}
	for written := 0; written < total; written += 8 {
		if err := bareRows(ctx, db, insert, written, 8); err != nil {
			b.Fatal(err)
		}
	}
	if err := insert.Close(); err != nil {
		b.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `PRAGMA synchronous=FULL`); err != nil {
		b.Fatal(err)
	}
	// The store reads through a separate pool of query-only connections.
	rdb, err := sql.Open("sqlite", path+bareDSN+"&_pragma=query_only(1)")
	if err != nil {
		b.Fatal(err)
	}
	rdb.SetMaxOpenConns(1)
	rdb.SetMaxIdleConns(1)
	rdb.SetConnMaxIdleTime(0)
	b.Cleanup(func() {
		if err := rdb.Close(); err != nil {
			b.Error(err)
		}
	})

	b.Run("database/sql", func(b *testing.B) {
		stmt, err := rdb.PrepareContext(ctx, bareSelect)
		if err != nil {
			b.Fatal(err)
		}
		defer stmt.Close() //nolint:errcheck // read-only
		var read int
		start := time.Now()
		for b.Loop() {
			n, err := bareScanAll(ctx, stmt)
			if err != nil {
				b.Fatal(err)
			}
			if n != total {
				b.Fatalf("read %d rows, want %d", n, total)
			}
			read += n
		}
		b.ReportMetric(float64(read)/time.Since(start).Seconds(), "rows/s")
	})

	b.Run("driver", func(b *testing.B) {
		conn, err := rdb.Conn(ctx)
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close() //nolint:errcheck // read-only
		var read int
		start := time.Now()
		for b.Loop() {
			var n int
			err := conn.Raw(func(dc any) error {
				var err error
				n, err = bareDriverAll(ctx, dc)
				return err
			})
			if err != nil {
				b.Fatal(err)
			}
			if n != total {
				b.Fatalf("read %d rows, want %d", n, total)
			}
			read += n
		}
		b.ReportMetric(float64(read)/time.Since(start).Seconds(), "rows/s")
	})
}

// bareScanAll pages through the table with database/sql and returns the
// rows read.
func bareScanAll(ctx context.Context, stmt *sql.Stmt) (int, error) {
	var (
		read                               int
		after, position, version, recorded int64
		stream, typ                        string
		id, data, meta                     []byte
	)
	for {
		rows, err := stmt.QueryContext(ctx, after, barePage)
		if err != nil {
			return read, err
		}
		n := 0
		for rows.Next() {
			if err := rows.Scan(&position, &stream, &version, &id, &typ, &data, &meta, &recorded); err != nil {
				return read, errors.Join(err, rows.Close())
			}
			n++
		}
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return read, err
		}
		if n == 0 {
			return read, nil
		}
		read += n
		after = position
	}
}

// bareDriverAll pages through the table on a driver connection and returns
// the rows read.
func bareDriverAll(ctx context.Context, dc any) (read int, err error) {
	p, ok := dc.(driver.ConnPrepareContext)
	if !ok {
		return 0, fmt.Errorf("driver connection %T cannot prepare", dc)
	}
	st, err := p.PrepareContext(ctx, bareSelect)
	if err != nil {
		return 0, err
	}
	defer func() { err = errors.Join(err, st.Close()) }()
	q, ok := st.(driver.StmtQueryContext)
	if !ok {
		return 0, fmt.Errorf("driver statement %T cannot query with a context", st)
	}
	row := make([]driver.Value, 8)
	var after int64
	for {
		rows, err := q.QueryContext(ctx, []driver.NamedValue{{Ordinal: 1, Value: after}, {Ordinal: 2, Value: int64(barePage)}})
		if err != nil {
			return read, err
		}
		n := 0
		for {
			if err := rows.Next(row); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				return read, errors.Join(err, rows.Close())
			}
			n++
			after = row[0].(int64)
		}
		if err := rows.Close(); err != nil {
			return read, err
		}
		if n == 0 {
			return read, nil
		}
		read += n
	}
}
