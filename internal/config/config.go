// Package config loads sealauth's settings from flags, the environment and a
// .env file, in that order of precedence.
package config

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/sealauth/sealauth/internal/clientip"
	"github.com/sealauth/sealauth/internal/ratelimit"
)

// Config is the server's configuration.
type Config struct {
	Addr           string
	DataDir        string
	DatabaseURL    string // "" means the SQLite file in DataDir
	SkipMigrations bool

	SealingKeyFile    string // RSA private key; "" means DataDir/sealing_key.pem
	SigningKeyFile    string // JWT signing key; "" means DataDir/signing_key.pem
	LegacyPKCS1       bool
	MasterKey         string // base64 key-encryption key; "" means DataDir/master.key
	SealingOverlap    time.Duration
	SigningActivation time.Duration

	JWTAlg      string
	JWTSecret   string
	JWTExpires  time.Duration
	JWTIssuer   string
	JWTAudience string

	SessionIdleTimeout time.Duration
	SessionMaxLifetime time.Duration
	RefreshReuseGrace  time.Duration

	PprofAddr      string
	CORSOrigins    []string
	TrustedProxies []netip.Prefix
	RedisURL       string
	RedisPrefix    string
	RateLimits     RateLimits
	TLSCertFile    string
	TLSKeyFile     string

	BcryptCost int
	LogLevel   slog.Level

	// Args are the positional arguments after the flags, for the commands
	// that take them; the others refuse any.
	Args []string
}

// RateLimits are the request limits per client address, and the throttle of
// logins per account.
type RateLimits struct {
	LoginPerIP, RegisterPerIP, RefreshPerIP, PublicKeyPerIP ratelimit.Limit
	LoginFailures                                           ratelimit.Backoff
}

// setting is one configuration value: a flag, its environment variable, its
// default and whether it is secret (never printed).
type setting struct {
	flag, env, def, usage string
	secret                bool
}

var settings = []setting{
	{flag: "addr", env: "SEALAUTH_ADDR", def: "127.0.0.1:8000", usage: "address to listen on"},
	{flag: "data-dir", env: "SEALAUTH_DATA_DIR", def: "./data", usage: "directory for the SQLite database and generated keys (created 0700)"},
	{flag: "database-url", env: "DATABASE_URL", def: "", usage: "database: sqlite:PATH, mysql://USER:PASS@HOST:3306/DB or postgres://USER:PASS@HOST:5432/DB (default: sqlite:<data-dir>/sealauth.db)", secret: true}, // #nosec G101 -- a usage text naming placeholders
	{flag: "skip-migrations", env: "SEALAUTH_SKIP_MIGRATIONS", def: "false", usage: "do not apply pending migrations at start; refuse to start while any is pending (run sealauth migrate as a deploy step)"},
	{flag: "db-host", env: "DB_HOST", def: "", usage: "the tutorial's MySQL settings, used when DATABASE_URL is unset: host[:port]"},
	{flag: "db-user", env: "DB_USER", def: "root", usage: "MySQL user (with DB_HOST)"},
	{flag: "db-password", env: "DB_PASSWORD", def: "", usage: "MySQL password (with DB_HOST)", secret: true},
	{flag: "db-name", env: "DB_NAME", def: "python_rsa_auth", usage: "MySQL database (with DB_HOST)"},
	{flag: "rsa-private-key-file", env: "RSA_PRIVATE_KEY_FILE", def: "", usage: "PEM RSA private key that opens sealed passwords (default: <data-dir>/sealing_key.pem, generated if missing)"},
	{flag: "signing-key-file", env: "JWT_SIGNING_KEY_FILE", def: "", usage: "PEM private key that signs access tokens (default: <data-dir>/signing_key.pem, generated if missing)"},
	{flag: "master-key", env: "SEALAUTH_MASTER_KEY", def: "", usage: "base64 of 32 random bytes that encrypt the private keys in the database; instances sharing a database need the same (default: <data-dir>/master.key, generated if missing)", secret: true},
	{flag: "sealing-key-overlap", env: "SEALING_KEY_OVERLAP", def: "24h", usage: "after a sealing-key rotation, passwords sealed to the previous key still open for this long"},
	{flag: "signing-key-activation", env: "SIGNING_KEY_ACTIVATION", def: "45s", usage: "after a signing-key rotation, the new key is published in the JWKS this long before tokens are signed with it (longer than verifiers cache the JWKS)"},
	{flag: "legacy-pkcs1", env: "SEALAUTH_LEGACY_PKCS1", def: "false", usage: "also open passwords sealed with PKCS#1 v1.5 padding (the tutorial's old clients)"},
	{flag: "jwt-alg", env: "JWT_ALG", def: "", usage: "access-token algorithm: ES256, RS256, PS256, EdDSA, or HS256 with JWT_SECRET (default: ES256, or HS256 when JWT_SECRET is set)"},
	{flag: "jwt-secret", env: "JWT_SECRET", def: "", usage: "HS256 secret, at least 32 bytes", secret: true},
	{flag: "jwt-expires", env: "JWT_EXPIRES", def: "900", usage: "access-token lifetime in seconds"},
	{flag: "jwt-issuer", env: "JWT_ISSUER", def: "sealauth", usage: "iss claim of access tokens"},
	{flag: "jwt-audience", env: "JWT_AUDIENCE", def: "", usage: "aud claim of access tokens, required when verifying if set"},
	{flag: "session-idle-timeout", env: "SESSION_IDLE_TIMEOUT", def: "168h", usage: "a session whose refresh token is unused this long ends"},
	{flag: "session-max-lifetime", env: "SESSION_MAX_LIFETIME", def: "720h", usage: "a session ends this long after login, used or not"},
	{flag: "refresh-reuse-grace", env: "REFRESH_REUSE_GRACE", def: "10s", usage: "a spent refresh token presented again within this time is refused without ending the session (two tabs racing); later, reuse ends the session"},
	{flag: "tls-cert-file", env: "TLS_CERT_FILE", def: "", usage: "PEM certificate chain: serve HTTPS (TLS 1.2+), reloading the files when they change"},
	{flag: "tls-key-file", env: "TLS_KEY_FILE", def: "", usage: "PEM private key of the certificate"},
	{flag: "trusted-proxies", env: "TRUSTED_PROXIES", def: "", usage: "comma-separated CIDRs of reverse proxies whose X-Forwarded-For is believed; none by default"},
	{flag: "redis-url", env: "REDIS_URL", def: "", usage: "redis://host:port/db: share rate limits between instances (falls back to local limits while Redis is down)", secret: true},
	{flag: "redis-prefix", env: "REDIS_PREFIX", def: "sealauth:rl:", usage: "prefix of sealauth's keys in Redis"},
	{flag: "rate-limit-login-per-ip", env: "RATE_LIMIT_LOGIN_PER_IP", def: "30/1m", usage: "logins per client address (/32 for IPv4, /64 for IPv6), e.g. 30/1m or 100/1h;burst=20, or off"},
	{flag: "rate-limit-register-per-ip", env: "RATE_LIMIT_REGISTER_PER_IP", def: "20/1h;burst=10", usage: "registrations per client address"},
	{flag: "rate-limit-refresh-per-ip", env: "RATE_LIMIT_REFRESH_PER_IP", def: "60/1m", usage: "refreshes per client address"},
	{flag: "rate-limit-public-key-per-ip", env: "RATE_LIMIT_PUBLIC_KEY_PER_IP", def: "120/1m", usage: "public-key fetches per client address"},
	{flag: "login-failures-threshold", env: "LOGIN_FAILURES_THRESHOLD", def: "10", usage: "consecutive failed logins of one account before it is throttled (at most 20)"},
	{flag: "login-throttle-max", env: "LOGIN_THROTTLE_MAX", def: "15m", usage: "the longest delay a throttled account waits; delays double from 1s up to it, and a success resets them"},
	{flag: "pprof-addr", env: "PPROF_ADDR", def: "", usage: "serve Go's profiler (net/http/pprof) on this separate address, e.g. 127.0.0.1:6060; off by default: never expose it publicly"},
	{flag: "cors-origins", env: "CORS_ORIGINS", def: "", usage: "comma-separated exact origins (https://app.example.com) whose pages may call the API; none by default"},
	{flag: "bcrypt-cost", env: "BCRYPT_COST", def: "12", usage: "bcrypt cost for new password hashes (4-31)"},
	{flag: "log-level", env: "LOG_LEVEL", def: "info", usage: "debug, info, warn or error"},
}

// Load parses args (the arguments after the subcommand) with getenv for the
// environment. Flags win over environment variables, which win over defaults.
// It returns flag.ErrHelp after printing the usage for -h/--help. extra may
// define flags of the calling command beside the settings.
func Load(name string, args []string, getenv func(string) string, usageOut io.Writer, extra ...func(*flag.FlagSet)) (*Config, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(usageOut)
	for _, f := range extra {
		f(fs)
	}
	values := make(map[string]*string, len(settings))
	for _, s := range settings {
		def := s.def
		if v := getenv(s.env); v != "" {
			def = v
		}
		values[s.flag] = fs.String(s.flag, def, "")
	}
	fs.Usage = func() { PrintUsage(usageOut, name) }
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	c, err := build(func(flag string) string { return *values[flag] })
	if c != nil {
		c.Args = fs.Args()
	}
	return c, err
}

// PrintUsage lists every setting with its environment variable and default.
func PrintUsage(w io.Writer, name string) {
	fmt.Fprintf(w, "Usage: sealauth %s [flags]\n\nEvery flag can also be set by its environment variable or in ./.env.\n\n", name)
	for _, s := range settings {
		def := s.def
		if def == "" {
			def = `""`
		}
		usage := s.usage
		if s.secret {
			usage += " (secret: never logged)"
		}
		fmt.Fprintf(w, "  --%s (env %s, default %s)\n      %s\n", s.flag, s.env, def, usage)
	}
}

func build(get func(string) string) (*Config, error) {
	c := &Config{
		Addr:           get("addr"),
		DataDir:        get("data-dir"),
		DatabaseURL:    get("database-url"),
		SealingKeyFile: get("rsa-private-key-file"),
		SigningKeyFile: get("signing-key-file"),
		MasterKey:      get("master-key"),
		JWTAlg:         get("jwt-alg"),
		JWTSecret:      get("jwt-secret"),
		JWTIssuer:      get("jwt-issuer"),
		JWTAudience:    get("jwt-audience"),
		TLSCertFile:    get("tls-cert-file"),
		TLSKeyFile:     get("tls-key-file"),
	}
	var errs []error
	var err error
	if c.SkipMigrations, err = strconv.ParseBool(get("skip-migrations")); err != nil {
		errs = append(errs, fmt.Errorf("SEALAUTH_SKIP_MIGRATIONS must be true or false"))
	}
	if c.LegacyPKCS1, err = strconv.ParseBool(get("legacy-pkcs1")); err != nil {
		errs = append(errs, fmt.Errorf("SEALAUTH_LEGACY_PKCS1 must be true or false"))
	}
	secs, err := strconv.Atoi(get("jwt-expires"))
	if err != nil || secs < 1 || secs > 86400 {
		errs = append(errs, fmt.Errorf("JWT_EXPIRES must be seconds between 1 and 86400, got %q", get("jwt-expires")))
	}
	c.JWTExpires = time.Duration(secs) * time.Second
	for _, d := range []struct {
		dst  *time.Duration
		flag string
		env  string
	}{
		{&c.SessionIdleTimeout, "session-idle-timeout", "SESSION_IDLE_TIMEOUT"},
		{&c.SessionMaxLifetime, "session-max-lifetime", "SESSION_MAX_LIFETIME"},
		{&c.RefreshReuseGrace, "refresh-reuse-grace", "REFRESH_REUSE_GRACE"},
		{&c.SealingOverlap, "sealing-key-overlap", "SEALING_KEY_OVERLAP"},
		{&c.SigningActivation, "signing-key-activation", "SIGNING_KEY_ACTIVATION"},
	} {
		if *d.dst, err = time.ParseDuration(get(d.flag)); err != nil || *d.dst <= 0 {
			errs = append(errs, fmt.Errorf("%s must be a positive duration such as 10s, 15m or 168h, got %q", d.env, get(d.flag)))
		}
	}
	if c.BcryptCost, err = strconv.Atoi(get("bcrypt-cost")); err != nil || c.BcryptCost < 4 || c.BcryptCost > 31 {
		errs = append(errs, fmt.Errorf("BCRYPT_COST must be a number from 4 to 31, got %q", get("bcrypt-cost")))
	}
	if err := c.LogLevel.UnmarshalText([]byte(get("log-level"))); err != nil {
		errs = append(errs, fmt.Errorf("LOG_LEVEL must be debug, info, warn or error, got %q", get("log-level")))
	}
	for _, o := range strings.Split(get("cors-origins"), ",") {
		if o = strings.TrimSpace(o); o == "" {
			continue
		}
		if u, err := url.Parse(o); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.User != nil {
			errs = append(errs, fmt.Errorf("CORS_ORIGINS: %q is not an origin such as https://app.example.com", o))
			continue
		}
		c.CORSOrigins = append(c.CORSOrigins, o)
	}
	if c.TrustedProxies, err = clientip.ParseTrustedProxies(get("trusted-proxies")); err != nil {
		errs = append(errs, fmt.Errorf("TRUSTED_PROXIES: %w", err))
	}
	c.RedisURL, c.RedisPrefix = get("redis-url"), get("redis-prefix")
	c.PprofAddr = get("pprof-addr")
	for _, l := range []struct {
		dst  *ratelimit.Limit
		flag string
		env  string
	}{
		{&c.RateLimits.LoginPerIP, "rate-limit-login-per-ip", "RATE_LIMIT_LOGIN_PER_IP"},
		{&c.RateLimits.RegisterPerIP, "rate-limit-register-per-ip", "RATE_LIMIT_REGISTER_PER_IP"},
		{&c.RateLimits.RefreshPerIP, "rate-limit-refresh-per-ip", "RATE_LIMIT_REFRESH_PER_IP"},
		{&c.RateLimits.PublicKeyPerIP, "rate-limit-public-key-per-ip", "RATE_LIMIT_PUBLIC_KEY_PER_IP"},
	} {
		if *l.dst, err = ratelimit.ParseLimit(get(l.flag)); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", l.env, err))
		}
	}
	c.RateLimits.LoginFailures = ratelimit.DefaultBackoff()
	if n, err := strconv.Atoi(get("login-failures-threshold")); err != nil || n < 1 || n > 20 {
		errs = append(errs, fmt.Errorf("LOGIN_FAILURES_THRESHOLD must be a number from 1 to 20, got %q", get("login-failures-threshold")))
	} else {
		c.RateLimits.LoginFailures.Threshold = n
	}
	if d, err := time.ParseDuration(get("login-throttle-max")); err != nil || d < c.RateLimits.LoginFailures.Base {
		errs = append(errs, fmt.Errorf("LOGIN_THROTTLE_MAX must be a duration of at least %v, got %q", c.RateLimits.LoginFailures.Base, get("login-throttle-max")))
	} else {
		c.RateLimits.LoginFailures.Max = d
	}
	if c.JWTAlg == "" {
		c.JWTAlg = "ES256"
		if c.JWTSecret != "" {
			c.JWTAlg = "HS256" // the tutorial's setup
		}
	}
	switch c.JWTAlg {
	case "ES256", "RS256", "PS256", "EdDSA":
	case "HS256":
		if len(c.JWTSecret) < 32 {
			errs = append(errs, fmt.Errorf("JWT_SECRET must be at least 32 bytes for HS256 (it has %d); generate one with `openssl rand -base64 48`, or unset it to use ES256", len(c.JWTSecret)))
		}
	default:
		errs = append(errs, fmt.Errorf("JWT_ALG must be ES256, RS256, PS256, EdDSA or HS256, got %q", c.JWTAlg))
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		errs = append(errs, errors.New("TLS_CERT_FILE and TLS_KEY_FILE go together: set both or neither"))
	}
	if c.JWTIssuer == "" {
		errs = append(errs, errors.New("JWT_ISSUER must not be empty"))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("SEALAUTH_DATA_DIR must not be empty"))
	}
	switch {
	case c.DatabaseURL != "":
	case get("db-host") != "":
		c.DatabaseURL = tutorialMySQLURL(get("db-host"), get("db-user"), get("db-password"), get("db-name"))
	default:
		c.DatabaseURL = "sqlite:" + filepath.Join(c.DataDir, "sealauth.db")
	}
	if c.SealingKeyFile == "" {
		c.SealingKeyFile = filepath.Join(c.DataDir, "sealing_key.pem")
	}
	if c.SigningKeyFile == "" {
		c.SigningKeyFile = filepath.Join(c.DataDir, "signing_key.pem")
	}
	return c, errors.Join(errs...)
}

// LogValue lists the configuration for logs with every secret redacted.
func (c *Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("addr", c.Addr),
		slog.String("data_dir", c.DataDir),
		slog.String("database", RedactURL(c.DatabaseURL)),
		slog.String("redis", RedactURL(c.RedisURL)),
		slog.String("jwt_alg", c.JWTAlg),
		slog.Duration("jwt_expires", c.JWTExpires),
		slog.String("jwt_issuer", c.JWTIssuer),
		slog.Int("bcrypt_cost", c.BcryptCost),
		slog.Bool("legacy_pkcs1", c.LegacyPKCS1),
	)
}

// tutorialMySQLURL builds a DATABASE_URL from the tutorial's DB_* variables.
func tutorialMySQLURL(host, user, pass, name string) string {
	if _, _, err := net.SplitHostPort(host); err != nil {
		host = net.JoinHostPort(host, "3306")
	}
	u := url.URL{Scheme: "mysql", Host: host, Path: "/" + name, User: url.User(user)}
	if pass != "" {
		u.User = url.UserPassword(user, pass)
	}
	return u.String()
}

// RedactURL hides every password of a database or Redis URL: the one in the
// user info, and a password query parameter (which libpq's URLs allow).
func RedactURL(u string) string {
	u = passwordParam.ReplaceAllString(u, "${1}xxxxx")
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return u
	}
	at := strings.LastIndexByte(rest, '@')
	if at < 0 {
		return u
	}
	user, _, hasPass := strings.Cut(rest[:at], ":")
	if !hasPass {
		return u
	}
	return scheme + "://" + user + ":xxxxx" + rest[at:]
}

var passwordParam = regexp.MustCompile(`([?&]password=)[^&]*`)

// ReadDotEnv reads KEY=VALUE lines from path, as the tutorial's .env has them:
// blank lines and # comments are skipped, an "export " prefix and matching
// quotes around the value are dropped. A missing file is no error.
func ReadDotEnv(path string) (map[string]string, error) {
	f, err := os.Open(path) // #nosec G304 -- the operator's own .env
	if errors.Is(err, os.ErrNotExist) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	env := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("%s:%d: want KEY=VALUE", path, n)
		}
		v = strings.TrimSpace(v)
		if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
			v = v[1 : len(v)-1]
		}
		env[k] = v
	}
	return env, sc.Err()
}

// Getenv layers a .env map under the real environment: a variable that is set
// wins over the file.
func Getenv(getenv func(string) string, dotenv map[string]string) func(string) string {
	return func(k string) string {
		if v := getenv(k); v != "" {
			return v
		}
		return dotenv[k]
	}
}
