package main

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/sealauth/sealauth/internal/config"
	"github.com/sealauth/sealauth/internal/keys"
	"github.com/sealauth/sealauth/internal/seal"
	"github.com/sealauth/sealauth/internal/token"
)

// keySet holds the server's two keys (separate on purpose: one opens passwords,
// one signs tokens) and their published JSON documents.
type keySet struct {
	dir       string
	sealing   seal.Key
	signing   token.Key
	publicKey []byte
	jwks      []byte
}

func (k *keySet) PublicKeyJSON() []byte { return k.publicKey }
func (k *keySet) JWKSJSON() []byte      { return k.jwks }

// loadKeys loads the keys, generating whichever is missing.
func loadKeys(cfg *config.Config, logger *slog.Logger) (*keySet, error) {
	ks := &keySet{dir: filepath.Dir(cfg.SealingKeyFile)}
	priv, created, err := keys.LoadOrCreateSealingKey(cfg.SealingKeyFile)
	if err != nil {
		return nil, fmt.Errorf("sealing key: %w", err)
	}
	if created {
		logger.Info("generated sealing key", "file", cfg.SealingKeyFile)
	}
	kid, err := keys.Thumbprint(&priv.PublicKey)
	if err != nil {
		return nil, err
	}
	ks.sealing = seal.Key{ID: kid, Private: priv}

	if cfg.JWTAlg == "HS256" {
		// The secret is never published. Its kid is a hash of it, which names
		// it without revealing it (the secret has at least 256 bits).
		sum := sha256.Sum256([]byte(cfg.JWTSecret))
		ks.signing = token.Key{ID: "hs256-" + base64.RawURLEncoding.EncodeToString(sum[:12]), Alg: "HS256", Secret: []byte(cfg.JWTSecret)}
	} else {
		sk, created, err := keys.LoadOrCreateSigningKey(cfg.SigningKeyFile, cfg.JWTAlg)
		if err != nil {
			return nil, fmt.Errorf("signing key: %w", err)
		}
		if created {
			logger.Info("generated signing key", "file", cfg.SigningKeyFile, "alg", sk.Alg)
		}
		ks.signing = token.Key{ID: sk.ID, Alg: sk.Alg, Signer: sk.Key}
	}
	if err := ks.publish(); err != nil {
		return nil, err
	}
	return ks, nil
}

func (k *keySet) publish() error {
	pub := &k.sealing.Private.PublicKey
	pemBytes, err := keys.PublicKeyPEM(pub)
	if err != nil {
		return err
	}
	jwk, err := keys.PublicJWK(pub, k.sealing.ID, keys.AlgRSAOAEP256, keys.UseEnc)
	if err != nil {
		return err
	}
	k.publicKey, err = json.Marshal(struct {
		KID       string   `json:"kid"`
		Alg       string   `json:"alg"`
		PublicKey string   `json:"public_key"`
		JWK       keys.JWK `json:"jwk"`
	}{k.sealing.ID, keys.AlgRSAOAEP256, string(pemBytes), jwk})
	if err != nil {
		return err
	}
	set := keys.JWKS{Keys: []keys.JWK{}}
	if k.signing.Signer != nil {
		jwk, err := keys.PublicJWK(k.signing.Signer.Public(), k.signing.ID, k.signing.Alg, keys.UseSig)
		if err != nil {
			return err
		}
		set.Keys = append(set.Keys, jwk)
	}
	k.jwks, err = json.Marshal(set)
	return err
}

// keysCmd is `sealauth keys generate`: new keys in the data dir, replacing
// existing ones only with --force.
func keysCmd(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "generate" {
		fmt.Fprintln(stderr, "Usage: sealauth keys generate [--force] [serve flags such as --data-dir, --jwt-alg]")
		return fmt.Errorf("keys: unknown or missing subcommand")
	}
	// keys generate takes serve's settings, so that paths and the algorithm match.
	var force bool
	cfg, err := config.Load("keys generate", args[1:], getenv, stderr, func(fs *flag.FlagSet) {
		fs.BoolVar(&force, "force", false, "replace existing key files")
	})
	if err != nil {
		return err
	}
	if !force {
		for _, f := range []string{cfg.SealingKeyFile, cfg.SigningKeyFile} {
			if _, err := os.Stat(f); err == nil { // #nosec G703 -- the operator's own configured path
				return fmt.Errorf("keys: %s exists; pass --force to replace it (clients must then fetch the new public key, and issued tokens stop verifying)", f)
			}
		}
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil { // #nosec G703 -- the operator's own configured path
		return err
	}
	sealing, err := keys.GenerateSealingKey()
	if err != nil {
		return err
	}
	kid, err := keys.Thumbprint(&sealing.PublicKey)
	if err != nil {
		return err
	}
	if err := keys.WritePrivateKeyFile(cfg.SealingKeyFile, sealing); err != nil {
		return fmt.Errorf("sealing key: %w", err)
	}
	fmt.Fprintf(stdout, "wrote sealing key %s to %s\n", kid, cfg.SealingKeyFile)
	if cfg.JWTAlg == "HS256" {
		fmt.Fprintln(stdout, "JWT_ALG is HS256: the signing key is JWT_SECRET, no file to write")
		return nil
	}
	sk, err := keys.GenerateSigningKey(cfg.JWTAlg)
	if err != nil {
		return err
	}
	if err := keys.WritePrivateKeyFile(cfg.SigningKeyFile, sk.Key); err != nil {
		return fmt.Errorf("signing key: %w", err)
	}
	fmt.Fprintf(stdout, "wrote signing key %s (%s) to %s\n", sk.ID, sk.Alg, cfg.SigningKeyFile)
	return nil
}
