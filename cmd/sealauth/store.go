package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/sealauth/sealauth/internal/auth"
	"github.com/sealauth/sealauth/internal/config"
	"github.com/sealauth/sealauth/internal/store/sqlite"
)

// store is what serve needs of a backend beyond auth.Store.
type store interface {
	auth.Store
	Migrate(ctx context.Context) error
}

// openStore picks the backend by the URL's scheme.
func openStore(ctx context.Context, url string) (store, error) {
	switch {
	case strings.HasPrefix(url, "sqlite:"):
		path := strings.TrimPrefix(strings.TrimPrefix(url, "sqlite:"), "//")
		s, err := sqlite.Open(ctx, path, sqlite.Options{})
		if err != nil {
			return nil, fmt.Errorf("DATABASE_URL %s: %w", config.RedactURL(url), err)
		}
		return s, nil
	default:
		return nil, fmt.Errorf("DATABASE_URL %q: unsupported scheme; use sqlite:PATH", config.RedactURL(url))
	}
}
