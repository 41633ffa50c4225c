package api

import (
	"context"
	"net/http"
	"time"

	"github.com/trellis-net/trellis/internal/canary"
	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/service"
)

// Canary releases under /trellis/v1/canaries (DESIGN.md "Canaries:",
// docs/canaries.md): POST starts one (201, with canaryId), GET lists the
// caller's, GET /{canaryId} describes one, POST /{canaryId}/abort stops a
// running one (200, the canary as aborted). There is no DELETE: a canary's
// record is its history, and abort is the only way to stop it.

// Canaries is the canary controller as the API uses it
// (*canary.Controller implements it).
type Canaries interface {
	StartCanary(ctx context.Context, in canary.StartInput) (*canary.Canary, error)
	Get(ctx context.Context, id string) (*canary.Canary, error)
	List(ctx context.Context, p service.Page) ([]*canary.Canary, string, error)
	Abort(ctx context.Context, id string) (*canary.Canary, error)
}

// SetCanaries connects the canary controller; without one the canary
// operations answer that this Trellis does not run canaries.
func (s *Server) SetCanaries(c Canaries) { s.canaries = c }

func observationObj(o *canary.Observation) any {
	if o == nil {
		return nil
	}
	return obj{"requests": o.Requests, "errors5xx": o.Errors5xx, "errorRate": o.ErrorRate(), "p99Ms": o.P99.Milliseconds()}
}

func canaryObj(c *canary.Canary) obj {
	hist := make([]obj, len(c.History))
	for i, h := range c.History {
		hist[i] = obj{"at": wireTime(h.At), "event": h.Kind, "stepIndex": h.StepIndex, "percent": h.Percent, "reason": h.Reason}.
			opt("canary", observationObj(h.Canary)).opt("baseline", observationObj(h.Baseline))
	}
	w := c.Weights()
	o := obj{"canaryId": c.ID, "ownerId": c.Account, "serviceId": c.ServiceID, "listenerId": c.ListenerID,
		"ruleId": c.RuleID, "defaultAction": c.DefaultAction,
		"baselineTargetGroup": c.BaselineTargetGroup, "canaryTargetGroup": c.CanaryTargetGroup,
		"steps": c.Steps, "intervalSeconds": c.IntervalSeconds, "maxErrorRate": c.MaxErrorRate, "minRequests": c.MinRequests,
		"state": string(c.State), "stepIndex": c.StepIndex, "percent": c.Percent(),
		"weights": obj{"baseline": w.Baseline, "canary": w.Canary}, "history": hist}
	if c.MaxP99Ms > 0 {
		o["maxP99Ms"] = c.MaxP99Ms
	}
	if c.Pending {
		// The record moved first; the rule's weights follow (docs/canaries.md).
		o["weightsPending"] = true
	}
	if !c.State.Final() {
		o["stepEndsAt"] = wireTime(c.StepStartedAt.Add(time.Duration(c.IntervalSeconds) * time.Second))
	}
	return o.str("reason", c.Reason).time("stepStartedAt", c.StepStartedAt).
		time("createdAt", c.CreatedAt).time("lastUpdatedAt", c.UpdatedAt)
}

func (s *Server) canaryRoutes() {
	const all = NativePrefix + "canaries"
	const one = all + "/{canaryId}"
	h := func(f func(r *http.Request, body []byte, c Canaries) (int, any, error)) http.Handler {
		return s.nativeHandler(func(r *http.Request, body []byte) (int, any, error) {
			if s.canaries == nil {
				return 0, nil, model.NotImplemented("Canaries")
			}
			return f(r, body, s.canaries)
		})
	}
	s.native.Handle("POST "+all, h(func(r *http.Request, body []byte, c Canaries) (int, any, error) {
		var in struct {
			ServiceIdentifier   string   `json:"serviceIdentifier"`
			ListenerIdentifier  string   `json:"listenerIdentifier"`
			RuleIdentifier      string   `json:"ruleIdentifier"`
			BaselineTargetGroup string   `json:"baselineTargetGroup"`
			CanaryTargetGroup   string   `json:"canaryTargetGroup"`
			Steps               []int    `json:"steps"`
			IntervalSeconds     *int     `json:"intervalSeconds"`
			MaxErrorRate        *float64 `json:"maxErrorRate"`
			MaxP99Ms            *int     `json:"maxP99Ms"`
			MinRequests         *int     `json:"minRequests"`
		}
		if err := decode(body, &in); err != nil {
			return 0, nil, err
		}
		cn, err := c.StartCanary(r.Context(), canary.StartInput{ServiceIdentifier: in.ServiceIdentifier,
			ListenerIdentifier: in.ListenerIdentifier, RuleIdentifier: in.RuleIdentifier,
			BaselineTargetGroup: in.BaselineTargetGroup, CanaryTargetGroup: in.CanaryTargetGroup, Steps: in.Steps,
			IntervalSeconds: in.IntervalSeconds, MaxErrorRate: in.MaxErrorRate, MaxP99Ms: in.MaxP99Ms, MinRequests: in.MinRequests})
		if err != nil {
			return 0, nil, err
		}
		return http.StatusCreated, canaryObj(cn), nil
	}))
	s.native.Handle("GET "+all, h(func(r *http.Request, _ []byte, c Canaries) (int, any, error) {
		p, err := page(r.URL.Query())
		if err != nil {
			return 0, nil, err
		}
		items, next, err := c.List(r.Context(), p)
		if err != nil {
			return 0, nil, err
		}
		out := make([]obj, len(items))
		for i, cn := range items {
			out[i] = canaryObj(cn)
		}
		return http.StatusOK, list(out, next), nil
	}))
	s.native.Handle("GET "+one, h(func(r *http.Request, _ []byte, c Canaries) (int, any, error) {
		cn, err := c.Get(r.Context(), r.PathValue("canaryId"))
		if err != nil {
			return 0, nil, err
		}
		return http.StatusOK, canaryObj(cn), nil
	}))
	s.native.Handle("POST "+one+"/abort", h(func(r *http.Request, _ []byte, c Canaries) (int, any, error) {
		cn, err := c.Abort(r.Context(), r.PathValue("canaryId"))
		if err != nil {
			return 0, nil, err
		}
		return http.StatusOK, canaryObj(cn), nil
	}))
}
