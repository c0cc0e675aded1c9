package httpserver

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	ht "github.com/ogen-go/ogen/http"
	"github.com/ogen-go/ogen/ogenerrors"
	"github.com/ogen-go/ogen/validate"
	"go.uber.org/fx"
	"go.uber.org/zap"

	"github.com/acme/userservice/platform/database"
	"github.com/acme/userservice/platform/identity"
	"github.com/acme/userservice/platform/problem"
)

// Problems turns any error into the problem the client sees. It is the one place where errors
// meet HTTP statuses: modules' problem.Mappers first, then the platform's own classes (request
// decoding, body size, database outage). Anything left is a bug: 500, logged, details withheld.
type Problems struct {
	mappers []problem.Mapper
	log     *zap.Logger
}

// ProblemsParams are the inputs of NewProblems.
type ProblemsParams struct {
	fx.In
	Mappers []problem.Mapper `group:"problem_mappers"`
	Log     *zap.Logger
}

// NewProblems returns a Problems using every mapper the modules contributed.
func NewProblems(p ProblemsParams) *Problems {
	return &Problems{mappers: p.Mappers, log: p.Log}
}

// FromError returns the problem for err.
func (p *Problems) FromError(ctx context.Context, err error) *problem.Problem {
	var prob *problem.Problem
	if errors.As(err, &prob) {
		return prob
	}
	for _, m := range p.mappers {
		if prob, ok := m(err); ok {
			return prob
		}
	}
	if prob, ok := requestProblem(err); ok {
		return prob
	}
	if errors.Is(err, identity.ErrUnauthenticated) {
		return unauthenticated()
	}
	if errors.Is(err, ht.ErrNotImplemented) {
		// Only an absent module's operation is unimplemented, and those are answered 404
		// before they get here (withoutAbsentGroups); this keeps the answer the same.
		return problem.New(http.StatusNotFound, "No such operation in this service.")
	}
	if errors.Is(err, database.ErrUnavailable) {
		p.log.Warn("database unavailable", zap.Error(err))
		return problem.New(http.StatusServiceUnavailable, "The database is unavailable; try again later.")
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return problem.New(http.StatusServiceUnavailable, "The request did not finish in time; try again later.")
	}
	p.log.Error("unhandled error", zap.Error(err))
	return problem.New(http.StatusInternalServerError, "An unexpected error occurred.")
}

// requestProblem recognises ogen's request decoding and validation failures: the request is
// wrong, so they are 4xx and name what is wrong.
func requestProblem(err error) (*problem.Problem, bool) {
	var (
		maxBytes *http.MaxBytesError
		ctErr    *validate.InvalidContentTypeError
		param    *ogenerrors.DecodeParamError
		valErr   *validate.Error
		reqErr   *ogenerrors.DecodeRequestError
		paramsEr *ogenerrors.DecodeParamsError
	)
	var secErr *ogenerrors.SecurityError
	switch {
	case errors.As(err, &secErr):
		return unauthenticated(), true
	case errors.As(err, &maxBytes):
		return problem.New(http.StatusRequestEntityTooLarge, "The request body is larger than 1 MiB."), true
	case errors.As(err, &ctErr):
		return problem.New(http.StatusUnsupportedMediaType, "The request body must be application/json."), true
	case errors.Is(err, validate.ErrBodyRequired):
		return problem.New(http.StatusBadRequest, "The request body is required.",
			problem.FieldError{Field: "body", Message: "is required"}), true
	case errors.As(err, &param):
		return problem.New(http.StatusBadRequest, "Parameter "+param.Name+" is invalid: "+cause(param.Err),
			problem.FieldError{Field: param.Name, Message: cause(param.Err)}), true
	case errors.As(err, &valErr) && len(valErr.Fields) > 0:
		fields := make([]problem.FieldError, len(valErr.Fields))
		names := make([]string, len(valErr.Fields))
		for i, f := range valErr.Fields {
			fields[i] = problem.FieldError{Field: f.Name, Message: f.Error.Error()}
			names[i] = f.Name
		}
		return problem.New(http.StatusBadRequest, "Invalid field(s): "+strings.Join(names, ", ")+".", fields...), true
	case errors.As(err, &reqErr):
		return bodyProblem(reqErr.Err), true
	case errors.As(err, &paramsEr):
		return problem.New(http.StatusBadRequest, "The request parameters are not valid: "+cause(paramsEr.Err)), true
	}
	return nil, false
}

var (
	unknownField = regexp.MustCompile(`unexpected field "([^"]*)"`)
	badField     = regexp.MustCompile(`decode field "([^"]*)": (.*)$`)
)

// bodyProblem describes a body that is not the JSON the schema asks for, naming the field when
// ogen's decoder says which one.
func bodyProblem(err error) *problem.Problem {
	msg := err.Error()
	if m := unknownField.FindStringSubmatch(msg); m != nil {
		return problem.New(http.StatusBadRequest, "Unknown field "+strconv.Quote(m[1])+" in the request body.",
			problem.FieldError{Field: m[1], Message: "is not a field of this request"})
	}
	if m := badField.FindStringSubmatch(msg); m != nil {
		return problem.New(http.StatusBadRequest, "Field "+strconv.Quote(m[1])+" is not valid: "+m[2]+".",
			problem.FieldError{Field: m[1], Message: m[2]})
	}
	return problem.New(http.StatusBadRequest, "The request body is not valid JSON for this operation: "+cause(err)+".")
}

// cause drops ogen's "operation X: decode request:" framing, keeping what a client can act on.
func cause(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, "decode application/json: "); i >= 0 {
		msg = msg[i+len("decode application/json: "):]
	}
	return msg
}

// unauthenticated is the answer to a request without a valid token or whose account may no
// longer act. The reason (expired, bad signature, deactivated) stays in the logs.
func unauthenticated() *problem.Problem {
	p := problem.New(http.StatusUnauthorized, "A valid bearer token is required.")
	p.Headers = map[string]string{"WWW-Authenticate": "Bearer"}
	return p
}

// ErrorHandler is ogen's error handler: requests that fail decoding or validation never reach
// a module, and get their problem here.
func (p *Problems) ErrorHandler(ctx context.Context, w http.ResponseWriter, r *http.Request, err error) {
	prob := *p.FromError(ctx, err)
	prob.Instance = r.URL.Path
	problem.Write(w, &prob)
}
