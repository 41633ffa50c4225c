package api

import (
	"context"
	"math"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/trellis-net/trellis/internal/arn"
	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/service"
)

// Traffic insight (DESIGN.md "Traffic", docs/traffic.md):
//
//	GET /trellis/v1/traffic?service=ID|ARN[&window=5m]  {"callers": [...], "targetGroups": [...]}
//	GET /trellis/v1/traffic?caller=PRINCIPAL[&window=]  {"services": [...]}
//	GET /trellis/v1/traffic?top=N[&window=]             {"services": [...], "callers": [...]}
//
// The numbers come from the data plane's per-minute aggregates, handed in
// by app (SetTraffic): the API does not import the data plane. An account
// sees the traffic of the services it owns only.

// TrafficRow is one line of a traffic answer: the fields its view groups
// by (the others empty) and the numbers.
type TrafficRow struct {
	ServiceID, Principal, SourceVPCID, TargetGroupID string
	Requests, Errors4xx, Errors5xx                   int64
	P50, P99                                         time.Duration
}

// TrafficSource answers traffic queries over the last window (at most
// Window()).
type TrafficSource interface {
	// Window is how long the aggregates are kept.
	Window() time.Duration
	// Service answers a service's callers (by principal and source VPC)
	// and target groups.
	Service(serviceID string, window time.Duration) (callers, targetGroups []TrafficRow)
	// Caller answers what a principal called, by service, of the services
	// owned accepts.
	Caller(principal string, window time.Duration, owned func(serviceID string) bool) []TrafficRow
	// Top answers the n busiest services and callers (by principal) of
	// the services owned accepts.
	Top(window time.Duration, n int, owned func(serviceID string) bool) (services, callers []TrafficRow)
}

// AnonymousPrincipal is the principal of unauthenticated callers.
const AnonymousPrincipal = "Anonymous"

// DefaultTrafficWindow is the window of a query that names none (or the
// whole kept window, when that is shorter).
const DefaultTrafficWindow = 5 * time.Minute

// MaxTrafficTop bounds ?top=N.
const MaxTrafficTop = 1000

// SetTraffic serves GET /trellis/v1/traffic from src; nil (aggregation
// off, serve --traffic-window=0) answers a ValidationException saying so.
// Call it before serving.
func (s *Server) SetTraffic(src TrafficSource) {
	s.native.Handle("GET "+NativePrefix+"traffic", s.nativeHandler(func(r *http.Request, _ []byte) (int, any, error) {
		out, err := s.traffic(r.Context(), src, r)
		if err != nil {
			return 0, nil, err
		}
		return http.StatusOK, out, nil
	}))
}

func (s *Server) traffic(ctx context.Context, src TrafficSource, r *http.Request) (any, error) {
	q := r.URL.Query()
	if src == nil {
		return nil, model.Invalid("window", "traffic aggregation is off on this Trellis (trellis serve --traffic-window=0)")
	}
	window := min(DefaultTrafficWindow, src.Window())
	if w, ok := q["window"]; ok {
		d, err := time.ParseDuration(w[0])
		if err != nil || d <= 0 || d > src.Window() {
			return nil, model.Invalid("window", "window must be a positive duration such as 5m or 1h, at most the %s this Trellis keeps (serve --traffic-window)", src.Window())
		}
		window = d
	}
	given := 0
	for _, k := range []string{"service", "caller", "top"} {
		if _, ok := q[k]; ok {
			given++
		}
	}
	if given != 1 {
		return nil, model.Invalid("service", "give exactly one of service (a service ID or ARN), caller (a principal ARN or Anonymous) or top (a count)")
	}
	switch {
	case q.Has("service"):
		// GetService's visibility: another account's service is not found.
		svc, err := s.svc.GetService(ctx, q.Get("service"))
		if err != nil {
			return nil, err
		}
		callers, tgs := src.Service(svc.ID, window)
		return obj{"callers": trafficList(callers, "principal", "sourceVpcId"), "targetGroups": trafficList(tgs, "targetGroupId")}, nil
	case q.Has("caller"):
		p := q.Get("caller")
		if p != AnonymousPrincipal {
			if _, err := arn.Parse(p); err != nil || len(p) > 2048 || !utf8.ValidString(p) {
				return nil, model.Invalid("caller", "caller must be a principal ARN (arn:aws:iam::ACCOUNT:user/NAME, ...) or Anonymous")
			}
		}
		names, err := s.ownedServices(ctx)
		if err != nil {
			return nil, err
		}
		rows := src.Caller(p, window, func(id string) bool { _, ok := names[id]; return ok })
		return obj{"services": serviceTrafficList(rows, names)}, nil
	default:
		n, err := strconv.Atoi(q.Get("top"))
		if err != nil || n < 1 || n > MaxTrafficTop {
			return nil, model.Invalid("top", "top must be a count from 1 to %d", MaxTrafficTop)
		}
		names, err := s.ownedServices(ctx)
		if err != nil {
			return nil, err
		}
		svcs, callers := src.Top(window, n, func(id string) bool { _, ok := names[id]; return ok })
		return obj{"services": serviceTrafficList(svcs, names), "callers": trafficList(callers, "principal")}, nil
	}
}

// ownedServices maps the IDs of the caller's services to their names.
func (s *Server) ownedServices(ctx context.Context) (map[string]string, error) {
	names := map[string]string{}
	p := service.Page{MaxResults: 100}
	for {
		items, next, err := s.svc.ListServices(ctx, p)
		if err != nil {
			return nil, err
		}
		for _, it := range items {
			names[it.ID] = it.Name
		}
		if next == "" {
			return names, nil
		}
		p.NextToken = next
	}
}

// ms is a duration in milliseconds, to the microsecond.
func ms(d time.Duration) float64 { return math.Round(float64(d)/float64(time.Microsecond)) / 1000 }

func trafficObj(r TrafficRow) obj {
	return obj{"requests": r.Requests, "errors4xx": r.Errors4xx, "errors5xx": r.Errors5xx, "p50Ms": ms(r.P50), "p99Ms": ms(r.P99)}
}

// trafficList is rows on the wire with the key fields named.
func trafficList(rows []TrafficRow, fields ...string) []obj {
	out := make([]obj, 0, len(rows))
	for _, r := range rows {
		o := trafficObj(r)
		for _, f := range fields {
			switch f {
			case "principal":
				o[f] = r.Principal
			case "sourceVpcId":
				o[f] = r.SourceVPCID
			case "targetGroupId":
				o[f] = r.TargetGroupID
			}
		}
		out = append(out, o)
	}
	return out
}

func serviceTrafficList(rows []TrafficRow, names map[string]string) []obj {
	out := make([]obj, 0, len(rows))
	for _, r := range rows {
		o := trafficObj(r)
		o["serviceId"] = r.ServiceID
		if n := names[r.ServiceID]; n != "" {
			o["serviceName"] = n
		}
		out = append(out, o)
	}
	return out
}
