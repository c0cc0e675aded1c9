// Package tracing sets up OpenTelemetry tracing from the standard OTEL_* environment
// variables. It is off unless OTEL_TRACES_EXPORTER names an exporter: "otlp" (OTLP over HTTP,
// configured by OTEL_EXPORTER_OTLP_* as the specification says) or "console" (spans as JSON on
// stdout, for development). W3C traceparent/baggage propagation is always on, so a trace id
// that arrives with a request is kept in logs even when this process exports nothing.
package tracing

import (
	"context"
	"fmt"
	"os"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
	"go.uber.org/fx"
	"go.uber.org/zap"
)

// Module provides the trace.TracerProvider and the propagator, and flushes spans on stop.
var Module = fx.Module("tracing", fx.Provide(New, Propagator))

// Propagator returns the W3C trace context and baggage propagator.
func Propagator() propagation.TextMapPropagator {
	return propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
}

// New returns the tracer provider OTEL_TRACES_EXPORTER asks for (a no-op one by default). The
// SDK reads OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES and OTEL_TRACES_SAMPLER* itself.
func New(lc fx.Lifecycle, log *zap.Logger) (trace.TracerProvider, error) {
	exporterName := os.Getenv("OTEL_TRACES_EXPORTER")
	if os.Getenv("OTEL_SDK_DISABLED") == "true" {
		exporterName = "none"
	}
	var (
		exporter sdktrace.SpanExporter
		err      error
	)
	switch exporterName {
	case "", "none":
		return noop.NewTracerProvider(), nil
	case "otlp":
		exporter, err = otlptracehttp.New(context.Background())
	case "console":
		exporter, err = stdouttrace.New()
	default:
		return nil, fmt.Errorf("OTEL_TRACES_EXPORTER=%q: must be otlp, console or none", exporterName)
	}
	if err != nil {
		return nil, fmt.Errorf("tracing exporter %s: %w", exporterName, err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exporter))
	// Libraries that reach for the global provider (none of ours do) get the same one.
	otel.SetTracerProvider(tp)
	lc.Append(fx.StopHook(tp.Shutdown))
	log.Info("tracing on", zap.String("exporter", exporterName))
	return tp, nil
}
