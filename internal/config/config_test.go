package config_test

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sealauth/sealauth/internal/config"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadDefaults(t *testing.T) {
	c, err := config.Load("serve", nil, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:8000" || c.DataDir != "./data" || c.DatabaseURL != "sqlite:data/sealauth.db" ||
		c.JWTAlg != "ES256" || c.JWTExpires != 900*time.Second || c.BcryptCost != 12 || c.SealingOverlap != 24*time.Hour {
		t.Errorf("defaults = %+v", c)
	}
}

func TestPrecedence(t *testing.T) {
	c, err := config.Load("serve", []string{"--addr", "127.0.0.1:9"}, env(map[string]string{
		"SEALAUTH_ADDR": "127.0.0.1:8", "BCRYPT_COST": "10",
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:9" || c.BcryptCost != 10 {
		t.Errorf("flag should win over env and env over default: addr %s, cost %d", c.Addr, c.BcryptCost)
	}
}

func TestTutorialSettings(t *testing.T) {
	c, err := config.Load("serve", nil, env(map[string]string{
		"DB_HOST": "localhost", "DB_USER": "root", "DB_PASSWORD": "s3cret", "DB_NAME": "python_rsa_auth",
		"JWT_SECRET": strings.Repeat("k", 32), "JWT_EXPIRES": "3600",
	}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.DatabaseURL != "mysql://root:s3cret@localhost:3306/python_rsa_auth" || c.JWTAlg != "HS256" || c.JWTExpires != time.Hour {
		t.Errorf("tutorial settings: url %s, alg %s, expires %v", c.DatabaseURL, c.JWTAlg, c.JWTExpires)
	}
	if r := config.RedactURL(c.DatabaseURL); strings.Contains(r, "s3cret") {
		t.Errorf("RedactURL = %s", r)
	}
}

func TestInvalid(t *testing.T) {
	tests := map[string]string{
		"JWT_SECRET":                 "short",
		"JWT_ALG":                    "none",
		"JWT_EXPIRES":                "0",
		"BCRYPT_COST":                "3",
		"LOG_LEVEL":                  "loud",
		"SESSION_IDLE_TIMEOUT":       "forever",
		"CORS_ORIGINS":               "https://app.example.com/path",
		"TRUSTED_PROXIES":            "not-a-cidr",
		"RATE_LIMIT_LOGIN_PER_IP":    "lots",
		"LOGIN_FAILURES_THRESHOLD":   "21",
		"TLS_CERT_FILE":              "cert.pem", // without TLS_KEY_FILE
		"SEALAUTH_SKIP_MIGRATIONS":   "maybe",
		"SEALAUTH_LEGACY_PKCS1":      "sometimes",
		"SIGNING_KEY_ACTIVATION":     "-1s",
		"RATE_LIMIT_REFRESH_PER_IP":  "-5/1m",
		"RATE_LIMIT_REGISTER_PER_IP": "1/0s",
	}
	for k, v := range tests {
		if _, err := config.Load("serve", nil, env(map[string]string{k: v}), io.Discard); err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s=%q: err = %v, want one naming %s", k, v, err, k)
		}
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"mysql://root:pw@127.0.0.1:3306/db":                  "mysql://root:xxxxx@127.0.0.1:3306/db",
		"postgres://u@h/db?sslmode=disable&password=pw":      "postgres://u@h/db?sslmode=disable&password=xxxxx",
		"redis://:pw@127.0.0.1:6379/0":                       "redis://:xxxxx@127.0.0.1:6379/0",
		"sqlite:data/sealauth.db":                            "sqlite:data/sealauth.db",
		"mysql://root@127.0.0.1:3306/db":                     "mysql://root@127.0.0.1:3306/db",
		"postgresql://a:b@c/d?password=e&application_name=f": "postgresql://a:xxxxx@c/d?password=xxxxx&application_name=f",
	} {
		if got := config.RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDotEnv(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".env")
	content := "# the tutorial's file\nDB_HOST=localhost\nDB_PASSWORD=\nexport JWT_EXPIRES=3600\nJWT_ISSUER=\"quoted issuer\"\n\n"
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	dot, err := config.ReadDotEnv(path)
	if err != nil {
		t.Fatal(err)
	}
	get := config.Getenv(env(map[string]string{"JWT_EXPIRES": "60"}), dot)
	if get("DB_HOST") != "localhost" || get("JWT_EXPIRES") != "60" || get("JWT_ISSUER") != "quoted issuer" || get("DB_PASSWORD") != "" {
		t.Errorf("layered env: DB_HOST %q, JWT_EXPIRES %q (the real environment wins), JWT_ISSUER %q", get("DB_HOST"), get("JWT_EXPIRES"), get("JWT_ISSUER"))
	}
	if m, err := config.ReadDotEnv(filepath.Join(t.TempDir(), "missing")); err != nil || len(m) != 0 {
		t.Errorf("missing .env: %v, %v", m, err)
	}
	bad := filepath.Join(t.TempDir(), ".env")
	if err := os.WriteFile(bad, []byte("JUST_A_WORD\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := config.ReadDotEnv(bad); err == nil {
		t.Error("ReadDotEnv(line without =) = nil error")
	}
}
