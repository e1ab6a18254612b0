package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/sealauth/sealauth/internal/config"
)

const usage = `sealauth — an authentication server with sealed passwords and JWT access tokens.

Usage:
  sealauth serve [flags]          run the server (sealauth serve --help lists every setting)
  sealauth seal --key FILE        seal a password read from stdin with a PEM public key
  sealauth seal --server URL      … with the public key of a running server
  sealauth migrate [--status]     apply pending database migrations (--status lists them)
  sealauth keys COMMAND           list, rotate, retire, import or generate keys (sealauth keys for help)
  sealauth version                print the version
`

// run is the whole program; main and the tests call it. getenv stands for the
// environment, which a .env file in the working directory extends.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	cmd, args := args[0], args[1:]
	switch cmd {
	case "serve", "keys", "migrate":
		dotenv, err := config.ReadDotEnv(".env")
		if err != nil {
			return err
		}
		getenv = config.Getenv(getenv, dotenv)
	}
	var err error
	switch cmd {
	case "serve":
		err = serve(ctx, args, getenv, stdout, stderr)
	case "seal":
		err = sealCmd(ctx, args, stdin, stdout, stderr)
	case "migrate":
		err = migrateCmd(ctx, args, getenv, stdout, stderr)
	case "keys":
		err = keysCmd(ctx, args, getenv, stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "sealauth", version())
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}

func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}
