// Package httpapi is the notifier's HTTP surface on gin: health and
// readiness, and (as they arrive) the webhooks and the admin API.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"sort"
	"time"

	"github.com/gin-gonic/gin"
)

// Check answers nil when a dependency is usable.
type Check func(ctx context.Context) error

// Options configure the router.
type Options struct {
	Logger *slog.Logger
	// Checks are the readiness checks by name ("store", "bus").
	Checks map[string]Check
	// AdminTokens are the bearer tokens of the admin API.
	AdminTokens []string
	// Routes register public routes (webhooks, documents); AdminRoutes
	// register routes under /api/v1, behind the bearer-token check.
	Routes      []func(gin.IRoutes)
	AdminRoutes []func(gin.IRoutes)
	// Metrics, when set, counts every request and webhook delivery.
	Metrics *Metrics
	// MetricsHandler, when set, answers GET /metrics (the registry's
	// exposition, built where the registry is).
	MetricsHandler http.Handler
}

// NewRouter builds the gin engine with every route.
func NewRouter(o Options) *gin.Engine {
	r := gin.New()
	if o.Metrics != nil {
		// Outermost, so that a request whose handler panicked is counted
		// with the 500 the recovery answers.
		r.Use(o.Metrics.middleware())
	}
	r.Use(gin.CustomRecovery(func(c *gin.Context, err any) {
		o.Logger.ErrorContext(c.Request.Context(), "panic in HTTP handler", "path", c.FullPath(), "panic", err)
		WriteProblem(c, http.StatusInternalServerError, "internal error")
	}))
	r.Use(accessLog(o.Logger))
	r.HandleMethodNotAllowed = true
	r.NoRoute(func(c *gin.Context) { WriteProblem(c, http.StatusNotFound, "no such route") })
	r.NoMethod(func(c *gin.Context) { WriteProblem(c, http.StatusMethodNotAllowed, "method not allowed on this route") })

	r.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	r.GET("/readyz", readiness(o.Checks))
	if o.MetricsHandler != nil {
		r.GET(MetricsPath, gin.WrapH(o.MetricsHandler))
	}
	for _, register := range o.Routes {
		register(r)
	}
	admin := r.Group("/api/v1", BearerAuth(o.AdminTokens))
	for _, register := range o.AdminRoutes {
		register(admin)
	}
	return r
}

func readiness(checks map[string]Check) gin.HandlerFunc {
	names := make([]string, 0, len(checks))
	for n := range checks {
		names = append(names, n)
	}
	sort.Strings(names)
	return func(c *gin.Context) {
		ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
		defer cancel()
		results := make(map[string]string, len(names))
		status := http.StatusOK
		for _, n := range names {
			if err := checks[n](ctx); err != nil {
				results[n] = err.Error()
				status = http.StatusServiceUnavailable
				continue
			}
			results[n] = "ok"
		}
		c.JSON(status, gin.H{"checks": results})
	}
}

func accessLog(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		route := c.FullPath()
		if route == "/healthz" || route == "/readyz" || route == "/metrics" {
			return
		}
		log.LogAttrs(c.Request.Context(), slog.LevelInfo, "http request",
			slog.String("method", c.Request.Method), slog.String("route", route),
			slog.Int("status", c.Writer.Status()), slog.Duration("duration", time.Since(start)))
	}
}
