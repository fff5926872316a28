package webhooks

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"
)

const (
	// secretPrefix starts every signing secret (Standard Webhooks).
	secretPrefix = "whsec_"
	// secretBytes is the length of a signing secret's random part.
	secretBytes = 32
	// KeySize is the length of the key that seals secrets at rest
	// (AES-256-GCM).
	KeySize = 32
)

// newSecret returns a new signing secret, whsec_ + base64 of 32 random
// bytes.
func newSecret() string {
	b := make([]byte, secretBytes)
	_, _ = rand.Read(b) //nolint:errcheck // crypto/rand.Read never fails (Go 1.24+)
	return secretPrefix + base64.StdEncoding.EncodeToString(b)
}

// secretKey returns the bytes a secret signs with: the base64-decoded part
// after whsec_.
func secretKey(secret string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, secretPrefix))
	if err != nil {
		return nil, fmt.Errorf("decode secret: %w", err)
	}
	return b, nil
}

// sign returns the webhook-signature entry of one secret:
// v1,<base64(HMAC-SHA256(key, id.timestamp.body))>.
func sign(key []byte, id, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// sealer seals secrets at rest with AES-256-GCM; the endpoint ID is the
// additional data, so a sealed secret moved to another row does not open.
type sealer struct{ aead cipher.AEAD }

func newSealer(key []byte) (*sealer, error) {
	if len(key) != KeySize {
		return nil, fmt.Errorf("%w: %d bytes, want %d", ErrKey, len(key), KeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKey, err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKey, err)
	}
	return &sealer{aead: aead}, nil
}

func (s *sealer) seal(endpointID, secret string) []byte {
	nonce := make([]byte, s.aead.NonceSize())
	_, _ = rand.Read(nonce) //nolint:errcheck // never fails
	return s.aead.Seal(nonce, nonce, []byte(secret), []byte(endpointID))
}

func (s *sealer) open(endpointID string, sealed []byte) (string, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return "", fmt.Errorf("%w: sealed secret of endpoint %s is too short", ErrKey, endpointID)
	}
	plain, err := s.aead.Open(nil, sealed[:n], sealed[n:], []byte(endpointID))
	if err != nil {
		return "", fmt.Errorf("%w: the secret of endpoint %s does not open with this key", ErrKey, endpointID)
	}
	return string(plain), nil
}

// ParseKey reads a key as written in a key file or the environment: the
// base64 of 32 bytes, surrounding space ignored.
func ParseKey(text []byte) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(text)))
	if err != nil || len(key) != KeySize {
		return nil, fmt.Errorf("%w: want the base64 of %d bytes (e.g. head -c %d /dev/urandom | base64)", ErrKey, KeySize, KeySize)
	}
	return key, nil
}

// LoadKey reads the key in the file at path. With create, a missing file
// is created first, mode 0600, holding a new random key (written and
// synced before use, so a crash never leaves secrets sealed with a key
// that was not kept).
func LoadKey(path string, create bool) (_ []byte, err error) {
	text, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && create {
		return createKey(path)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKey, err)
	}
	key, err := ParseKey(text)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return key, nil
}

func createKey(path string) (_ []byte, err error) {
	key := make([]byte, KeySize)
	_, _ = rand.Read(key) //nolint:errcheck // never fails
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("%w: create %s: %w", ErrKey, path, err)
	}
	defer func() { err = errors.Join(err, f.Close()) }()
	if _, err := f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n"); err != nil {
		return nil, fmt.Errorf("%w: write %s: %w", ErrKey, path, err)
	}
	if err := f.Sync(); err != nil {
		return nil, fmt.Errorf("%w: sync %s: %w", ErrKey, path, err)
	}
	return key, nil
}
