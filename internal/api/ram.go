package api

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/service"
	"github.com/trellis-net/trellis/internal/sigv4"
	"github.com/trellis-net/trellis/internal/store"
)

// The AWS RAM API (docs/ram.md) on the API address. RAM is restJson1 like
// Lattice, one POST (DeleteResourceShare: DELETE) per operation on a path
// named after it (/createresourceshare), signed with the signing name
// "ram"; the credential scope's service tells its requests apart from
// Lattice's, as AWS tells them apart by endpoint. Timestamps are epoch
// seconds; errors carry their type in X-Amzn-ErrorType, which the ram SDK
// decodes.

type ramOp func(ctx context.Context, r *http.Request, body []byte) (any, error)

type ramRoute struct {
	method, name string
	h            ramOp
}

func (s *Server) ramOps() map[string]ramRoute {
	post := func(name string, h ramOp) ramRoute { return ramRoute{http.MethodPost, name, h} }
	return map[string]ramRoute{
		"/createresourceshare":           post("CreateResourceShare", s.ramCreate),
		"/updateresourceshare":           post("UpdateResourceShare", s.ramUpdate),
		"/deleteresourceshare":           {http.MethodDelete, "DeleteResourceShare", s.ramDelete},
		"/getresourceshares":             post("GetResourceShares", s.ramGetShares),
		"/associateresourceshare":        post("AssociateResourceShare", s.ramAssociate),
		"/disassociateresourceshare":     post("DisassociateResourceShare", s.ramDisassociate),
		"/getresourceshareassociations":  post("GetResourceShareAssociations", s.ramGetAssociations),
		"/getresourceshareinvitations":   post("GetResourceShareInvitations", s.ramGetInvitations),
		"/acceptresourceshareinvitation": post("AcceptResourceShareInvitation", s.ramAccept),
		"/rejectresourceshareinvitation": post("RejectResourceShareInvitation", s.ramReject),
		"/listresources":                 post("ListResources", s.ramListResources),
		"/listprincipals":                post("ListPrincipals", s.ramListPrincipals),
		"/listresourcetypes":             post("ListResourceTypes", s.ramListResourceTypes),
		"/tagresource":                   post("TagResource", s.ramTag),
		"/untagresource":                 post("UntagResource", s.ramUntag),
	}
}

// isRAM reports whether a request is signed for RAM.
func isRAM(r *http.Request) bool {
	svc, ok := scopeService(r)
	return ok && svc == "ram"
}

// serveRAM authenticates (signing name ram) and runs one RAM operation;
// op receives its name for metrics ("ram:Operation").
func (s *Server) serveRAM(w http.ResponseWriter, r *http.Request, payloadHash string, body []byte, op *string) {
	ctx := r.Context()
	*op = "ram:" + opUnknown
	res, err := s.ramVerifier.Verify(ctx, r, payloadHash)
	if err != nil {
		writeRAMError(w, s.toRAMError(ctx, err))
		return
	}
	ctx = service.WithCaller(ctx, model.Caller{Account: res.Credential.Account, PrincipalARN: res.Credential.PrincipalARN})
	rt, ok := s.ram[r.URL.Path]
	if !ok || rt.method != r.Method {
		writeRAMError(w, ramError{Status: http.StatusNotFound, Type: "UnknownOperationException",
			Message: "Trellis does not serve the RAM operation " + clipName(r.Method+" "+r.URL.Path)})
		return
	}
	*op = "ram:" + rt.name
	out, err := rt.h(ctx, r, body)
	if err != nil {
		s.log.DebugContext(ctx, "ram error", "op", rt.name, "err", err)
		writeRAMError(w, s.toRAMError(ctx, err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if out == nil {
		out = obj{}
	}
	_ = encodeJSON(w, out)
}

type ramError struct {
	Status  int
	Type    string
	Message string
}

// toRAMError maps an error to RAM's modeled exceptions (all client errors
// are 400 in RAM's model; throttling 429, ServerInternalException 500,
// ServiceUnavailableException 503).
func (s *Server) toRAMError(ctx context.Context, err error) ramError {
	var se *sigv4.Error
	if errors.As(err, &se) {
		return ramError{Status: se.Status, Type: se.Code, Message: se.Message}
	}
	if errors.Is(err, store.ErrUnavailable) {
		s.log.WarnContext(ctx, "store unavailable: the call answers a retryable error", "err", err)
		return ramError{Status: http.StatusServiceUnavailable, Type: "ServiceUnavailableException", Message: UnavailableMessage}
	}
	if errors.Is(err, errSerialization) {
		return ramError{Status: http.StatusBadRequest, Type: "InvalidParameterException", Message: err.Error()}
	}
	var e *model.Error
	if !errors.As(err, &e) {
		s.log.ErrorContext(ctx, "internal error", "err", err)
		return ramError{Status: http.StatusInternalServerError, Type: "ServerInternalException", Message: "An internal error occurred. Try again later."}
	}
	t := "InvalidParameterException"
	switch e.Kind {
	case model.KindValidation, model.KindConflict:
		if r, ok := strings.CutPrefix(e.Reason, "ram:"); ok {
			t = r
		} else if e.ResourceType == model.TypeClientToken {
			t = "IdempotentParameterMismatchException"
		}
	case model.KindNotFound:
		t = "UnknownResourceException"
	case model.KindQuota:
		t = "ResourceShareLimitExceededException"
	case model.KindAccessDenied:
		t = "OperationNotPermittedException"
	case model.KindThrottling:
		return ramError{Status: http.StatusTooManyRequests, Type: "ThrottlingException", Message: e.Message}
	case model.KindNotImplemented:
		t = "OperationNotPermittedException"
	case model.KindInternal:
		return ramError{Status: http.StatusInternalServerError, Type: "ServerInternalException", Message: e.Message}
	}
	return ramError{Status: http.StatusBadRequest, Type: t, Message: e.Message}
}

func writeRAMError(w http.ResponseWriter, e ramError) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Amzn-ErrorType", e.Type)
	if e.Status == http.StatusServiceUnavailable || e.Status == http.StatusInternalServerError || e.Status == http.StatusTooManyRequests {
		h.Set("Retry-After", "1")
	}
	w.WriteHeader(e.Status)
	_ = encodeJSON(w, obj{"message": e.Message})
}

// ---- wire shapes ----

type ramTag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

func ramTagsIn(in []ramTag) []service.ShareTag {
	out := make([]service.ShareTag, len(in))
	for i, t := range in {
		out[i] = service.ShareTag{Key: t.Key, Value: t.Value}
	}
	return out
}

func ramTagsOut(m map[string]string) []obj {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]obj, len(keys))
	for i, k := range keys {
		out[i] = obj{"key": k, "value": m[k]}
	}
	return out
}

func ramShare(sh *model.ResourceShare) obj {
	return obj{"resourceShareArn": sh.ARN, "name": sh.Name, "owningAccountId": sh.Account,
		"allowExternalPrincipals": sh.AllowExternalPrincipals, "status": sh.Status, "tags": ramTagsOut(sh.Tags),
		"creationTime": epoch(sh.CreatedAt), "lastUpdatedTime": epoch(sh.UpdatedAt), "featureSet": "STANDARD"}
}

func ramAssoc(shareArn, shareName string, principal bool, a model.ShareAssociation) obj {
	typ := "RESOURCE"
	if principal {
		typ = "PRINCIPAL"
	}
	o := obj{"resourceShareArn": shareArn, "resourceShareName": shareName, "associatedEntity": a.Entity,
		"associationType": typ, "status": a.Status, "creationTime": epoch(a.CreatedAt), "lastUpdatedTime": epoch(a.UpdatedAt),
		"external": a.External}
	if a.StatusMessage != "" {
		o["statusMessage"] = a.StatusMessage
	}
	return o
}

// ramAssocs answers the associations an Associate/Disassociate call made.
func ramAssocs(sh *model.ResourceShare, list []model.ShareAssociation) []obj {
	out := make([]obj, len(list))
	for i, a := range list {
		out[i] = ramAssoc(sh.ARN, sh.Name, a.Type == "", a)
	}
	return out
}

func (s *Server) ramInvitation(ctx context.Context, iv *model.ShareInvitation) obj {
	assocs := []obj{}
	for _, a := range s.svc.ShareAssociationsOf(ctx, iv) {
		assocs = append(assocs, ramAssoc(iv.ShareARN, iv.ShareName, true, a))
	}
	return obj{"resourceShareInvitationArn": iv.ARN, "resourceShareName": iv.ShareName, "resourceShareArn": iv.ShareARN,
		"senderAccountId": iv.Sender, "receiverAccountId": iv.Receiver, "invitationTimestamp": epoch(iv.CreatedAt),
		"status": iv.Status, "resourceShareAssociations": assocs}
}

// decodeRAM reads an operation's JSON body (empty is {}; unknown members
// are ignored, as AWS does for newer clients).
func decodeRAM(body []byte, v any) error { return decodeACM(body, v) }

func ramRequired(field, v string) error {
	if v == "" {
		e := model.Invalid(field, "%s is required", field)
		e.Reason = model.ReasonRAMMissingParameter
		return e
	}
	return nil
}

// withToken echoes the request's clientToken, as RAM does.
func withToken(o obj, token *string) obj {
	if token != nil {
		o["clientToken"] = *token
	}
	return o
}

func ramPage(next string) func(obj) obj {
	return func(o obj) obj {
		if next != "" {
			o["nextToken"] = next
		}
		return o
	}
}

type ramPaging struct {
	NextToken  string `json:"nextToken"`
	MaxResults int    `json:"maxResults"`
}

func (p ramPaging) page() service.Page {
	return service.Page{MaxResults: p.MaxResults, NextToken: p.NextToken}
}

// ---- operations ----

func (s *Server) ramCreate(ctx context.Context, _ *http.Request, body []byte) (any, error) {
	var in struct {
		Name                    string   `json:"name"`
		ResourceArns            []string `json:"resourceArns"`
		Principals              []string `json:"principals"`
		Tags                    []ramTag `json:"tags"`
		AllowExternalPrincipals *bool    `json:"allowExternalPrincipals"`
		ClientToken             *string  `json:"clientToken"`
		PermissionArns          []string `json:"permissionArns"`
		Sources                 []string `json:"sources"`
		Configuration           any      `json:"resourceShareConfiguration"`
	}
	if err := decodeRAM(body, &in); err != nil {
		return nil, err
	}
	if err := ramRequired("name", in.Name); err != nil {
		return nil, err
	}
	if len(in.PermissionArns) > 0 {
		return nil, ramParam("permissionArns", "permissionArns is not supported: Trellis shares with the default permission of each resource type")
	}
	if len(in.Sources) > 0 {
		return nil, ramParam("sources", "sources is not supported")
	}
	if in.Configuration != nil {
		return nil, ramParam("resourceShareConfiguration", "resourceShareConfiguration is not supported")
	}
	sh, err := s.svc.CreateResourceShare(ctx, service.CreateResourceShareInput{Name: in.Name, ResourceArns: in.ResourceArns,
		Principals: in.Principals, AllowExternalPrincipals: in.AllowExternalPrincipals, Tags: ramTagsIn(in.Tags), ClientToken: in.ClientToken})
	if err != nil {
		return nil, err
	}
	return withToken(obj{"resourceShare": ramShare(sh)}, in.ClientToken), nil
}

func ramParam(field, msg string) error {
	e := model.Invalid(field, "%s", msg)
	e.Reason = model.ReasonRAMInvalidParameter
	return e
}

func (s *Server) ramUpdate(ctx context.Context, _ *http.Request, body []byte) (any, error) {
	var in struct {
		ResourceShareArn        string  `json:"resourceShareArn"`
		Name                    *string `json:"name"`
		AllowExternalPrincipals *bool   `json:"allowExternalPrincipals"`
		ClientToken             *string `json:"clientToken"`
	}
	if err := decodeRAM(body, &in); err != nil {
		return nil, err
	}
	if err := ramRequired("resourceShareArn", in.ResourceShareArn); err != nil {
		return nil, err
	}
	sh, err := s.svc.UpdateResourceShare(ctx, in.ResourceShareArn, in.Name, in.AllowExternalPrincipals)
	if err != nil {
		return nil, err
	}
	return withToken(obj{"resourceShare": ramShare(sh)}, in.ClientToken), nil
}

func (s *Server) ramDelete(ctx context.Context, r *http.Request, _ []byte) (any, error) {
	q := r.URL.Query()
	a := q.Get("resourceShareArn")
	if err := ramRequired("resourceShareArn", a); err != nil {
		return nil, err
	}
	var token *string
	if q.Has("clientToken") {
		t := q.Get("clientToken")
		token = &t
	}
	if err := s.svc.DeleteResourceShare(ctx, a, token); err != nil {
		return nil, err
	}
	return withToken(obj{"returnValue": true}, token), nil
}

func (s *Server) ramGetShares(ctx context.Context, _ *http.Request, body []byte) (any, error) {
	var in struct {
		ResourceShareArns   []string `json:"resourceShareArns"`
		ResourceShareStatus string   `json:"resourceShareStatus"`
		ResourceOwner       string   `json:"resourceOwner"`
		Name                string   `json:"name"`
		TagFilters          []struct {
			TagKey    string   `json:"tagKey"`
			TagValues []string `json:"tagValues"`
		} `json:"tagFilters"`
		PermissionArn string `json:"permissionArn"`
		ramPaging
	}
	if err := decodeRAM(body, &in); err != nil {
		return nil, err
	}
	if err := ramRequired("resourceOwner", in.ResourceOwner); err != nil {
		return nil, err
	}
	if in.PermissionArn != "" {
		return nil, ramParam("permissionArn", "permissionArn is not supported")
	}
	gi := service.GetResourceSharesInput{ResourceOwner: in.ResourceOwner, ShareArns: in.ResourceShareArns,
		Status: in.ResourceShareStatus, Name: in.Name, Page: in.page()}
	for _, f := range in.TagFilters {
		gi.TagFilters = append(gi.TagFilters, service.TagFilter{Key: f.TagKey, Values: f.TagValues})
	}
	shares, next, err := s.svc.GetResourceShares(ctx, gi)
	if err != nil {
		return nil, err
	}
	out := make([]obj, len(shares))
	for i, sh := range shares {
		out[i] = ramShare(sh)
	}
	return ramPage(next)(obj{"resourceShares": out}), nil
}

type ramMembers struct {
	ResourceShareArn string   `json:"resourceShareArn"`
	ResourceArns     []string `json:"resourceArns"`
	Principals       []string `json:"principals"`
	ClientToken      *string  `json:"clientToken"`
	Sources          []string `json:"sources"`
}

func (s *Server) ramChange(ctx context.Context, body []byte, add bool) (any, error) {
	var in ramMembers
	if err := decodeRAM(body, &in); err != nil {
		return nil, err
	}
	if err := ramRequired("resourceShareArn", in.ResourceShareArn); err != nil {
		return nil, err
	}
	if len(in.Sources) > 0 {
		return nil, ramParam("sources", "sources is not supported")
	}
	f := s.svc.DisassociateResourceShare
	if add {
		f = s.svc.AssociateResourceShare
	}
	list, sh, err := f(ctx, in.ResourceShareArn, in.ResourceArns, in.Principals, in.ClientToken)
	if err != nil {
		return nil, err
	}
	return withToken(obj{"resourceShareAssociations": ramAssocs(sh, list)}, in.ClientToken), nil
}

func (s *Server) ramAssociate(ctx context.Context, _ *http.Request, body []byte) (any, error) {
	return s.ramChange(ctx, body, true)
}

func (s *Server) ramDisassociate(ctx context.Context, _ *http.Request, body []byte) (any, error) {
	return s.ramChange(ctx, body, false)
}

func (s *Server) ramGetAssociations(ctx context.Context, _ *http.Request, body []byte) (any, error) {
	var in struct {
		AssociationType   string   `json:"associationType"`
		ResourceShareArns []string `json:"resourceShareArns"`
		ResourceArn       string   `json:"resourceArn"`
		Principal         string   `json:"principal"`
		AssociationStatus string   `json:"associationStatus"`
		ramPaging
	}
	if err := decodeRAM(body, &in); err != nil {
		return nil, err
	}
	if err := ramRequired("associationType", in.AssociationType); err != nil {
		return nil, err
	}
	list, next, err := s.svc.GetResourceShareAssociations(ctx, service.GetResourceShareAssociationsInput{
		AssociationType: in.AssociationType, ShareArns: in.ResourceShareArns, ResourceArn: in.ResourceArn,
		Principal: in.Principal, Status: in.AssociationStatus, Page: in.page()})
	if err != nil {
		return nil, err
	}
	out := make([]obj, len(list))
	for i, a := range list {
		out[i] = ramAssoc(a.ShareARN, a.ShareName, a.Principal, a.ShareAssociation)
	}
	return ramPage(next)(obj{"resourceShareAssociations": out}), nil
}

func (s *Server) ramGetInvitations(ctx context.Context, _ *http.Request, body []byte) (any, error) {
	var in struct {
		InvitationArns []string `json:"resourceShareInvitationArns"`
		ShareArns      []string `json:"resourceShareArns"`
		ramPaging
	}
	if err := decodeRAM(body, &in); err != nil {
		return nil, err
	}
	list, next, err := s.svc.GetResourceShareInvitations(ctx, in.InvitationArns, in.ShareArns, in.page())
	if err != nil {
		return nil, err
	}
	out := make([]obj, len(list))
	for i, iv := range list {
		out[i] = s.ramInvitation(ctx, iv)
	}
	return ramPage(next)(obj{"resourceShareInvitations": out}), nil
}

func (s *Server) ramAnswer(ctx context.Context, body []byte, accept bool) (any, error) {
	var in struct {
		InvitationArn string  `json:"resourceShareInvitationArn"`
		ClientToken   *string `json:"clientToken"`
	}
	if err := decodeRAM(body, &in); err != nil {
		return nil, err
	}
	if err := ramRequired("resourceShareInvitationArn", in.InvitationArn); err != nil {
		return nil, err
	}
	iv, _, err := s.svc.AnswerInvitation(ctx, in.InvitationArn, accept)
	if err != nil {
		return nil, err
	}
	return withToken(obj{"resourceShareInvitation": s.ramInvitation(ctx, iv)}, in.ClientToken), nil
}

func (s *Server) ramAccept(ctx context.Context, _ *http.Request, body []byte) (any, error) {
	return s.ramAnswer(ctx, body, true)
}

func (s *Server) ramReject(ctx context.Context, _ *http.Request, body []byte) (any, error) {
	return s.ramAnswer(ctx, body, false)
}

type ramListIn struct {
	ResourceOwner     string   `json:"resourceOwner"`
	Principal         string   `json:"principal"`
	Principals        []string `json:"principals"`
	ResourceArn       string   `json:"resourceArn"`
	ResourceArns      []string `json:"resourceArns"`
	ResourceType      string   `json:"resourceType"`
	ResourceShareArns []string `json:"resourceShareArns"`
	ramPaging
}

func decodeRAMList(body []byte) (service.ListSharesInput, error) {
	var in ramListIn
	if err := decodeRAM(body, &in); err != nil {
		return service.ListSharesInput{}, err
	}
	if err := ramRequired("resourceOwner", in.ResourceOwner); err != nil {
		return service.ListSharesInput{}, err
	}
	return service.ListSharesInput{ResourceOwner: in.ResourceOwner, Principal: in.Principal, Principals: in.Principals,
		ResourceArn: in.ResourceArn, ResourceArns: in.ResourceArns, ResourceType: in.ResourceType,
		ShareArns: in.ResourceShareArns, Page: in.page()}, nil
}

func (s *Server) ramListResources(ctx context.Context, _ *http.Request, body []byte) (any, error) {
	in, err := decodeRAMList(body)
	if err != nil {
		return nil, err
	}
	list, next, err := s.svc.ListSharedResources(ctx, in)
	if err != nil {
		return nil, err
	}
	out := make([]obj, len(list))
	for i, r := range list {
		out[i] = obj{"arn": r.Entity, "type": r.Type, "resourceShareArn": r.ShareARN, "status": "AVAILABLE",
			"creationTime": epoch(r.CreatedAt), "lastUpdatedTime": epoch(r.UpdatedAt), "resourceRegionScope": "REGIONAL"}
	}
	return ramPage(next)(obj{"resources": out}), nil
}

func (s *Server) ramListPrincipals(ctx context.Context, _ *http.Request, body []byte) (any, error) {
	in, err := decodeRAMList(body)
	if err != nil {
		return nil, err
	}
	list, next, err := s.svc.ListSharePrincipals(ctx, in)
	if err != nil {
		return nil, err
	}
	out := make([]obj, len(list))
	for i, p := range list {
		out[i] = obj{"id": p.ID, "resourceShareArn": p.ShareARN, "external": p.External,
			"creationTime": epoch(p.Times.CreatedAt), "lastUpdatedTime": epoch(p.Times.UpdatedAt)}
	}
	return ramPage(next)(obj{"principals": out}), nil
}

func (s *Server) ramListResourceTypes(_ context.Context, _ *http.Request, body []byte) (any, error) {
	var in struct {
		Scope string `json:"resourceRegionScope"`
		ramPaging
	}
	if err := decodeRAM(body, &in); err != nil {
		return nil, err
	}
	if in.Scope == "GLOBAL" {
		return obj{"resourceTypes": []obj{}}, nil
	}
	out := make([]obj, len(service.ShareTypes))
	for i, t := range service.ShareTypes {
		out[i] = obj{"resourceType": t, "serviceName": "vpc-lattice", "resourceRegionScope": "REGIONAL"}
	}
	return obj{"resourceTypes": out}, nil
}

func (s *Server) ramTag(ctx context.Context, _ *http.Request, body []byte) (any, error) {
	var in struct {
		ResourceShareArn string   `json:"resourceShareArn"`
		ResourceArn      string   `json:"resourceArn"`
		Tags             []ramTag `json:"tags"`
	}
	if err := decodeRAM(body, &in); err != nil {
		return nil, err
	}
	if in.ResourceArn != "" {
		return nil, ramParam("resourceArn", "resourceArn (a managed permission) is not supported; tag a resource share by resourceShareArn")
	}
	if err := ramRequired("resourceShareArn", in.ResourceShareArn); err != nil {
		return nil, err
	}
	if len(in.Tags) == 0 {
		return nil, ramRequired("tags", "")
	}
	return obj{}, s.svc.ChangeShareTags(ctx, in.ResourceShareArn, ramTagsIn(in.Tags), nil)
}

func (s *Server) ramUntag(ctx context.Context, _ *http.Request, body []byte) (any, error) {
	var in struct {
		ResourceShareArn string   `json:"resourceShareArn"`
		ResourceArn      string   `json:"resourceArn"`
		TagKeys          []string `json:"tagKeys"`
	}
	if err := decodeRAM(body, &in); err != nil {
		return nil, err
	}
	if in.ResourceArn != "" {
		return nil, ramParam("resourceArn", "resourceArn (a managed permission) is not supported; untag a resource share by resourceShareArn")
	}
	if err := ramRequired("resourceShareArn", in.ResourceShareArn); err != nil {
		return nil, err
	}
	return obj{}, s.svc.ChangeShareTags(ctx, in.ResourceShareArn, nil, in.TagKeys)
}
