package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/orderstore/orderstore/api"
)

const tokenUsage = `Usage: orderstore token new NAME --scope read,write,admin

Makes an API token. It prints the token once (the server never stores it,
only its SHA-256) and the line to add to the file serve reads with
--tokens-file. NAME identifies the client: it is logged with each request
and recorded as the actor of every event the token writes.

Scopes (a token has exactly the scopes listed; none implies another):
  read   GET routes: orders, events, stock, analytics, projections
  write  commands: POST and DELETE on orders and stock
  admin  projection rebuilds (and webhook and console actions)
`

// token runs `orderstore token <subcommand>`.
func token(_ context.Context, args []string, _ func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, tokenUsage)
		return &usageError{msg: "token: no subcommand given (want: new)"}
	}
	switch args[0] {
	case "new":
		return tokenNew(args[1:], stdout, stderr)
	case "help", "-h", "--help", "-help":
		fmt.Fprint(stdout, tokenUsage)
		return nil
	}
	fmt.Fprint(stderr, tokenUsage)
	return &usageError{msg: fmt.Sprintf("token: unknown subcommand %q (want: new)", args[0])}
}

func tokenNew(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("orderstore token new", flag.ContinueOnError)
	fs.SetOutput(stderr)
	scopeList := fs.String("scope", "", "comma-separated scopes the token grants: read, write, admin (required)")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), tokenUsage+"\nFlags:\n")
		fs.PrintDefaults()
	}
	// NAME may come before the flags (as the usage shows) or after them.
	var name string
	switch n := len(args); {
	case n > 0 && !strings.HasPrefix(args[0], "-"):
		name, args = args[0], args[1:]
	case n > 0 && !strings.HasPrefix(args[n-1], "-") && (n < 2 || !isFlagWithValue(args[n-2])):
		name, args = args[n-1], args[:n-1]
	}
	if help, err := parse(fs, args, stdout); help || err != nil {
		return err
	}
	if name == "" {
		fs.Usage()
		return &usageError{msg: "token new: give the token a NAME"}
	}
	if *scopeList == "" {
		return &usageError{msg: "token new: give --scope, e.g. --scope read or --scope read,write"}
	}
	scopes, err := api.ParseScopes(*scopeList)
	if err != nil {
		return &usageError{msg: "token new: --scope: " + err.Error()}
	}
	secret, tok, err := api.GenerateToken(name, scopes)
	if err != nil {
		return &usageError{msg: "token new: " + err.Error()}
	}
	fmt.Fprintf(stdout, "token:       %s\n", secret)
	fmt.Fprintf(stdout, "tokens-file: %s\n", tok.Line())
	fmt.Fprintf(stdout, "\nGive the token to the client (Authorization: Bearer <token>); it is shown only\n"+
		"this once. Add the tokens-file line to the file serve reads (--tokens-file)\nand restart serve.\n")
	return nil
}

// isFlagWithValue tells whether arg is --scope (or -scope) without =, so
// that the next argument is its value, not the NAME.
func isFlagWithValue(arg string) bool { return arg == "--scope" || arg == "-scope" }

// accessControl decides serve's access control from its flags: the tokens
// of --tokens-file, or none. Without tokens it refuses an address other
// machines can reach unless --insecure-no-auth says so: anyone who reaches
// the port could then write.
func accessControl(addr, tokensFile string, insecure bool) (*api.Tokens, error) {
	switch {
	case tokensFile != "" && insecure:
		return nil, &usageError{msg: "--tokens-file and --insecure-no-auth contradict each other: give one"}
	case tokensFile != "":
		return api.LoadTokens(tokensFile)
	case insecure || loopback(addr):
		return nil, nil
	}
	return nil, &usageError{msg: fmt.Sprintf("refusing to serve on %s without access control: that address is "+
		"reachable from other machines, and anyone who reaches it could place orders and start rebuilds.\n"+
		"  Give --tokens-file FILE (env ORDERSTORE_TOKENS_FILE), with lines printed by\n"+
		"      orderstore token new NAME --scope read,write,admin\n"+
		"  or listen on loopback only (--addr 127.0.0.1:8080),\n"+
		"  or, on a network where every client may do anything, pass --insecure-no-auth", addr)}
}

// loopback tells whether addr's host reaches this machine only: localhost
// or a loopback IP. An empty host (every interface) or any other name is
// not, since a name may resolve elsewhere.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
