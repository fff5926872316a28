package api

import (
	"bufio"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// Scope is a permission a token grants. Scopes do not imply one another: a
// token has exactly the scopes its line lists (an operator's lists
// read,write,admin), so that a rebuild job holds admin alone and a writer
// write alone.
type Scope string

// The scopes a token can hold.
const (
	// ScopeRead allows every GET (and HEAD) route but /healthz and /readyz,
	// which are open.
	ScopeRead Scope = "read"
	// ScopeWrite allows the commands: POST and DELETE on orders and stock.
	ScopeWrite Scope = "write"
	// ScopeAdmin allows operator actions: projection rebuilds, and the
	// webhook and console routes to come.
	ScopeAdmin Scope = "admin"
)

// TokenPrefix starts every token `orderstore token new` makes, so that a
// leaked one is recognisable (secret scanners, logs).
const TokenPrefix = "ost_"

// tokenBytes is the entropy of a new token.
const tokenBytes = 32

// maxTokenNameLen bounds a token's name, which goes into logs and event
// metadata.
const maxTokenNameLen = 64

// Token is one entry of a tokens file: who it is (Name, the actor recorded
// on what it does), what it may do, and the SHA-256 of its secret. The
// secret itself is never stored.
type Token struct {
	Name   string
	Scopes []Scope
	Hash   [sha256.Size]byte
}

// Has reports whether the token grants scope.
func (t Token) Has(scope Scope) bool { return slices.Contains(t.Scopes, scope) }

// Line is the token's line in a tokens file.
func (t Token) Line() string {
	s := make([]string, len(t.Scopes))
	for i, sc := range t.Scopes {
		s[i] = string(sc)
	}
	return t.Name + " " + strings.Join(s, ",") + " " + hex.EncodeToString(t.Hash[:])
}

// Tokens is the set of tokens the API accepts. Its zero value accepts none.
// It is safe for concurrent use (it never changes after parsing).
type Tokens struct {
	entries []Token
}

// Len returns the number of tokens.
func (ts *Tokens) Len() int { return len(ts.entries) }

// Authenticate returns the token whose secret is presented. It hashes the
// secret and compares the hash with every entry in constant time, without
// stopping at a match, so that timing tells nothing about which entry (or
// how much of one) matched.
func (ts *Tokens) Authenticate(secret string) (Token, bool) {
	h := sha256.Sum256([]byte(secret))
	found := -1
	for i := range ts.entries {
		eq := subtle.ConstantTimeCompare(h[:], ts.entries[i].Hash[:])
		found = subtle.ConstantTimeSelect(eq, i, found)
	}
	if found < 0 {
		return Token{}, false
	}
	return ts.entries[found], true
}

// NewToken makes a token named name with scopes from rand: it returns the
// secret, to be shown once, and the entry whose Line goes into the tokens
// file.
func NewToken(random io.Reader, name string, scopes []Scope) (secret string, t Token, err error) {
	if err := validTokenName(name); err != nil {
		return "", Token{}, err
	}
	if len(scopes) == 0 {
		return "", Token{}, errors.New("no scope: give one or more of read, write, admin")
	}
	b := make([]byte, tokenBytes)
	if _, err := io.ReadFull(random, b); err != nil {
		return "", Token{}, fmt.Errorf("random token: %w", err)
	}
	secret = TokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	return secret, Token{Name: name, Scopes: scopes, Hash: sha256.Sum256([]byte(secret))}, nil
}

// GenerateToken is NewToken with crypto/rand.
func GenerateToken(name string, scopes []Scope) (secret string, t Token, err error) {
	return NewToken(rand.Reader, name, scopes)
}

// ParseScopes parses a comma-separated list of scopes (read,write,admin).
func ParseScopes(list string) ([]Scope, error) {
	var out []Scope
	for _, s := range strings.Split(list, ",") {
		sc := Scope(strings.TrimSpace(s))
		switch {
		case sc == "":
			return nil, fmt.Errorf("scopes %q: empty scope; want a comma-separated list of read, write, admin", list)
		case sc != ScopeRead && sc != ScopeWrite && sc != ScopeAdmin:
			return nil, fmt.Errorf("unknown scope %q; want read, write or admin", sc)
		case slices.Contains(out, sc):
			return nil, fmt.Errorf("scope %q given twice", sc)
		}
		out = append(out, sc)
	}
	return out, nil
}

func validTokenName(name string) error {
	if name == "" || len(name) > maxTokenNameLen || strings.IndexFunc(name, func(c rune) bool {
		return (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '-' && c != '_' && c != '.' && c != '@'
	}) >= 0 {
		return fmt.Errorf("token name %q: want 1 to %d characters of A-Z a-z 0-9 - _ . @", name, maxTokenNameLen)
	}
	return nil
}

// ParseTokens reads a tokens file: one token a line, `name scope[,scope]
// sha256-hex` (fields separated by spaces or tabs); blank lines and lines
// starting with # are skipped. Names and hashes must be unique. Errors name
// the line.
func ParseTokens(r io.Reader) (*Tokens, error) {
	ts := &Tokens{}
	names := map[string]int{}
	hashes := map[[sha256.Size]byte]int{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		t, err := parseTokenLine(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		if prev, ok := names[t.Name]; ok {
			return nil, fmt.Errorf("line %d: token name %q is already on line %d; names must be unique (they identify the actor)", n, t.Name, prev)
		}
		if prev, ok := hashes[t.Hash]; ok {
			return nil, fmt.Errorf("line %d: the same hash is already on line %d; give each client a token of its own", n, prev)
		}
		names[t.Name], hashes[t.Hash] = n, n
		ts.entries = append(ts.entries, t)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return ts, nil
}

func parseTokenLine(line string) (Token, error) {
	f := strings.Fields(line)
	if len(f) != 3 {
		if len(f) == 1 && strings.HasPrefix(f[0], TokenPrefix) {
			// Someone pasted the secret: say so without repeating it.
			return Token{}, errors.New("this looks like a token itself, not its line: the file holds `name scope[,scope] sha256-hex` (orderstore token new prints that line); remove the secret from this file")
		}
		return Token{}, fmt.Errorf("want 3 fields `name scope[,scope] sha256-hex`, got %d", len(f))
	}
	if err := validTokenName(f[0]); err != nil {
		return Token{}, err
	}
	scopes, err := ParseScopes(f[1])
	if err != nil {
		return Token{}, err
	}
	var t Token
	if len(f[2]) != hex.EncodedLen(sha256.Size) {
		return Token{}, fmt.Errorf("hash: want %d hex digits (a SHA-256), got %d characters", hex.EncodedLen(sha256.Size), len(f[2]))
	}
	if _, err := hex.Decode(t.Hash[:], []byte(f[2])); err != nil {
		return Token{}, fmt.Errorf("hash: not hexadecimal: %w", err)
	}
	t.Name, t.Scopes = f[0], scopes
	return t, nil
}

// LoadTokens reads the tokens file at path (see ParseTokens). A file
// without a single token is an error: serving with it would refuse every
// request.
func LoadTokens(path string) (*Tokens, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("tokens file: %w", err)
	}
	defer f.Close() //nolint:errcheck // read only
	ts, err := ParseTokens(f)
	if err != nil {
		return nil, fmt.Errorf("tokens file %s: %w", path, err)
	}
	if ts.Len() == 0 {
		return nil, fmt.Errorf("tokens file %s: no token in it; add lines printed by `orderstore token new NAME --scope read,write`", path)
	}
	return ts, nil
}
