package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/sealauth/sealauth/internal/keys"
	"github.com/sealauth/sealauth/internal/seal"
)

// sealCmd reads a password and prints it sealed, for curl and Postman users.
func sealCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("seal", flag.ContinueOnError)
	fs.SetOutput(stderr)
	keyFile := fs.String("key", "", "PEM public key file (e.g. the tutorial's public.pem)")
	server := fs.String("server", "", "base URL of a sealauth server to fetch the public key from, e.g. http://127.0.0.1:8000")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: sealauth seal (--key FILE | --server URL) < password\n\nReads a password from stdin (no echo on a terminal) and prints it sealed with\nRSA-OAEP-SHA256 as base64, ready for the \"password\" field.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if (*keyFile == "") == (*server == "") {
		fs.Usage()
		return errors.New("seal: give exactly one of --key or --server")
	}
	var pub *rsa.PublicKey
	var err error
	if *keyFile != "" {
		var pemBytes []byte
		if pemBytes, err = os.ReadFile(*keyFile); err == nil {
			pub, err = keys.ParseRSAPublicKeyPEM(pemBytes)
		}
	} else {
		pub, err = fetchPublicKey(ctx, *server)
	}
	if err != nil {
		return fmt.Errorf("seal: %w", err)
	}
	pw, err := readPassword(stdin, stderr)
	if err != nil {
		return fmt.Errorf("seal: %w", err)
	}
	sealed, err := seal.Seal(pub, pw)
	clear(pw)
	if err != nil {
		return fmt.Errorf("seal: %w", err)
	}
	fmt.Fprintln(stdout, sealed)
	return nil
}

// readPassword reads one line; on a terminal it turns echo off. One trailing
// newline (\n or \r\n) is dropped, nothing else.
func readPassword(stdin io.Reader, stderr io.Writer) ([]byte, error) {
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) { // #nosec G115 -- a file descriptor fits an int
		fmt.Fprint(stderr, "Password: ")
		pw, err := term.ReadPassword(int(f.Fd())) // #nosec G115 -- as above
		fmt.Fprintln(stderr)
		return pw, err
	}
	line, err := bufio.NewReader(stdin).ReadBytes('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
	if len(line) == 0 {
		return nil, errors.New("no password on stdin")
	}
	return line, nil
}

func fetchPublicKey(ctx context.Context, server string) (*rsa.PublicKey, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(server, "/")+"/api/auth/public-key", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: status %s", req.URL, resp.Status)
	}
	var doc struct {
		PublicKey string `json:"public_key"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&doc); err != nil {
		return nil, fmt.Errorf("GET %s: %w", req.URL, err)
	}
	return keys.ParseRSAPublicKeyPEM([]byte(doc.PublicKey))
}
