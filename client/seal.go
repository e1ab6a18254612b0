package client

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
)

// AlgRSAOAEP256 is the sealing algorithm the server names at /public-key:
// RSA-OAEP with SHA-256 and MGF1-SHA-256.
const AlgRSAOAEP256 = "RSA-OAEP-256"

// minKeyBits is the smallest sealing key the client seals to.
const minKeyBits = 2048

// PublicKey is the server's sealing key, as GET /api/auth/public-key gives it.
// The client shares one PublicKey between calls; do not modify it.
type PublicKey struct {
	// KID is the key id; sealed passwords name it so that the server knows
	// which key opens them.
	KID string
	// Alg is the sealing algorithm, AlgRSAOAEP256.
	Alg string
	// PEM is the PKIX public key in PEM ("-----BEGIN PUBLIC KEY-----").
	PEM string
	// Key is the parsed RSA key.
	Key *rsa.PublicKey
}

// PublicKey returns the server's sealing key. The first call fetches it from
// GET /api/auth/public-key; later calls return the cached key until the server
// refuses it (400 unknown_key), after which the next call fetches it anew.
func (c *Client) PublicKey(ctx context.Context) (*PublicKey, error) {
	if k := c.cachedKey(); k != nil {
		return k, nil
	}
	// One fetch at a time; whoever waited finds the key cached.
	select {
	case c.fetch <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("sealauth: public key: %w", context.Cause(ctx))
	}
	defer func() { <-c.fetch }()
	if k := c.cachedKey(); k != nil {
		return k, nil
	}
	k, err := c.fetchKey(ctx)
	if err != nil {
		return nil, err
	}
	c.keyMu.Lock()
	c.key = k
	c.keyMu.Unlock()
	return k, nil
}

func (c *Client) cachedKey() *PublicKey {
	c.keyMu.Lock()
	defer c.keyMu.Unlock()
	return c.key
}

// forgetKey drops k from the cache, unless another call has already replaced it.
func (c *Client) forgetKey(k *PublicKey) {
	c.keyMu.Lock()
	defer c.keyMu.Unlock()
	if c.key == k {
		c.key = nil
	}
}

func (c *Client) fetchKey(ctx context.Context) (*PublicKey, error) {
	var doc struct {
		KID       string `json:"kid"`
		Alg       string `json:"alg"`
		PublicKey string `json:"public_key"`
	}
	if err := c.do(ctx, call{op: "public key", method: "GET", path: "/api/auth/public-key"}, &doc); err != nil {
		return nil, err
	}
	if doc.Alg != "" && doc.Alg != AlgRSAOAEP256 {
		return nil, fmt.Errorf("sealauth: public key: algorithm %q, want %s", printable(doc.Alg, 40), AlgRSAOAEP256)
	}
	pub, err := parsePublicKey(doc.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("sealauth: public key: %w", err)
	}
	alg := doc.Alg
	if alg == "" {
		alg = AlgRSAOAEP256
	}
	return &PublicKey{KID: doc.KID, Alg: alg, PEM: doc.PublicKey, Key: pub}, nil
}

// parsePublicKey reads a PEM "PUBLIC KEY" (PKIX) block holding an RSA key of
// at least minKeyBits.
func parsePublicKey(s string) (*rsa.PublicKey, error) {
	block, _ := pem.Decode([]byte(s))
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	if block.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("PEM block %q, want PUBLIC KEY", printable(block.Type, 40))
	}
	key, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	pub, ok := key.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("a %T, want an RSA key", key)
	}
	if pub.N.BitLen() < minKeyBits {
		return nil, fmt.Errorf("RSA key of %d bits, want at least %d", pub.N.BitLen(), minKeyBits)
	}
	return pub, nil
}

// Seal seals password under the server's public key (fetched and cached as by
// [Client.PublicKey]) and returns the sealed value, the base64 of the
// RSA-OAEP-SHA256 ciphertext, with the key id to send beside it as "kid".
// Each call gives a different value (OAEP is randomised); every one opens.
//
// The methods of Client seal their passwords themselves; Seal is for requests
// made by other means.
func (c *Client) Seal(ctx context.Context, password string) (sealed, kid string, err error) {
	k, err := c.PublicKey(ctx)
	if err != nil {
		return "", "", err
	}
	sealed, err = sealWith(k, password)
	if err != nil {
		return "", "", fmt.Errorf("sealauth: seal: %w", err)
	}
	return sealed, k.KID, nil
}

// errTooLong does not say how long the password is.
var errTooLong = errors.New("password too long to seal")

func sealWith(k *PublicKey, password string) (string, error) {
	// OAEP with SHA-256 fits k - 2*32 - 2 bytes: 190 for RSA-2048, far above
	// the server's limit of 72 bytes.
	if len(password) > k.Key.Size()-2*sha256.Size-2 {
		return "", errTooLong
	}
	ct, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, k.Key, []byte(password), nil)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(ct), nil
}
