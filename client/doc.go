// Package client is the Go client of a sealauth server.
//
// A [Client] speaks the JSON API under /api/auth: it registers users, logs
// them in, refreshes and revokes tokens, lists and ends sessions and changes
// passwords. Passwords never leave the client in clear: every method that
// takes one seals it first with RSA-OAEP (SHA-256, MGF1-SHA-256, empty label)
// under the server's public key, which the client fetches from
// GET /api/auth/public-key once and caches. When the server no longer accepts
// the cached key (400 unknown_key, after a key rotation), the client fetches
// the key again and repeats the request once.
//
// # Errors
//
// Every answer of the server other than a success becomes an [*Error] that
// carries the HTTP status, the stable error code of the problem document
// (see the Code constants), its title, detail and field errors, the
// Retry-After delay and the request id. Programs switch on the code:
//
//	tokens, err := c.Login(ctx, email, password)
//	switch {
//	case client.IsCode(err, client.CodeInvalidCredentials):
//		// wrong email or password
//	case client.IsCode(err, client.CodeRateLimited):
//		var e *client.Error
//		errors.As(err, &e)
//		// try again after e.RetryAfter
//	case err != nil:
//		// the network, the context, or another answer
//	}
//
// Answers that are not problem documents (a proxy's HTML page, the plain text
// with which net/http refuses oversized headers) still become an *Error, with
// the status and an empty Code. Error strings never contain passwords, sealed
// passwords or tokens.
//
// # Timeouts
//
// The client sets no timeout of its own: bound every call with the context
// passed to it (context.WithTimeout), or give the client an [http.Client] with
// a Timeout through [WithHTTPClient]. Response bodies are read up to
// [MaxResponseBytes]; a longer body is an error.
//
// # Concurrency
//
// A Client is safe for concurrent use by multiple goroutines.
package client
