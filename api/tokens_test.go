package api

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func hashHex(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

func TestParseTokens(t *testing.T) {
	a, b := hashHex("ost_a"), hashHex("ost_b")
	t.Run("Valid", func(t *testing.T) {
		file := "# orderstore tokens\n\n" +
			"alice read,write " + a + "\n" +
			"   # indented comment\n" +
			"ops\tread,write,admin\t" + strings.ToUpper(b) + "  \n"
		ts, err := ParseTokens(strings.NewReader(file))
		if err != nil {
			t.Fatal(err)
		}
		if ts.Len() != 2 {
			t.Fatalf("%d tokens, want 2", ts.Len())
		}
		tok, ok := ts.Authenticate("ost_a")
		if !ok || tok.Name != "alice" || !tok.Has(ScopeRead) || !tok.Has(ScopeWrite) || tok.Has(ScopeAdmin) {
			t.Errorf("ost_a: %+v %v, want alice with read,write", tok, ok)
		}
		tok, ok = ts.Authenticate("ost_b")
		if !ok || tok.Name != "ops" || !tok.Has(ScopeAdmin) {
			t.Errorf("ost_b: %+v %v, want ops with admin", tok, ok)
		}
		for _, s := range []string{"", "ost_c", "ost_a ", a} {
			if tok, ok := ts.Authenticate(s); ok {
				t.Errorf("%q authenticates as %s", s, tok.Name)
			}
		}
	})
	t.Run("Empty", func(t *testing.T) {
		ts, err := ParseTokens(strings.NewReader("# nothing yet\n"))
		if err != nil || ts.Len() != 0 {
			t.Fatalf("%v, %v: want an empty set", ts, err)
		}
		if _, ok := ts.Authenticate(""); ok {
			t.Error("the empty set authenticates the empty token")
		}
	})
	for name, tc := range map[string]struct{ file, want string }{
		"TooFewFields":   {"# c\nalice read\n", "line 2: want 3 fields"},
		"TooManyFields":  {"alice read " + a + " extra\n", "line 1: want 3 fields"},
		"UnknownScope":   {"alice read,delete " + a + "\n", `line 1: unknown scope "delete"`},
		"EmptyScope":     {"alice read,," + a + "\n", "line 1: want 3 fields"},
		"RepeatedScope":  {"alice read,read " + a + "\n", `line 1: scope "read" given twice`},
		"ShortHash":      {"alice read abc\n", "line 1: hash: want 64 hex digits"},
		"NotHex":         {"alice read " + strings.Repeat("g", 64) + "\n", "line 1: hash: not hexadecimal"},
		"BadName":        {"al/ice read " + a + "\n", `line 1: token name "al/ice"`},
		"DuplicateName":  {"alice read " + a + "\n\nalice write " + b + "\n", `line 3: token name "alice" is already on line 1`},
		"DuplicateHash":  {"alice read " + a + "\nbob write " + a + "\n", "line 2: the same hash is already on line 1"},
		"PastedSecret":   {"ost_AAAAsecretsecret\n", "line 1: this looks like a token itself"},
		"ScopeListSpace": {"alice read, write " + a + "\n", "line 1: want 3 fields"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseTokens(strings.NewReader(tc.file))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "secretsecret") {
				t.Errorf("the error repeats the secret: %v", err)
			}
		})
	}
}

func TestNewToken_RoundTrip(t *testing.T) {
	secret, tok, err := NewToken(bytes.NewReader(bytes.Repeat([]byte{7}, 64)), "ci-bot", []Scope{ScopeRead, ScopeAdmin})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, TokenPrefix) || len(secret) != len(TokenPrefix)+43 {
		t.Errorf("secret %q: want %s and 43 base64url characters (32 bytes)", secret, TokenPrefix)
	}
	if strings.Contains(tok.Line(), secret) {
		t.Fatalf("the tokens-file line holds the secret: %s", tok.Line())
	}
	ts, err := ParseTokens(strings.NewReader(tok.Line() + "\n"))
	if err != nil {
		t.Fatalf("the printed line does not parse: %v", err)
	}
	got, ok := ts.Authenticate(secret)
	if !ok || got.Name != "ci-bot" || !got.Has(ScopeRead) || !got.Has(ScopeAdmin) || got.Has(ScopeWrite) {
		t.Fatalf("round trip: %+v %v", got, ok)
	}

	a, _, err := GenerateToken("a", []Scope{ScopeRead})
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := GenerateToken("a", []Scope{ScopeRead})
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Error("two generated tokens are equal")
	}
	for _, name := range []string{"", "a b", strings.Repeat("x", 65), "é"} {
		if _, _, err := GenerateToken(name, []Scope{ScopeRead}); err == nil {
			t.Errorf("name %q accepted", name)
		}
	}
	if _, _, err := GenerateToken("x", nil); err == nil {
		t.Error("a token without scopes accepted")
	}
}

func TestLoadTokens(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadTokens(filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "tokens file") {
		t.Errorf("missing file: %v", err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("# none\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadTokens(empty); err == nil || !strings.Contains(err.Error(), "no token") {
		t.Errorf("file without tokens: %v, want a refusal", err)
	}
	bad := filepath.Join(dir, "bad")
	if err := os.WriteFile(bad, []byte("alice\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadTokens(bad); err == nil || !strings.Contains(err.Error(), bad+": line 1") {
		t.Errorf("malformed file: %v, want the path and line", err)
	}
}
