package app

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/trellis-net/trellis/internal/metrics"
)

// metricsRunner serves met's /metrics at Config.MetricsAddr (the admin
// address: separate from the API, so that scrapes need no SigV4 and the
// address can be firewalled apart).
func (a *App) metricsRunner(met *metrics.Metrics) runner {
	srv := &http.Server{Handler: met.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	return runner{name: "metrics", start: func(ctx context.Context, g *loops) error {
		ln, err := net.Listen("tcp", a.cfg.MetricsAddr)
		if err != nil {
			return fmt.Errorf("metrics listener: %w", err)
		}
		a.metLn = ln
		a.log.Info("metrics listening", "addr", ln.Addr().String(), "path", "/metrics")
		g.Go(func() {
			if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
				a.log.Warn("metrics server stopped", "err", err)
			}
		})
		return nil
	}, close: srv.Shutdown}
}
