package seal

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func TestDecodeBase64(t *testing.T) {
	data := []byte{0xfb, 0xff, 0xbf, 0x00, 0x01, 0xfe, 0x41} // Uses +, / and padding.
	long := bytes.Repeat(data, 20)
	tests := []struct {
		name    string
		in      string
		want    []byte
		wantErr bool
	}{
		{name: "standard padded", in: base64.StdEncoding.EncodeToString(data), want: data},
		{name: "standard unpadded", in: base64.RawStdEncoding.EncodeToString(data), want: data},
		{name: "URL-safe padded", in: base64.URLEncoding.EncodeToString(data), want: data},
		{name: "URL-safe unpadded", in: base64.RawURLEncoding.EncodeToString(data), want: data},
		{name: "surrounding whitespace", in: " \t\r\n" + base64.StdEncoding.EncodeToString(data) + "\r\n ", want: data},
		{name: "wrapped at 64 like openssl base64", in: wrap(base64.StdEncoding.EncodeToString(long), 64, "\n"), want: long},
		{name: "wrapped with CRLF", in: wrap(base64.StdEncoding.EncodeToString(long), 76, "\r\n"), want: long},
		{name: "URL-safe wrapped", in: wrap(base64.RawURLEncoding.EncodeToString(long), 64, "\n"), want: long},
		{name: "empty", in: "", wantErr: true},
		{name: "only whitespace", in: " \n\t", wantErr: true},
		{name: "mixed alphabets", in: "+_-/", wantErr: true},
		{name: "mixed alphabets padded", in: "-w+=", wantErr: true},
		{name: "space inside", in: "QUJD REVG", wantErr: true},
		{name: "tab inside", in: "QUJD\tREVG", wantErr: true},
		{name: "non-zero trailing bits", in: "QR==", wantErr: true},
		{name: "non-zero trailing bits unpadded", in: "QR", wantErr: true},
		{name: "short padding", in: "QQ=", wantErr: true},
		{name: "padding only", in: "====", wantErr: true},
		{name: "padding inside", in: "QQ==QUJD", wantErr: true},
		{name: "impossible length", in: "QUJDR", wantErr: true},
		{name: "non-ASCII", in: "QUJD\u00e9", wantErr: true},
		{name: "NUL", in: "QUJD\x00", wantErr: true},
		{name: "hex is not base64", in: "0x41424344", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeBase64(tc.in)
			if tc.wantErr {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("DecodeBase64(%q) = %x, %v; want an error wrapping ErrMalformed", tc.in, got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("DecodeBase64(%q): %v", tc.in, err)
			}
			if !bytes.Equal(got, tc.want) {
				t.Errorf("DecodeBase64(%q) = %x, want %x", tc.in, got, tc.want)
			}
		})
	}
}

func TestSealOpenRoundTrip(t *testing.T) {
	o := newOpener(t, false)
	pub := &o.Current().Private.PublicKey
	for name, password := range map[string][]byte{
		"empty":          {},
		"ASCII":          []byte("correct horse battery staple"),
		"UTF-8":          []byte("pässwörd 🔑"),
		"binary":         {0, 1, 2, 0xff, 0},
		"longest (190)":  bytes.Repeat([]byte("x"), 190),
		"all zero bytes": make([]byte, 32),
	} {
		t.Run(name, func(t *testing.T) {
			sealed, err := Seal(pub, password)
			if err != nil {
				t.Fatal(err)
			}
			got, err := o.Open("current", sealed)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, password) {
				t.Errorf("Open(Seal(%q)) = %q", password, got)
			}
		})
	}
}

func TestSealRefuses(t *testing.T) {
	current, _ := keyPair(t)
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		pub      *rsa.PublicKey
		password []byte
	}{
		{"too long for RSA-2048", &current.PublicKey, bytes.Repeat([]byte("x"), 191)},
		{"1024-bit key", &weak.PublicKey, []byte("pw")},
		{"nil key", nil, []byte("pw")},
		{"key without modulus", &rsa.PublicKey{E: 65537}, []byte("pw")},
	}
	for _, tc := range tests {
		if sealed, err := Seal(tc.pub, tc.password); err == nil {
			t.Errorf("%s: Seal = %q, want an error", tc.name, sealed)
		}
	}
}

func TestSealIsRandomized(t *testing.T) {
	current, _ := keyPair(t)
	a, err := Seal(&current.PublicKey, []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Seal(&current.PublicKey, []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Error("sealing the same password twice gave the same value")
	}
}

// wrap inserts sep after every n characters of s.
func wrap(s string, n int, sep string) string {
	var b strings.Builder
	for len(s) > n {
		b.WriteString(s[:n] + sep)
		s = s[n:]
	}
	b.WriteString(s)
	return b.String()
}
