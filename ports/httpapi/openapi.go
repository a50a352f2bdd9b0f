package httpapi

import (
	_ "embed"
	"net/http"

	"github.com/gin-gonic/gin"
)

// OpenAPIPath is where the document is served, without authentication.
const OpenAPIPath = "/api/openapi.json"

// openAPIDocument describes the whole admin API (OpenAPI 3.1). A test checks
// that it and the router's /api/v1 routes match, both ways.
//
//go:embed openapi.json
var openAPIDocument []byte

// OpenAPIDocument returns the admin API's OpenAPI document.
func OpenAPIDocument() []byte { return openAPIDocument }

// RegisterOpenAPI adds GET /api/openapi.json; pass it in Options.Routes.
func RegisterOpenAPI(r gin.IRoutes) {
	r.GET(OpenAPIPath, func(c *gin.Context) {
		c.Header("Cache-Control", "no-cache")
		c.Data(http.StatusOK, "application/json; charset=utf-8", openAPIDocument)
	})
}
