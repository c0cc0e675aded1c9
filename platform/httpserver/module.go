package httpserver

import (
	"go.uber.org/fx"
)

// Module serves the composed API over HTTP. It needs every operation group of openapi.yaml to
// be provided (as oas.<Group>Handler) by some module; modules add error mappings to the
// "problem_mappers" group.
var Module = fx.Module("httpserver",
	fx.Provide(
		NewProblems,
		NewHandler,
		NewHTTPHandler,
		NewServer,
	),
	// The server is what the application is for: make sure it is built and started.
	fx.Invoke(func(*Server) {}),
)
