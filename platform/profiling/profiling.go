// Package profiling serves Go's profiler (net/http/pprof) on a listener of its own, off by
// default: set DEBUG_ADDR (e.g. 127.0.0.1:6060) to profile CPU, allocations, mutex and block
// contention under load. It never shares the API's listener, and its address must be a
// loopback one unless DEBUG_ADDR_PUBLIC says otherwise: pprof is not for the network.
package profiling

import (
	"net/http"
	"net/http/pprof"
	"runtime"

	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/acme/userservice/platform/config"
	"github.com/acme/userservice/platform/sidelisten"
)

// Module starts the profiler listener when DEBUG_ADDR is set.
var Module = fx.Module("profiling", fx.Invoke(Register))

// Register adds the profiler server to the lifecycle when cfg.DebugAddr is set.
func Register(lc fx.Lifecycle, cfg config.Config, log *zap.Logger) {
	if cfg.DebugAddr == "" {
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	sidelisten.Serve(lc, log, "profiler", cfg.DebugAddr, mux, cfg.ReadHeaderTimeout, func() {
		if cfg.DebugAddrPublic {
			log.Warn("the profiler listens beyond loopback (DEBUG_ADDR_PUBLIC=true): keep the address private", zap.String("addr", cfg.DebugAddr))
		}
		// Sample contention too: a fraction of events, cheap enough while profiling.
		runtime.SetMutexProfileFraction(100)
		runtime.SetBlockProfileRate(100_000)
	})
}
