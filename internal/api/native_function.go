package api

import (
	"net/http"

	"github.com/trellis-net/trellis/internal/functions"
	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/service"
)

// Trellis-native functions under /trellis/v1/functions (DESIGN.md
// "Contracts", docs/functions.md): PUT creates (201) or replaces (200),
// GET, DELETE (204), and the list. The function host hears of every PUT
// and DELETE at once (Forget), so that the next invocation runs the new
// declaration and a deleted function's workers stop.

// SetFunctionHost connects the function host that runs hosted functions
// (the Lambda Invoke API, lambda.go); nil, the default, means functions are
// declared but not run here (--function-host=false).
func (s *Server) SetFunctionHost(h *functions.Host) { s.functions = h }

func functionObj(f *model.Function) obj {
	o := obj{"functionName": f.Name, "functionArn": f.ARN, "ownerId": f.Account, "command": f.Command,
		"memorySize": f.MemorySize, "timeoutSeconds": f.TimeoutSeconds, "maxConcurrency": f.MaxConcurrency,
		"revisionId": f.RevisionID, "version": model.FunctionVersionLatest}
	if len(f.Environment) > 0 {
		o["environment"] = f.Environment
	}
	return o.str("handler", f.Handler).str("description", f.Description).
		time("createdAt", f.CreatedAt).time("lastUpdatedAt", f.UpdatedAt)
}

func (s *Server) functionRoutes() {
	const one = NativePrefix + "functions/{functionName}"
	s.native.Handle("PUT "+one, s.nativeHandler(func(r *http.Request, body []byte) (int, any, error) {
		var in struct {
			Command        []string          `json:"command"`
			Environment    map[string]string `json:"environment"`
			Handler        string            `json:"handler"`
			Description    string            `json:"description"`
			MemorySize     *int              `json:"memorySize"`
			TimeoutSeconds *int              `json:"timeoutSeconds"`
			MaxConcurrency *int              `json:"maxConcurrency"`
		}
		if err := decode(body, &in); err != nil {
			return 0, nil, err
		}
		f, created, err := s.svc.PutFunction(r.Context(), service.PutFunctionInput{Name: r.PathValue("functionName"),
			FunctionInput: model.FunctionInput{Command: in.Command, Environment: in.Environment, Handler: in.Handler,
				Description: in.Description, MemorySize: in.MemorySize, TimeoutSeconds: in.TimeoutSeconds,
				MaxConcurrency: in.MaxConcurrency}})
		if err != nil {
			return 0, nil, err
		}
		if s.functions != nil {
			s.functions.Forget(f.ARN)
		}
		status := http.StatusOK
		if created {
			status = http.StatusCreated
		}
		return status, functionObj(f), nil
	}))
	s.native.Handle("GET "+one, s.nativeHandler(func(r *http.Request, _ []byte) (int, any, error) {
		f, err := s.svc.GetFunction(r.Context(), r.PathValue("functionName"))
		if err != nil {
			return 0, nil, err
		}
		return http.StatusOK, functionObj(f), nil
	}))
	s.native.Handle("DELETE "+one, s.nativeHandler(func(r *http.Request, _ []byte) (int, any, error) {
		f, err := s.svc.DeleteFunction(r.Context(), r.PathValue("functionName"))
		if err != nil {
			return 0, nil, err
		}
		if s.functions != nil {
			s.functions.Forget(f.ARN)
		}
		return http.StatusNoContent, nil, nil
	}))
	s.native.Handle("GET "+NativePrefix+"functions", s.nativeHandler(func(r *http.Request, _ []byte) (int, any, error) {
		p, err := page(r.URL.Query())
		if err != nil {
			return 0, nil, err
		}
		items, next, err := s.svc.ListFunctions(r.Context(), p)
		if err != nil {
			return 0, nil, err
		}
		out := make([]obj, len(items))
		for i, f := range items {
			out[i] = functionObj(f)
		}
		return http.StatusOK, list(out, next), nil
	}))
}
