// Package campaign runs the real orderstore binary as a host process and
// tries to break it: a crash campaign (kill -9 under load from several
// clients, restart, verify every acknowledged command and the read models),
// a slowloris client, a full disk and a read-only data directory under a
// running server, and foreign or corrupted data files at start.
//
// The tests build the binary with the go command (with -race when the
// tests run with it) into a temporary directory; they need neither Docker
// nor network access beyond the loopback interface. -short skips them.
// The crash campaign takes flags:
//
//	go test ./integration/campaign/ -run Campaign -v -campaign.rounds 20 -campaign.seed 42
//
// It has no code of its own besides this comment: everything is in
// _test.go files.
package campaign
