package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
)

// BearerAuth accepts requests whose Authorization header carries one of
// tokens. Tokens are compared through their SHA-256 digests in constant time,
// so neither a token's content nor its length leaks through timing.
func BearerAuth(tokens []string) gin.HandlerFunc {
	digests := make([][32]byte, len(tokens))
	for i, t := range tokens {
		digests[i] = sha256.Sum256([]byte(t))
	}
	return func(c *gin.Context) {
		got, ok := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
		if !ok || got == "" {
			c.Header("WWW-Authenticate", `Bearer realm="notifier"`)
			WriteProblem(c, http.StatusUnauthorized, "missing bearer token: send Authorization: Bearer <token>")
			return
		}
		d := sha256.Sum256([]byte(strings.TrimSpace(got)))
		match := 0
		for _, want := range digests {
			match |= subtle.ConstantTimeCompare(d[:], want[:])
		}
		if match != 1 {
			c.Header("WWW-Authenticate", `Bearer realm="notifier", error="invalid_token"`)
			WriteProblem(c, http.StatusUnauthorized, "invalid bearer token")
			return
		}
		c.Next()
	}
}
