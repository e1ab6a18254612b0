package seal

import (
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"slices"
)

// Key is a private sealing key and its ID, the kid that clients send with
// passwords sealed to it.
type Key struct {
	ID      string
	Private *rsa.PrivateKey
}

// Opener opens sealed passwords with the current sealing key or, during a key
// rotation, with one of the previous keys. It is safe for concurrent use.
type Opener struct {
	keys   []Key // Never modified after NewOpener; keys[0] is the current key.
	legacy bool
	// maxSealed bounds the length of the sealed strings worth decoding, so that
	// a huge request body costs no more than a real one.
	maxSealed int
}

// NewOpener returns an Opener for keys, the first of which is the current key
// and the others previous keys still accepted during a rotation.
//
// With legacyPKCS1, a ciphertext that fails OAEP is also tried with PKCS #1
// v1.5 padding, for the old clients of the tutorial. That padding is
// vulnerable to Bleichenbacher's attack: anyone who can tell a padding failure
// from a wrong password can, with enough requests, decrypt any sealed password
// captured earlier. Callers that enable it must answer ErrDecryption exactly
// like a wrong password, with the same status, body and timing (that is,
// after a dummy password-hash comparison), and should turn it off as soon as
// those clients are gone.
//
// NewOpener panics if keys is empty or a key has no private key: that is a
// programming error, not a condition to handle. It precomputes the keys' CRT
// values if they lack them, so it must be called before the keys are shared
// with other goroutines.
func NewOpener(keys []Key, legacyPKCS1 bool) *Opener {
	if len(keys) == 0 {
		panic("seal: NewOpener needs at least one key")
	}
	o := &Opener{keys: slices.Clone(keys), legacy: legacyPKCS1}
	for _, k := range o.keys {
		if k.Private == nil || k.Private.N == nil {
			panic("seal: NewOpener: key " + k.ID + " has no private key")
		}
		// Keys from crypto/x509 and rsa.GenerateKey are precomputed already;
		// others would be precomputed again on every Open.
		k.Private.Precompute()
		o.maxSealed = max(o.maxSealed, 2*base64.StdEncoding.EncodedLen(k.Private.Size())+64)
	}
	return o
}

// Current returns the key that clients should seal new passwords with.
func (o *Opener) Current() Key {
	return o.keys[0]
}

// Open decrypts a password sealed to the key named kid, or, if kid is empty,
// to any of the Opener's keys, trying the current key first. The sealed value
// is base64 as DecodeBase64 accepts it.
//
// Open returns ErrUnknownKey if kid names none of the keys, ErrMalformed if
// sealed is not base64 or not as long as the key's modulus, and ErrDecryption
// if it does not decrypt. The errors are never wrapped.
func (o *Opener) Open(kid, sealed string) ([]byte, error) {
	keys := o.keys
	if kid != "" {
		i := slices.IndexFunc(o.keys, func(k Key) bool { return k.ID == kid })
		if i < 0 {
			return nil, ErrUnknownKey
		}
		keys = o.keys[i : i+1]
	}
	if len(sealed) > o.maxSealed {
		return nil, ErrMalformed
	}
	ct, err := DecodeBase64(sealed)
	if err != nil {
		return nil, ErrMalformed
	}
	// OAEP with every key first, then PKCS #1 v1.5: a valid OAEP ciphertext
	// for a previous key, decrypted with the current one, passes the weak
	// PKCS #1 v1.5 check about once in 2^16 tries and would yield garbage.
	sized := false
	for _, k := range keys {
		if len(ct) != k.Private.Size() {
			continue
		}
		sized = true
		if pt, err := rsa.DecryptOAEP(sha256.New(), nil, k.Private, ct, nil); err == nil {
			return pt, nil
		}
	}
	if !sized {
		return nil, ErrMalformed
	}
	if o.legacy {
		for _, k := range keys {
			if len(ct) != k.Private.Size() {
				continue
			}
			//lint:ignore SA1019 PKCS #1 v1.5 is opt-in for old clients; NewOpener documents the oracle it creates and how callers must hide it.
			if pt, err := rsa.DecryptPKCS1v15(nil, k.Private, ct); err == nil {
				return pt, nil
			}
		}
	}
	return nil, ErrDecryption
}
