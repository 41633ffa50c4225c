package api

import (
	"net/http"

	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/service"
)

// Trellis-native instances and load balancers (DESIGN.md "Contracts",
// docs/targets.md): what INSTANCE and ALB targets resolve to. As for
// security groups, PUT creates (201) or replaces (200), GET, DELETE (204),
// and the list, optionally of one VPC (?vpcId=):
//
//	/trellis/v1/instances/{instanceId}   {"vpcId", "privateIpAddress", "state"}
//	/trellis/v1/load-balancers/{name}    {"vpcId", "listeners": [{"port", "protocol", "addresses"}]}

func instanceObj(i *model.Instance) obj {
	return obj{"instanceId": i.ID, "ownerId": i.Account, "vpcId": i.VpcID, "privateIpAddress": i.PrivateIPAddress,
		"state": i.State}.time("createdAt", i.CreatedAt).time("lastUpdatedAt", i.UpdatedAt)
}

// lbListenerWire is a listener on the wire; the port is a pointer so that
// an absent port is told from 0.
type lbListenerWire struct {
	Port      *int     `json:"port"`
	Protocol  string   `json:"protocol"`
	Addresses []string `json:"addresses"`
}

func loadBalancerObj(lb *model.LoadBalancer) obj {
	ls := make([]obj, len(lb.Listeners))
	for i, l := range lb.Listeners {
		ls[i] = obj{"port": l.Port, "protocol": l.Protocol, "addresses": l.Addresses}
	}
	return obj{"loadBalancerName": lb.Name, "loadBalancerArn": lb.ARN, "ownerId": lb.Account, "vpcId": lb.VpcID,
		"listeners": ls}.time("createdAt", lb.CreatedAt).time("lastUpdatedAt", lb.UpdatedAt)
}

func putStatus(created bool) int {
	if created {
		return http.StatusCreated
	}
	return http.StatusOK
}

func (s *Server) registryRoutes() {
	const inst = NativePrefix + "instances/{instanceId}"
	s.native.Handle("PUT "+inst, s.nativeHandler(func(r *http.Request, body []byte) (int, any, error) {
		var in struct {
			VpcID            string `json:"vpcId"`
			PrivateIPAddress string `json:"privateIpAddress"`
			State            string `json:"state"`
		}
		if err := decode(body, &in); err != nil {
			return 0, nil, err
		}
		i, created, err := s.svc.PutInstance(r.Context(), service.PutInstanceInput{ID: r.PathValue("instanceId"),
			VpcID: in.VpcID, PrivateIPAddress: in.PrivateIPAddress, State: in.State})
		if err != nil {
			return 0, nil, err
		}
		return putStatus(created), instanceObj(i), nil
	}))
	s.native.Handle("GET "+inst, s.nativeHandler(func(r *http.Request, _ []byte) (int, any, error) {
		i, err := s.svc.GetInstance(r.Context(), r.PathValue("instanceId"))
		if err != nil {
			return 0, nil, err
		}
		return http.StatusOK, instanceObj(i), nil
	}))
	s.native.Handle("DELETE "+inst, s.nativeHandler(func(r *http.Request, _ []byte) (int, any, error) {
		return http.StatusNoContent, nil, s.svc.DeleteInstance(r.Context(), r.PathValue("instanceId"))
	}))
	s.native.Handle("GET "+NativePrefix+"instances", s.nativeHandler(func(r *http.Request, _ []byte) (int, any, error) {
		p, err := page(r.URL.Query())
		if err != nil {
			return 0, nil, err
		}
		items, next, err := s.svc.ListInstances(r.Context(), r.URL.Query().Get("vpcId"), p)
		if err != nil {
			return 0, nil, err
		}
		out := make([]obj, len(items))
		for i, x := range items {
			out[i] = instanceObj(x)
		}
		return http.StatusOK, list(out, next), nil
	}))

	const lb = NativePrefix + "load-balancers/{name}"
	s.native.Handle("PUT "+lb, s.nativeHandler(func(r *http.Request, body []byte) (int, any, error) {
		var in struct {
			VpcID     string           `json:"vpcId"`
			Listeners []lbListenerWire `json:"listeners"`
		}
		if err := decode(body, &in); err != nil {
			return 0, nil, err
		}
		ls := make([]model.LoadBalancerListenerInput, len(in.Listeners))
		for i, w := range in.Listeners {
			ls[i] = model.LoadBalancerListenerInput{Port: w.Port, Protocol: w.Protocol, Addresses: w.Addresses}
		}
		x, created, err := s.svc.PutLoadBalancer(r.Context(), service.PutLoadBalancerInput{Name: r.PathValue("name"),
			VpcID: in.VpcID, Listeners: ls})
		if err != nil {
			return 0, nil, err
		}
		return putStatus(created), loadBalancerObj(x), nil
	}))
	s.native.Handle("GET "+lb, s.nativeHandler(func(r *http.Request, _ []byte) (int, any, error) {
		x, err := s.svc.GetLoadBalancer(r.Context(), r.PathValue("name"))
		if err != nil {
			return 0, nil, err
		}
		return http.StatusOK, loadBalancerObj(x), nil
	}))
	s.native.Handle("DELETE "+lb, s.nativeHandler(func(r *http.Request, _ []byte) (int, any, error) {
		return http.StatusNoContent, nil, s.svc.DeleteLoadBalancer(r.Context(), r.PathValue("name"))
	}))
	s.native.Handle("GET "+NativePrefix+"load-balancers", s.nativeHandler(func(r *http.Request, _ []byte) (int, any, error) {
		p, err := page(r.URL.Query())
		if err != nil {
			return 0, nil, err
		}
		items, next, err := s.svc.ListLoadBalancers(r.Context(), r.URL.Query().Get("vpcId"), p)
		if err != nil {
			return 0, nil, err
		}
		out := make([]obj, len(items))
		for i, x := range items {
			out[i] = loadBalancerObj(x)
		}
		return http.StatusOK, list(out, next), nil
	}))
}
