package keys

import (
	"bytes"
	"crypto"
	"encoding/pem"
	"fmt"
	"strings"
	"testing"
)

func TestParseRSAKeysFromOpenSSL(t *testing.T) {
	tests := []struct {
		name       string
		args       []string // openssl arguments that write the private key to OUT
		wantHeader string
		wantBits   int
		wantErr    string // for both the private and the public key
	}{
		{
			name:       "genrsa writes PKCS #8",
			args:       []string{"genrsa", "-out", "OUT", "2048"},
			wantHeader: "-----BEGIN PRIVATE KEY-----",
			wantBits:   2048,
		},
		{
			name:       "genrsa -traditional writes PKCS #1",
			args:       []string{"genrsa", "-traditional", "-out", "OUT", "2048"},
			wantHeader: "-----BEGIN RSA PRIVATE KEY-----",
			wantBits:   2048,
		},
		{
			name:       "3072 bits",
			args:       []string{"genrsa", "-out", "OUT", "3072"},
			wantHeader: "-----BEGIN PRIVATE KEY-----",
			wantBits:   3072,
		},
		{
			name:       "1024 bits are refused",
			args:       []string{"genrsa", "-out", "OUT", "1024"},
			wantHeader: "-----BEGIN PRIVATE KEY-----",
			wantErr:    "keys: RSA key is 1024 bits; at least 2048 are required",
		},
		{
			name:       "1024 bits PKCS #1 are refused",
			args:       []string{"genrsa", "-traditional", "-out", "OUT", "1024"},
			wantHeader: "-----BEGIN RSA PRIVATE KEY-----",
			wantErr:    "keys: RSA key is 1024 bits; at least 2048 are required",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			privPEM := opensslKey(t, tc.args...)
			if !bytes.HasPrefix(privPEM, []byte(tc.wantHeader)) {
				t.Fatalf("openssl wrote %q, want it to start with %q", firstLine(privPEM), tc.wantHeader)
			}
			keyFile := writeFile(t, "key.pem", privPEM)
			publics := map[string][]byte{
				"SPKI":    runTool(t, nil, "openssl", "rsa", "-in", keyFile, "-pubout"),
				"PKCS #1": runTool(t, nil, "openssl", "rsa", "-in", keyFile, "-RSAPublicKey_out"),
			}

			priv, err := ParseRSAPrivateKeyPEM(privPEM)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("ParseRSAPrivateKeyPEM: error = %v, want %q", err, tc.wantErr)
				}
				for form, pubPEM := range publics {
					if _, err := ParseRSAPublicKeyPEM(pubPEM); err == nil || err.Error() != tc.wantErr {
						t.Errorf("ParseRSAPublicKeyPEM(%s): error = %v, want %q", form, err, tc.wantErr)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseRSAPrivateKeyPEM: %v", err)
			}
			if got := priv.N.BitLen(); got != tc.wantBits {
				t.Errorf("ParseRSAPrivateKeyPEM: %d bits, want %d", got, tc.wantBits)
			}
			for form, pubPEM := range publics {
				pub, err := ParseRSAPublicKeyPEM(pubPEM)
				if err != nil {
					t.Errorf("ParseRSAPublicKeyPEM(%s): %v", form, err)
					continue
				}
				if !pub.Equal(&priv.PublicKey) {
					t.Errorf("ParseRSAPublicKeyPEM(%s) does not match the private key", form)
				}
			}
			// ParsePrivateKeyPEM accepts the same RSA keys for signing.
			signer, err := ParsePrivateKeyPEM(privPEM)
			if err != nil {
				t.Fatalf("ParsePrivateKeyPEM: %v", err)
			}
			if !priv.Equal(signer) {
				t.Error("ParsePrivateKeyPEM and ParseRSAPrivateKeyPEM disagree")
			}
		})
	}
}

func TestParsePrivateKeyPEMFromOpenSSL(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantType string // %T of the key
		wantErr  string
		// wantRSAErr is the error of ParseRSAPrivateKeyPEM for the key.
		wantRSAErr string
	}{
		{
			name:       "ECDSA P-256, PKCS #8",
			args:       []string{"genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "OUT"},
			wantType:   "*ecdsa.PrivateKey",
			wantRSAErr: "keys: the PEM data holds an ECDSA P-256 key (ES256), want an RSA key",
		},
		{
			name:     "ECDSA P-256, SEC 1 after EC PARAMETERS",
			args:     []string{"ecparam", "-name", "prime256v1", "-genkey", "-out", "OUT"},
			wantType: "*ecdsa.PrivateKey",
		},
		{
			name:       "Ed25519",
			args:       []string{"genpkey", "-algorithm", "ed25519", "-out", "OUT"},
			wantType:   "ed25519.PrivateKey",
			wantRSAErr: "keys: the PEM data holds an Ed25519 key (EdDSA), want an RSA key",
		},
		{
			name:    "ECDSA P-384 is refused",
			args:    []string{"genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384", "-out", "OUT"},
			wantErr: "keys: the ECDSA key uses P-384; only P-256 (ES256) is supported",
		},
		{
			name:    "X25519 cannot sign",
			args:    []string{"genpkey", "-algorithm", "X25519", "-out", "OUT"},
			wantErr: "keys: the PEM data holds a key of type *ecdh.PrivateKey, which cannot sign JWTs; use RSA, ECDSA P-256 or Ed25519",
		},
		{
			name:    "encrypted PKCS #8",
			args:    []string{"genpkey", "-algorithm", "ed25519", "-aes-256-cbc", "-pass", "pass:correct horse", "-out", "OUT"},
			wantErr: "keys: the private key is encrypted; sealauth needs it unencrypted (decrypt it with `openssl pkey -in key.pem -out plain.pem`) and protected by file permissions",
		},
		{
			name:    "encrypted PKCS #1",
			args:    []string{"genrsa", "-traditional", "-aes256", "-passout", "pass:correct horse", "-out", "OUT", "2048"},
			wantErr: "keys: the private key is encrypted; sealauth needs it unencrypted (decrypt it with `openssl pkey -in key.pem -out plain.pem`) and protected by file permissions",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			data := opensslKey(t, tc.args...)
			key, err := ParsePrivateKeyPEM(data)
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("ParsePrivateKeyPEM: error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParsePrivateKeyPEM: %v", err)
			}
			if got := fmt.Sprintf("%T", key); got != tc.wantType {
				t.Errorf("ParsePrivateKeyPEM: key is %s, want %s", got, tc.wantType)
			}
			if tc.wantRSAErr != "" {
				if _, err := ParseRSAPrivateKeyPEM(data); err == nil || err.Error() != tc.wantRSAErr {
					t.Errorf("ParseRSAPrivateKeyPEM: error = %v, want %q", err, tc.wantRSAErr)
				}
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	ed, err := GenerateSigningKey(EdDSA)
	if err != nil {
		t.Fatal(err)
	}
	good, err := MarshalPrivateKeyPEM(ed.Key)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(good)
	// Corrupt the DER where the private key sits, so that the parser fails on
	// key material and would be tempted to report it.
	corrupt := bytes.Clone(block.Bytes)
	corrupt[len(corrupt)-33] ^= 0xff
	corruptPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: corrupt})
	truncatedPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: block.Bytes[:20]})
	pubPEM, err := PublicKeyPEM(ed.Key.Public())
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		parse   func([]byte) error
		data    []byte
		wantErr string
	}{
		{"empty", parsePrivate, nil, "keys: no PEM block found"},
		{"not PEM", parsePrivate, []byte("MC4CAQAwBQYDK2VwBCIEI"), "keys: no PEM block found"},
		{"certificate", parsePrivate, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}}), `keys: found a PEM block of type "CERTIFICATE", want PRIVATE KEY`},
		{"corrupt PKCS #8", parsePrivate, corruptPEM, "keys: the PRIVATE KEY block is not a valid PKCS #8 private key"},
		{"corrupt PKCS #8 as RSA", parseRSAPrivate, corruptPEM, "keys: the PRIVATE KEY block is not a valid PKCS #8 private key"},
		{"truncated PKCS #1", parseRSAPrivate, truncatedPEM, "keys: the RSA PRIVATE KEY block is not a valid PKCS #1 private key"},
		{"public key as private", parsePrivate, pubPEM, `keys: found a PEM block of type "PUBLIC KEY", want PRIVATE KEY`},
		{"private key as public", parseRSAPublic, good, "keys: found a PRIVATE KEY block where a public key was expected; extract the public key with `openssl pkey -in key.pem -pubout`"},
		{"Ed25519 public key as RSA", parseRSAPublic, pubPEM, "keys: the PEM data holds an Ed25519 key (EdDSA), want an RSA key"},
		{"corrupt SPKI", parseRSAPublic, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: corrupt}), "keys: the PUBLIC KEY block is not a valid SubjectPublicKeyInfo"},
		{"corrupt PKCS #1 public", parseRSAPublic, pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: corrupt}), "keys: the RSA PUBLIC KEY block is not a valid PKCS #1 public key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.parse(tc.data)
			if err == nil || err.Error() != tc.wantErr {
				t.Fatalf("error = %v, want %q", err, tc.wantErr)
			}
			assertNoKeyMaterial(t, err, good)
			assertNoKeyMaterial(t, err, corruptPEM)
		})
	}
}

func TestMarshalPEMReadByOpenSSL(t *testing.T) {
	for _, alg := range []string{ES256, RS256, EdDSA} {
		t.Run(alg, func(t *testing.T) {
			t.Parallel()
			k, err := GenerateSigningKey(alg)
			if err != nil {
				t.Fatal(err)
			}
			privPEM, err := MarshalPrivateKeyPEM(k.Key)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(privPEM, []byte("-----BEGIN PRIVATE KEY-----\n")) {
				t.Fatalf("MarshalPrivateKeyPEM wrote %q, want PKCS #8", firstLine(privPEM))
			}
			pubPEM, err := PublicKeyPEM(k.Key.Public())
			if err != nil {
				t.Fatal(err)
			}
			// openssl derives the public key from our private key file and must
			// write exactly what PublicKeyPEM wrote.
			got := runTool(t, nil, "openssl", "pkey", "-in", writeFile(t, "key.pem", privPEM), "-pubout")
			if !bytes.Equal(got, pubPEM) {
				t.Errorf("openssl pkey -pubout:\n%s\nPublicKeyPEM:\n%s", got, pubPEM)
			}
			back, err := ParsePrivateKeyPEM(privPEM)
			if err != nil {
				t.Fatal(err)
			}
			if eq, ok := back.(interface{ Equal(crypto.PrivateKey) bool }); !ok || !eq.Equal(k.Key) {
				t.Error("ParsePrivateKeyPEM(MarshalPrivateKeyPEM(key)) != key")
			}
		})
	}
}

func parsePrivate(data []byte) error {
	_, err := ParsePrivateKeyPEM(data)
	return err
}

func parseRSAPrivate(data []byte) error {
	_, err := ParseRSAPrivateKeyPEM(data)
	return err
}

func parseRSAPublic(data []byte) error {
	_, err := ParseRSAPublicKeyPEM(data)
	return err
}

// assertNoKeyMaterial fails if err mentions any 8 consecutive characters of
// the base64 body of pemData, or any 4 consecutive bytes of the DER as hex or
// as Go prints byte slices.
func assertNoKeyMaterial(t *testing.T, err error, pemData []byte) {
	t.Helper()
	msg := err.Error()
	block, _ := pem.Decode(pemData)
	if block == nil {
		t.Fatal("assertNoKeyMaterial: no PEM block")
	}
	var body strings.Builder
	for line := range strings.Lines(string(pemData)) {
		if !strings.HasPrefix(line, "-----") {
			body.WriteString(strings.TrimSpace(line))
		}
	}
	b64 := body.String()
	for i := 0; i+8 <= len(b64); i++ {
		if strings.Contains(msg, b64[i:i+8]) {
			t.Fatalf("error %q contains base64 key material %q", msg, b64[i:i+8])
		}
	}
	for i := 0; i+4 <= len(block.Bytes); i++ {
		for _, form := range []string{"%x", "%X", "%v", "% x"} {
			if s := fmt.Sprintf(form, block.Bytes[i:i+4]); strings.Contains(msg, s) {
				t.Fatalf("error %q contains key material %q", msg, s)
			}
		}
	}
}

func firstLine(b []byte) string {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	return string(line)
}
