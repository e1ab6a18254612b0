package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"
)

func TestGenerateSigningKey(t *testing.T) {
	msg := []byte("header.payload")
	digest := sha256.Sum256(msg)
	tests := []struct {
		alg      string
		wantType string
		// sign and verify use the key the way a JWT library does for alg.
		sign   func(crypto.Signer) ([]byte, error)
		verify func(crypto.PublicKey, []byte) bool
	}{
		{
			alg: ES256, wantType: "*ecdsa.PrivateKey",
			sign: func(k crypto.Signer) ([]byte, error) { return k.Sign(rand.Reader, digest[:], crypto.SHA256) },
			verify: func(p crypto.PublicKey, sig []byte) bool {
				return ecdsa.VerifyASN1(p.(*ecdsa.PublicKey), digest[:], sig)
			},
		},
		{
			alg: RS256, wantType: "*rsa.PrivateKey",
			sign: func(k crypto.Signer) ([]byte, error) { return k.Sign(rand.Reader, digest[:], crypto.SHA256) },
			verify: func(p crypto.PublicKey, sig []byte) bool {
				return rsa.VerifyPKCS1v15(p.(*rsa.PublicKey), crypto.SHA256, digest[:], sig) == nil
			},
		},
		{
			alg: PS256, wantType: "*rsa.PrivateKey",
			sign: func(k crypto.Signer) ([]byte, error) {
				return k.Sign(rand.Reader, digest[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256})
			},
			verify: func(p crypto.PublicKey, sig []byte) bool {
				return rsa.VerifyPSS(p.(*rsa.PublicKey), crypto.SHA256, digest[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) == nil
			},
		},
		{
			alg: EdDSA, wantType: "ed25519.PrivateKey",
			sign: func(k crypto.Signer) ([]byte, error) { return k.Sign(nil, msg, crypto.Hash(0)) },
			verify: func(p crypto.PublicKey, sig []byte) bool {
				return ed25519.Verify(p.(ed25519.PublicKey), msg, sig)
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.alg, func(t *testing.T) {
			t.Parallel()
			k, err := GenerateSigningKey(tc.alg)
			if err != nil {
				t.Fatal(err)
			}
			if k.Alg != tc.alg {
				t.Errorf("Alg = %s, want %s", k.Alg, tc.alg)
			}
			if got := fmt.Sprintf("%T", k.Key); got != tc.wantType {
				t.Errorf("Key is %s, want %s", got, tc.wantType)
			}
			if rk, ok := k.Key.(*rsa.PrivateKey); ok && rk.N.BitLen() != 2048 {
				t.Errorf("RSA key has %d bits, want 2048", rk.N.BitLen())
			}
			id, err := Thumbprint(k.Key.Public())
			if err != nil {
				t.Fatal(err)
			}
			if k.ID != id {
				t.Errorf("ID = %s, want the thumbprint %s", k.ID, id)
			}
			sig, err := tc.sign(k.Key)
			if err != nil {
				t.Fatal(err)
			}
			if !tc.verify(k.Key.Public(), sig) {
				t.Error("signature does not verify")
			}

			// The key survives a trip through PEM with the same ID.
			data, err := MarshalPrivateKeyPEM(k.Key)
			if err != nil {
				t.Fatal(err)
			}
			signer, err := ParsePrivateKeyPEM(data)
			if err != nil {
				t.Fatal(err)
			}
			back, err := NewSigningKey(tc.alg, signer)
			if err != nil {
				t.Fatal(err)
			}
			if back.ID != k.ID {
				t.Errorf("ID after PEM round trip = %s, want %s", back.ID, k.ID)
			}
		})
	}
}

func TestUnsupportedAlg(t *testing.T) {
	for _, alg := range []string{"", "none", "HS256", "es256", "ES384", "RS512", "RSA-OAEP-256"} {
		if _, err := GenerateSigningKey(alg); !errors.Is(err, ErrUnsupportedAlg) {
			t.Errorf("GenerateSigningKey(%q): error = %v, want ErrUnsupportedAlg", alg, err)
		}
		if err := CheckAlg(alg); !errors.Is(err, ErrUnsupportedAlg) {
			t.Errorf("CheckAlg(%q): error = %v, want ErrUnsupportedAlg", alg, err)
		}
	}
}

func TestNewSigningKeyMismatch(t *testing.T) {
	ed, err := GenerateSigningKey(EdDSA)
	if err != nil {
		t.Fatal(err)
	}
	for _, alg := range []string{ES256, RS256, PS256} {
		_, err := NewSigningKey(alg, ed.Key)
		var mismatch *AlgMismatchError
		if !errors.As(err, &mismatch) {
			t.Fatalf("NewSigningKey(%s, Ed25519 key): error = %v, want *AlgMismatchError", alg, err)
		}
		want := "keys: an Ed25519 key (EdDSA) cannot sign " + alg
		if err.Error() != want {
			t.Errorf("NewSigningKey(%s, Ed25519 key): error = %q, want %q", alg, err, want)
		}
	}
}
