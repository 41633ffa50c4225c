package api

import (
	"net/http"
	"time"

	"github.com/trellis-net/trellis/internal/arn"
	"github.com/trellis-net/trellis/internal/model"
)

// Target health per node (docs/etcd.md, "Health across nodes"):
//
//	GET /trellis/v1/target-health?targetGroup=ID|ARN
//	{"targetGroupId": "tg-…", "targets": [{"id": "10.0.0.1", "port": 80,
//	  "status": "UNHEALTHY", "reasonCode": "HealthCheckFailed", "decidedBy": "node-b",
//	  "nodes": [{"node": "node-a", "status": "HEALTHY", "since": "…"}, …]}]}
//
// ListTargets answers one status per target, combined over the nodes that
// check it; this answers each node's report, and which node's decided the
// combination. The reports come from the cluster, handed in by app
// (SetTargetHealthReports). A target group of another account is not found,
// as in GetTargetGroup.

// TargetHealthNode is one node's report of a target.
type TargetHealthNode struct {
	Node, Status, ReasonCode string
	Since                    time.Time
}

// TargetHealthRow is one target's reports and their combination.
type TargetHealthRow struct {
	ID             string
	Port           int
	Status, Reason string
	DecidedBy      string // the node whose report decided Status; "" when none did
	Nodes          []TargetHealthNode
}

// TargetHealthReports returns the rows of a target group's targets that
// some node reports, by target ID and port.
type TargetHealthReports func(targetGroupID string) []TargetHealthRow

// SetTargetHealthReports serves GET /trellis/v1/target-health from f.
// Without it the endpoint is absent (one node: ListTargets is its
// checker's). Call it before serving.
func (s *Server) SetTargetHealthReports(f TargetHealthReports) {
	s.native.Handle("GET "+NativePrefix+"target-health", s.nativeHandler(func(r *http.Request, _ []byte) (int, any, error) {
		ident := r.URL.Query().Get("targetGroup")
		if ident == "" {
			return 0, nil, model.Invalid("targetGroup", "targetGroup is required: a target group ID or ARN")
		}
		// Checked here so that the error names this endpoint's parameter.
		if _, err := model.ParseIdentifier(arn.TargetGroup, "targetGroup", ident); err != nil {
			return 0, nil, err
		}
		tg, err := s.svc.GetTargetGroup(r.Context(), ident)
		if err != nil {
			return 0, nil, err
		}
		rows := f(tg.ID)
		targets := make([]obj, 0, len(rows))
		for _, row := range rows {
			nodes := make([]obj, 0, len(row.Nodes))
			for _, n := range row.Nodes {
				o := obj{"node": n.Node, "status": n.Status, "since": n.Since.UTC().Format(time.RFC3339Nano)}
				if n.ReasonCode != "" {
					o["reasonCode"] = n.ReasonCode
				}
				nodes = append(nodes, o)
			}
			o := obj{"id": row.ID, "port": row.Port, "status": row.Status, "nodes": nodes}
			if row.Reason != "" {
				o["reasonCode"] = row.Reason
			}
			if row.DecidedBy != "" {
				o["decidedBy"] = row.DecidedBy
			}
			targets = append(targets, o)
		}
		return http.StatusOK, obj{"targetGroupId": tg.ID, "targets": targets}, nil
	}))
}
