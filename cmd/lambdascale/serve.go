package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/go-logr/logr"
	"github.com/mattn/go-isatty"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// newRunLogger returns the controller's logger: JSON lines (log/slog) when format is "json",
// or "auto" and w is not a terminal; readable text otherwise. v is the verbosity: 0 actions
// and errors, 2 every decision, 4 planner and request detail.
func newRunLogger(w io.Writer, format string, v int) (logr.Logger, error) {
	opts := &slog.HandlerOptions{Level: slog.Level(-v), ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		// logr's V(n) is slog level -n: print it as "V1".."V4" rather than "DEBUG+3".
		if a.Key == slog.LevelKey {
			if l, ok := a.Value.Any().(slog.Level); ok && l < slog.LevelInfo {
				a.Value = slog.StringValue(fmt.Sprintf("V%d", -int(l)))
			}
		}
		return a
	}}
	if format == "auto" {
		format = "json"
		if f, ok := w.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
			format = "text"
		}
	}
	switch format {
	case "json":
		return logr.FromSlogHandler(slog.NewJSONHandler(w, opts)), nil
	case "text":
		return logr.FromSlogHandler(slog.NewTextHandler(w, opts)), nil
	}
	return logr.Logger{}, fmt.Errorf("--log-format %q: must be json, text or auto", format)
}

// serve starts an HTTP server on addr ("0" disables it) in the background and returns the
// address it listens on ("" when disabled) and a function that shuts it down.
func serve(addr string, handler http.Handler, log logr.Logger, what string) (string, func(), error) {
	if addr == "0" || addr == "" {
		return "", func() {}, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("listening for %s on %s: %w", what, addr, err)
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error(err, "Serving", "server", what)
		}
	}()
	log.Info("Serving", "server", what, "address", ln.Addr().String())
	return ln.Addr().String(), func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	}, nil
}

// metricsHandler serves the registry at /metrics.
func metricsHandler(reg *prometheus.Registry) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	return mux
}

// probesHandler serves /healthz (liveness) and /readyz (readiness): 200 "ok", or 503 with
// the reason.
func probesHandler(healthy, ready func() error) http.Handler {
	mux := http.NewServeMux()
	probe := func(check func() error) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			if err := check(); err != nil {
				http.Error(w, err.Error(), http.StatusServiceUnavailable)
				return
			}
			fmt.Fprintln(w, "ok")
		}
	}
	mux.Handle("/healthz", probe(healthy))
	mux.Handle("/readyz", probe(ready))
	return mux
}
