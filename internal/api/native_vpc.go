package api

import (
	"io"
	"net/http"

	"github.com/trellis-net/trellis/internal/model"
)

// Trellis-native VPCs under /trellis/v1/vpcs. Same SigV4, same error shape
// as the Lattice operations; JSON in and out.

func vpcObj(v *model.VPC) obj {
	o := obj{"vpcId": v.ID, "arn": v.ARN, "ownerId": v.Account, "mode": v.Mode, "ingressAddress": v.IngressAddress,
		"autoCreated": v.AutoCreated}.time("createdAt", v.CreatedAt).time("lastUpdatedAt", v.UpdatedAt)
	if v.Mode == model.VPCModeNetns {
		o["cidrBlocks"], o["netnsName"] = v.CIDRBlocks, v.NetnsName
	}
	return o
}

func (s *Server) nativeRoutes() {
	s.native.Handle("PUT "+NativePrefix+"vpcs/{vpcId}", s.nativeHandler(func(r *http.Request, body []byte) (int, any, error) {
		var in struct {
			Mode       string   `json:"mode"`
			CIDRBlocks []string `json:"cidrBlocks"`
		}
		if err := decode(body, &in); err != nil {
			return 0, nil, err
		}
		v, created, err := s.svc.PutVPC(r.Context(), r.PathValue("vpcId"), in.Mode, in.CIDRBlocks)
		if err != nil {
			return 0, nil, err
		}
		status := http.StatusOK
		if created {
			status = http.StatusCreated
		}
		return status, s.withDNSAddress(vpcObj(v), v), nil
	}))
	s.native.Handle("GET "+NativePrefix+"vpcs/{vpcId}", s.nativeHandler(func(r *http.Request, _ []byte) (int, any, error) {
		v, err := s.svc.GetVPC(r.Context(), r.PathValue("vpcId"))
		if err != nil {
			return 0, nil, err
		}
		return http.StatusOK, s.withDNSAddress(vpcObj(v), v), nil
	}))
	s.native.Handle("GET "+NativePrefix+"vpcs", s.nativeHandler(func(r *http.Request, _ []byte) (int, any, error) {
		p, err := page(r.URL.Query())
		if err != nil {
			return 0, nil, err
		}
		items, next, err := s.svc.ListVPCs(r.Context(), p)
		if err != nil {
			return 0, nil, err
		}
		out := make([]obj, len(items))
		for i, v := range items {
			out[i] = s.withDNSAddress(vpcObj(v), v)
		}
		return http.StatusOK, list(out, next), nil
	}))
	s.native.Handle("DELETE "+NativePrefix+"vpcs/{vpcId}", s.nativeHandler(func(r *http.Request, _ []byte) (int, any, error) {
		return http.StatusNoContent, nil, s.svc.DeleteVPC(r.Context(), r.PathValue("vpcId"))
	}))
	s.native.Handle(NativePrefix, s.nativeHandler(func(r *http.Request, _ []byte) (int, any, error) {
		return 0, nil, &model.Error{Kind: model.KindValidation, Reason: model.ReasonUnknownOperation,
			Message: "No Trellis operation matches " + r.Method + " " + r.URL.Path}
	}))
}

// nativeHandler adapts a handler to the native mux with the API's encoding.
func (s *Server) nativeHandler(h func(r *http.Request, body []byte) (int, any, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		status, out, err := h(r, body)
		if err != nil {
			writeError(w, toWireError(r.Context(), s.log, err))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		if status != http.StatusNoContent {
			if out == nil {
				out = obj{}
			}
			_ = encodeJSON(w, out)
		}
	})
}
