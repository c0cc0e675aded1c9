package httpserver

import (
	"context"
	"errors"
	"io"
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
	"github.com/acme/userservice/platform/reqctx"
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

// FromError returns the problem for err. A refusal (4xx) is logged at debug level with its
// cause, which the answer may keep to itself (why a token was refused, for instance).
func (p *Problems) FromError(ctx context.Context, err error) *problem.Problem {
	prob := p.fromError(err)
	if prob.Status < http.StatusInternalServerError {
		if ce := p.log.Check(zap.DebugLevel, "request refused"); ce != nil {
			ce.Write(zap.Int("status", prob.Status), zap.String("detail", prob.Detail),
				zap.String("request_id", reqctx.RequestID(ctx)), zap.Error(err))
		}
	}
	return prob
}

func (p *Problems) fromError(err error) *problem.Problem {
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
		// before they get here (beforeServer); this keeps the answer the same.
		return problem.New(http.StatusNotFound, "No such operation in this service.")
	}
	if errors.Is(err, database.ErrUnavailable) {
		// Debug, not a warning per request: the request's line has its 503, and the outage
		// itself is logged by the background loops, once when it begins and once when it ends.
		p.log.Debug("database unavailable", zap.Error(err))
		return problem.New(http.StatusServiceUnavailable, "The database is unavailable; try again later.")
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return problem.New(http.StatusServiceUnavailable, "The request did not finish in time; try again later.")
	}
	p.log.Error("unhandled error", zap.Error(err))
	return problem.New(http.StatusInternalServerError, "An unexpected error occurred.")
}

// requestProblem recognises ogen's request decoding and validation failures: the request is
// wrong, so they are 4xx and say in plain words which rule of the contract which field broke
// (operationFields, generated from openapi.yaml), never the generator's own wording.
func requestProblem(err error) (*problem.Problem, bool) {
	var (
		maxBytes *http.MaxBytesError
		ctErr    *validate.InvalidContentTypeError
		param    *ogenerrors.DecodeParamError
		params   *ogenerrors.DecodeParamsError
		valErr   *validate.Error
		reqErr   *ogenerrors.DecodeRequestError
		secErr   *ogenerrors.SecurityError
	)
	op := ""
	if errors.As(err, &reqErr) {
		op = reqErr.ID
	} else if errors.As(err, &params) {
		op = params.ID
	}
	switch {
	case errors.As(err, &secErr):
		return unauthenticated(), true
	case errors.As(err, &maxBytes):
		return problem.New(http.StatusRequestEntityTooLarge, "The request body is larger than 1 MiB."), true
	case errors.As(err, &ctErr), strings.Contains(err.Error(), "parse media type"):
		// A missing Content-Type is as unsupported as a wrong one.
		return problem.New(http.StatusUnsupportedMediaType, "The request body must be sent as Content-Type: application/json."), true
	case errors.Is(err, validate.ErrBodyRequired):
		return invalid(problem.FieldError{Field: "body", Message: "is required"}), true
	case errors.As(err, &param):
		return invalid(problem.FieldError{Field: param.Name, Message: ruleMessage(op, param.Name, param.Err)}), true
	case errors.As(err, &valErr) && len(valErr.Fields) > 0:
		fields := make([]problem.FieldError, len(valErr.Fields))
		for i, f := range valErr.Fields {
			fields[i] = problem.FieldError{Field: f.Name, Message: ruleMessage(op, f.Name, f.Error)}
		}
		return invalid(fields...), true
	case reqErr != nil:
		return invalid(bodyError(op, reqErr.Err)), true
	case params != nil:
		return invalid(problem.FieldError{Field: "parameters", Message: "are not valid: " + params.Err.Error()}), true
	}
	return nil, false
}

// invalid is the 400 problem of the invalid fields, each named in the detail too.
func invalid(fields ...problem.FieldError) *problem.Problem {
	said := make([]string, len(fields))
	for i, f := range fields {
		said[i] = f.Field + ": " + f.Message
	}
	return problem.New(http.StatusBadRequest, "The request is not valid: "+strings.Join(said, "; ")+".", fields...)
}

// fieldSpec is what the contract asks of a parameter or a body field (operationFields).
type fieldSpec struct {
	// In is where the field is: "body", "query" or "path".
	In          string
	Type        string
	Format      string
	Description string
	Enum        []string
}

// expected says what a value of the field must be, in words: "a string", "true or false".
func (f fieldSpec) expected() string {
	switch {
	case len(f.Enum) > 0:
		return "one of " + strings.Join(f.Enum, ", ")
	case f.Format == "uuid":
		return "a UUID, such as 3f0e8a5c-61c4-4d5e-9c37-2f5d8f2b7a10"
	case f.Format == "date-time":
		return "a date and time (RFC 3339)"
	}
	switch f.Type {
	case "boolean":
		return "true or false"
	case "integer":
		return "an integer"
	case "number":
		return "a number"
	case "array":
		return "an array"
	case "object":
		return "an object"
	}
	return "a string"
}

var (
	unknownField = regexp.MustCompile(`unexpected field "([^"]*)"`)
	badField     = regexp.MustCompile(`decode field "([^"]*)": `)
	badByte      = regexp.MustCompile(`unexpected byte \d+ '(.+)' at (\d+)`)
	bound        = regexp.MustCompile(`value (\S+) (less|greater) than (\S+)`)
)

// ruleMessage says which rule of the contract the value of field name (of operation op)
// broke, as err (ogen's) tells it.
func ruleMessage(op, name string, err error) string {
	spec, known := operationFields[op][name]
	var (
		minLen *validate.MinLengthError
		maxLen *validate.MaxLengthError
		regex  *validate.NoRegexMatchError
	)
	switch {
	case errors.Is(err, validate.ErrFieldRequired):
		return "is required"
	case errors.As(err, &minLen):
		return "must be at least " + strconv.Itoa(minLen.MinLength) + " characters long"
	case errors.As(err, &maxLen):
		return "must be at most " + strconv.Itoa(maxLen.MaxLength) + " characters long"
	case errors.As(err, &regex):
		if spec.Description != "" {
			return "must be " + lowerFirst(strings.TrimSuffix(spec.Description, "."))
		}
		return "does not have the form the contract asks for"
	}
	if m := bound.FindStringSubmatch(err.Error()); m != nil {
		if m[2] == "less" {
			return "must be at least " + m[3]
		}
		return "must be at most " + m[3]
	}
	if known {
		return "must be " + spec.expected()
	}
	return "is not valid"
}

// bodyError names what is wrong with a request body that is not the JSON the contract asks for.
func bodyError(op string, err error) problem.FieldError {
	msg := err.Error()
	if m := unknownField.FindStringSubmatch(msg); m != nil {
		return problem.FieldError{Field: m[1], Message: "is not a field of this request"}
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(msg, "unexpected EOF") {
		return problem.FieldError{Field: "body", Message: "is not valid JSON (it ends before the value does)"}
	}
	if m := badField.FindStringSubmatch(msg); m != nil {
		return problem.FieldError{Field: m[1], Message: ruleMessage(op, m[1], err)}
	}
	switch m := badByte.FindStringSubmatch(msg); {
	case strings.Contains(msg, `"{" expected`):
		return problem.FieldError{Field: "body", Message: "must be a JSON object"}
	case m != nil:
		return problem.FieldError{Field: "body", Message: "is not valid JSON (unexpected " + m[1] + " at byte " + m[2] + ")"}
	}
	return problem.FieldError{Field: "body", Message: "is not valid JSON for this operation"}
}

// lowerFirst lowers the first letter of s: a description starts a sentence, a message does not.
func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
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
	problem.Write(w, r, &prob)
}
