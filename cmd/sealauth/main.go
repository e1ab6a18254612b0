// Command sealauth is an authentication server: users register and log in with
// passwords sealed to the server's RSA key and receive JWT access tokens.
package main

import (
	"context"
	"fmt"
	"os"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "sealauth:", err)
		os.Exit(1)
	}
}
