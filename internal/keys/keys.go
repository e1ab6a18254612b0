// Package keys loads, generates and describes sealauth's keys: the RSA key that
// opens sealed passwords and the key that signs JWTs.
//
// Every key is named by the RFC 7638 thumbprint of its public key. That
// thumbprint is the kid that clients see in the JWKS document and in token
// headers, so it changes exactly when the key changes and needs no bookkeeping.
package keys

// JWT signing algorithms (RFC 7518 §3.1 and RFC 8037 §3.1) that a SigningKey
// can use.
const (
	ES256 = "ES256" // ECDSA on P-256 with SHA-256.
	RS256 = "RS256" // RSASSA-PKCS1-v1_5 with SHA-256, RSA of MinRSABits or more.
	PS256 = "PS256" // RSASSA-PSS with SHA-256, RSA of MinRSABits or more.
	EdDSA = "EdDSA" // Ed25519.
)

// AlgRSAOAEP256 is the JWK "alg" of the sealing key: RSA-OAEP with SHA-256 and
// MGF1-SHA-256 (RFC 7518 §4.3).
const AlgRSAOAEP256 = "RSA-OAEP-256"

// Values of the JWK "use" member (RFC 7517 §4.2).
const (
	UseSig = "sig" // The key verifies signatures.
	UseEnc = "enc" // The key encrypts (here: seals passwords).
)

// MinRSABits is the smallest RSA modulus, in bits, that this package accepts
// for sealing or signing.
const MinRSABits = 2048

// File names of the keys inside the server's data directory.
const (
	SealingKeyFile = "sealing_key.pem"
	SigningKeyFile = "signing_key.pem"
)
