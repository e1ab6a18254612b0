package seal

import (
	"bytes"
	"encoding/base64"
	"slices"
	"testing"
)

// These tests seal and open with the real openssl and node binaries, which
// stand in for the clients: curl scripts, the Node tutorial and browsers, whose
// WebCrypto RSA-OAEP with SHA-256 produces the same ciphertexts.

// interopPassword has spaces and multi-byte UTF-8, which a client that mangles its
// input would not get through unchanged.
const interopPassword = "pässwörd 🔑 with spaces"

// opensslOAEP returns the pkeyutl options of sealauth's scheme followed by
// extra options.
func opensslOAEP(extra ...string) []string {
	return slices.Concat([]string{"-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha256", "-pkeyopt", "rsa_mgf1_md:sha256"}, extra)
}

func TestOpenOpenSSL(t *testing.T) {
	password := []byte(interopPassword)
	current, previous := keyPair(t)
	_, pubFile := writePEMs(t, current)
	_, prevPubFile := writePEMs(t, previous)
	encrypt := func(pubFile string, opts ...string) []byte {
		args := append([]string{"pkeyutl", "-encrypt", "-pubin", "-inkey", pubFile}, opts...)
		return runTool(t, password, "openssl", args...)
	}
	// openssl base64 wraps its output at 64 characters, as shell scripts
	// piping into curl will send it.
	toBase64 := func(ct []byte) string {
		return string(runTool(t, ct, "openssl", "base64"))
	}
	oaep := encrypt(pubFile, opensslOAEP()...)
	if len(oaep) != 256 {
		t.Fatalf("openssl wrote %d bytes, want 256", len(oaep))
	}

	tests := []struct {
		name    string
		kid     string
		sealed  string
		legacy  bool
		wantErr error
	}{
		{name: "OAEP, openssl base64", kid: "current", sealed: toBase64(oaep)},
		{name: "OAEP, no kid", sealed: toBase64(oaep)},
		{name: "OAEP, URL-safe", sealed: base64.RawURLEncoding.EncodeToString(oaep)},
		{name: "OAEP to the previous key, no kid", sealed: toBase64(encrypt(prevPubFile, opensslOAEP()...))},
		{name: "OAEP to the previous key, its kid", kid: "previous", sealed: toBase64(encrypt(prevPubFile, opensslOAEP()...))},
		{
			// Java's "RSA/ECB/OAEPWithSHA-256AndMGF1Padding" does this by
			// default; it is a different scheme and must not open.
			name:    "OAEP with MGF1-SHA-1",
			sealed:  toBase64(encrypt(pubFile, "-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha256", "-pkeyopt", "rsa_mgf1_md:sha1")),
			wantErr: ErrDecryption,
		},
		{
			name:    "OAEP with SHA-1",
			sealed:  toBase64(encrypt(pubFile, "-pkeyopt", "rsa_padding_mode:oaep")),
			legacy:  true,
			wantErr: ErrDecryption,
		},
		{
			name:    "OAEP with a label",
			sealed:  toBase64(encrypt(pubFile, opensslOAEP("-pkeyopt", "rsa_oaep_label:00")...)),
			wantErr: ErrDecryption,
		},
		{
			name:   "PKCS #1 v1.5 in legacy mode",
			sealed: toBase64(encrypt(pubFile, "-pkeyopt", "rsa_padding_mode:pkcs1")),
			legacy: true,
		},
		{
			name:   "PKCS #1 v1.5 to the previous key in legacy mode",
			sealed: toBase64(encrypt(prevPubFile, "-pkeyopt", "rsa_padding_mode:pkcs1")),
			legacy: true,
		},
		{
			name:    "PKCS #1 v1.5 without legacy mode",
			sealed:  toBase64(encrypt(pubFile, "-pkeyopt", "rsa_padding_mode:pkcs1")),
			wantErr: ErrDecryption,
		},
		{
			name:    "PKCS #1 v1.5 to the wrong kid in legacy mode",
			kid:     "previous",
			sealed:  toBase64(encrypt(pubFile, "-pkeyopt", "rsa_padding_mode:pkcs1")),
			legacy:  true,
			wantErr: ErrDecryption,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := newOpener(t, tc.legacy).Open(tc.kid, tc.sealed)
			if err != tc.wantErr {
				t.Fatalf("Open error = %v, want %v", err, tc.wantErr)
			}
			if tc.wantErr == nil && !bytes.Equal(got, password) {
				t.Errorf("Open = %q, want %q", got, password)
			}
		})
	}
}

func TestOpenNode(t *testing.T) {
	password := []byte(interopPassword)
	// The password arrives on stdin; the script prints the sealed value in
	// the encoding named by its second argument.
	const script = `
const crypto = require('crypto');
const fs = require('fs');
const ct = crypto.publicEncrypt({
  key: fs.readFileSync(process.argv[1]),
  oaepHash: 'sha256',
  padding: crypto.constants.RSA_PKCS1_OAEP_PADDING,
}, fs.readFileSync(0));
process.stdout.write(ct.toString(process.argv[2]));
`
	current, _ := keyPair(t)
	_, pubFile := writePEMs(t, current)
	o := newOpener(t, false)
	for _, encoding := range []string{"base64", "base64url"} {
		t.Run(encoding, func(t *testing.T) {
			sealed := string(runTool(t, password, "node", "-e", script, pubFile, encoding))
			got, err := o.Open("current", sealed)
			if err != nil {
				t.Fatalf("Open(%q): %v", sealed, err)
			}
			if !bytes.Equal(got, password) {
				t.Errorf("Open = %q, want %q", got, password)
			}
		})
	}
}

func TestSealOpenedByOpenSSL(t *testing.T) {
	password := []byte(interopPassword)
	current, _ := keyPair(t)
	privFile, _ := writePEMs(t, current)
	sealed, err := Seal(&current.PublicKey, password)
	if err != nil {
		t.Fatal(err)
	}
	ct := runTool(t, []byte(sealed), "openssl", "base64", "-d", "-A")
	args := append([]string{"pkeyutl", "-decrypt", "-inkey", privFile}, opensslOAEP()...)
	if got := runTool(t, ct, "openssl", args...); !bytes.Equal(got, password) {
		t.Errorf("openssl pkeyutl -decrypt = %q, want %q", got, password)
	}
}

func TestSealOpenedByNode(t *testing.T) {
	password := []byte(interopPassword)
	const script = `
const crypto = require('crypto');
const fs = require('fs');
const pt = crypto.privateDecrypt({
  key: fs.readFileSync(process.argv[1]),
  oaepHash: 'sha256',
  padding: crypto.constants.RSA_PKCS1_OAEP_PADDING,
}, Buffer.from(fs.readFileSync(0, 'utf8'), 'base64'));
process.stdout.write(pt);
`
	current, _ := keyPair(t)
	privFile, _ := writePEMs(t, current)
	sealed, err := Seal(&current.PublicKey, password)
	if err != nil {
		t.Fatal(err)
	}
	if got := runTool(t, []byte(sealed), "node", "-e", script, privFile); !bytes.Equal(got, password) {
		t.Errorf("node privateDecrypt = %q, want %q", got, password)
	}
}
