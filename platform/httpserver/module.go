package httpserver

import (
	"go.uber.org/fx"
)

// Module serves the composed API over HTTP. Modules provide the operation groups of
// openapi.yaml they own (as oas.<Group>Handler; a group nobody provides answers 404) and add
// their error mappings to the "problem_mappers" group.
var Module = fx.Module("httpserver",
	fx.Provide(
		NewProblems,
		NewBearerAuth,
		NewHandler,
		NewHTTPHandler,
		NewServer,
	),
	// The server is what the application is for: make sure it is built and started.
	fx.Invoke(func(*Server) {}),
)
