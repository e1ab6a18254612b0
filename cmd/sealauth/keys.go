package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"text/tabwriter"
	"time"

	"github.com/sealauth/sealauth/internal/auth"
	"github.com/sealauth/sealauth/internal/config"
	"github.com/sealauth/sealauth/internal/keys"
)

const keysUsage = `Usage: sealauth keys COMMAND [serve's flags, e.g. --data-dir, --database-url]

  generate [--force]             write new key files into the data dir (imported at the next start)
  list                           list the keys in the store with their state
  rotate --kind sealing|signing  make a new current key; the old one stays accepted for its window
  retire KID                     stop accepting a key at once (not the current one: rotate first)
  import --kind KIND FILE        store a PEM private key (e.g. the tutorial's private.pem) as the current key

Running servers pick up changes within seconds.
`

// keysCmd manages the sealing and signing keys.
func keysCmd(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, keysUsage)
		return errors.New("keys: missing command")
	}
	sub, args := args[0], args[1:]
	var force bool
	var kind string
	cfg, err := config.Load("keys "+sub, args, getenv, stderr, func(fs *flag.FlagSet) {
		switch sub {
		case "generate":
			fs.BoolVar(&force, "force", false, "replace existing key files")
		case "rotate", "import":
			fs.StringVar(&kind, "kind", "", "sealing or signing")
		}
	})
	if err != nil {
		return err
	}
	if len(cfg.Args) > 0 && sub != "retire" && sub != "import" {
		return fmt.Errorf("keys %s: unexpected argument %q", sub, cfg.Args[0])
	}
	if sub == "generate" {
		return generateKeyFiles(cfg, force, stdout)
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, err := openApp(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer a.store.Close()
	switch sub {
	case "list":
		list, err := a.ring.List(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "KID\tKIND\tALG\tSTATE\tCREATED\tUNTIL")
		for _, k := range list {
			until := ""
			if !k.Until.IsZero() {
				until = k.Until.Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Kind, k.Alg, k.Status, k.CreatedAt.Format(time.RFC3339), until)
		}
		return tw.Flush()
	case "rotate":
		rec, err := a.ring.Rotate(ctx, auth.KeyKind(kind))
		if err != nil {
			return fmt.Errorf("keys rotate: %w", err)
		}
		printNewKey(ctx, a, stdout, rec)
	case "retire":
		if len(cfg.Args) != 1 {
			return errors.New("keys retire: give exactly one KID")
		}
		if err := a.ring.Retire(ctx, cfg.Args[0]); err != nil {
			return fmt.Errorf("keys retire: %w", err)
		}
		fmt.Fprintf(stdout, "retired %s\n", cfg.Args[0])
	case "import":
		if len(cfg.Args) != 1 {
			return errors.New("keys import: give exactly one FILE")
		}
		key, err := keys.ReadPrivateKeyFile(cfg.Args[0])
		if err != nil {
			return fmt.Errorf("keys import: %w", err)
		}
		rec, err := a.ring.Import(ctx, auth.KeyKind(kind), key)
		if err != nil {
			return fmt.Errorf("keys import: %w", err)
		}
		printNewKey(ctx, a, stdout, rec)
	default:
		fmt.Fprint(stderr, keysUsage)
		return fmt.Errorf("keys: unknown command %q", sub)
	}
	return nil
}

// generateKeyFiles is `sealauth keys generate`: new key files in the data dir,
// replacing existing ones only with --force. The next start imports them into
// the store as the current keys.
func generateKeyFiles(cfg *config.Config, force bool, stdout io.Writer) error {
	if !force {
		for _, f := range []string{cfg.SealingKeyFile, cfg.SigningKeyFile} {
			if _, err := os.Stat(f); err == nil { // #nosec G703 -- the operator's own configured path
				return fmt.Errorf("keys: %s exists; pass --force to replace it", f)
			}
		}
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

// printNewKey says when a new key is used: at once it is only accepted, so
// that every instance (and every JWKS cache) knows it first.
func printNewKey(ctx context.Context, a *app, stdout io.Writer, rec auth.KeyRecord) {
	from := "now"
	if list, err := a.ring.List(ctx); err == nil {
		for _, k := range list {
			if k.ID == rec.ID && !k.Until.IsZero() {
				from = k.Until.Format(time.RFC3339)
			}
		}
	}
	fmt.Fprintf(stdout, "new %s key %s (%s): accepted now, in use from %s\n", rec.Kind, rec.ID, rec.Alg, from)
}
