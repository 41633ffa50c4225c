package api

import (
	"net/http"

	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/service"
)

// Trellis-native identities under /trellis/v1/: accounts, principals (IAM
// roles and users), access keys and assumed-role sessions. A principal ARN
// is escaped into one path segment (net/http unescapes r.PathValue).
//
// Secrets: only accessKeyCreatedObj and sessionObj, the answers of the
// operations that create a key, carry secretAccessKey (and sessionToken);
// accessKeyObj, used by every other answer, never does.

func accountObj(a *model.Account) obj {
	return obj{"accountId": a.ID}.str("name", a.Name).str("orgId", a.OrgID).str("orgPath", a.OrgPath).
		time("createdAt", a.CreatedAt).time("lastUpdatedAt", a.UpdatedAt)
}

func principalObj(p *model.Principal) obj {
	o := obj{"arn": p.ARN, "account": p.Account, "type": p.Type, "name": p.Name}.
		time("createdAt", p.CreatedAt).time("lastUpdatedAt", p.UpdatedAt)
	if len(p.Tags) > 0 {
		o["tags"] = p.Tags
	} else {
		o["tags"] = map[string]string{}
	}
	return o
}

// accessKeyObj describes a key without its secret or session token.
func accessKeyObj(k *model.AccessKey) obj {
	o := obj{"accessKeyId": k.ID, "principalArn": k.PrincipalARN, "account": k.Account, "status": orStr(k.Status, "Active")}.
		time("createdAt", k.CreatedAt).str("sessionName", k.SessionName).str("assumedRoleArn", k.SessionARN)
	if k.Expiration != nil {
		o.time("expiration", *k.Expiration)
	}
	return o
}

// accessKeyCreatedObj is the answer of a key's creation: the only time its
// secret leaves the server.
func accessKeyCreatedObj(k *model.AccessKey) obj {
	o := accessKeyObj(k)
	o["secretAccessKey"] = k.Secret
	return o
}

// sessionObj is the answer of AssumeRole: the session's credentials.
func sessionObj(k *model.AccessKey) obj {
	o := obj{"accessKeyId": k.ID, "secretAccessKey": k.Secret, "sessionToken": k.SessionToken,
		"assumedRoleArn": k.SessionARN, "principalArn": k.PrincipalARN, "account": k.Account}
	if k.Expiration != nil {
		o.time("expiration", *k.Expiration)
	}
	return o
}

func created(isNew bool) int {
	if isNew {
		return http.StatusCreated
	}
	return http.StatusOK
}

func (s *Server) identityRoutes() {
	h := func(pattern string, fn func(r *http.Request, body []byte) (int, any, error)) {
		s.native.Handle(pattern, s.nativeHandler(fn))
	}

	// Accounts.
	h("PUT "+NativePrefix+"accounts/{accountId}", func(r *http.Request, body []byte) (int, any, error) {
		var in struct {
			Name    *string `json:"name"`
			OrgID   *string `json:"orgId"`
			OrgPath *string `json:"orgPath"`
		}
		if err := decode(body, &in); err != nil {
			return 0, nil, err
		}
		a, isNew, err := s.svc.PutAccount(r.Context(), r.PathValue("accountId"),
			service.PutAccountInput{Name: in.Name, OrgID: in.OrgID, OrgPath: in.OrgPath})
		if err != nil {
			return 0, nil, err
		}
		return created(isNew), accountObj(a), nil
	})
	h("GET "+NativePrefix+"accounts/{accountId}", func(r *http.Request, _ []byte) (int, any, error) {
		a, err := s.svc.GetAccount(r.Context(), r.PathValue("accountId"))
		if err != nil {
			return 0, nil, err
		}
		return http.StatusOK, accountObj(a), nil
	})
	h("GET "+NativePrefix+"accounts", func(r *http.Request, _ []byte) (int, any, error) {
		p, err := page(r.URL.Query())
		if err != nil {
			return 0, nil, err
		}
		items, next, err := s.svc.ListAccounts(r.Context(), p)
		if err != nil {
			return 0, nil, err
		}
		out := make([]obj, len(items))
		for i, a := range items {
			out[i] = accountObj(a)
		}
		return http.StatusOK, list(out, next), nil
	})
	h("DELETE "+NativePrefix+"accounts/{accountId}", func(r *http.Request, _ []byte) (int, any, error) {
		return http.StatusNoContent, nil, s.svc.DeleteAccount(r.Context(), r.PathValue("accountId"))
	})
	h("POST "+NativePrefix+"accounts/{accountId}/accesskeys", func(r *http.Request, _ []byte) (int, any, error) {
		k, err := s.svc.CreateRootAccessKey(r.Context(), r.PathValue("accountId"))
		if err != nil {
			return 0, nil, err
		}
		return http.StatusCreated, accessKeyCreatedObj(k), nil
	})

	// Principals.
	h("PUT "+NativePrefix+"principals/{principalArn}", func(r *http.Request, body []byte) (int, any, error) {
		var in struct {
			Tags map[string]string `json:"tags"`
		}
		if err := decode(body, &in); err != nil {
			return 0, nil, err
		}
		p, isNew, err := s.svc.PutPrincipal(r.Context(), r.PathValue("principalArn"), in.Tags)
		if err != nil {
			return 0, nil, err
		}
		return created(isNew), principalObj(p), nil
	})
	h("GET "+NativePrefix+"principals/{principalArn}", func(r *http.Request, _ []byte) (int, any, error) {
		p, err := s.svc.GetPrincipal(r.Context(), r.PathValue("principalArn"))
		if err != nil {
			return 0, nil, err
		}
		return http.StatusOK, principalObj(p), nil
	})
	h("GET "+NativePrefix+"principals", func(r *http.Request, _ []byte) (int, any, error) {
		q := r.URL.Query()
		p, err := page(q)
		if err != nil {
			return 0, nil, err
		}
		items, next, err := s.svc.ListPrincipals(r.Context(), q.Get("account"), p)
		if err != nil {
			return 0, nil, err
		}
		out := make([]obj, len(items))
		for i, pr := range items {
			out[i] = principalObj(pr)
		}
		return http.StatusOK, list(out, next), nil
	})
	h("DELETE "+NativePrefix+"principals/{principalArn}", func(r *http.Request, _ []byte) (int, any, error) {
		return http.StatusNoContent, nil, s.svc.DeletePrincipal(r.Context(), r.PathValue("principalArn"))
	})
	h("POST "+NativePrefix+"principals/{principalArn}/accesskeys", func(r *http.Request, _ []byte) (int, any, error) {
		k, err := s.svc.CreateAccessKey(r.Context(), r.PathValue("principalArn"))
		if err != nil {
			return 0, nil, err
		}
		return http.StatusCreated, accessKeyCreatedObj(k), nil
	})

	// Access keys.
	h("GET "+NativePrefix+"accesskeys", func(r *http.Request, _ []byte) (int, any, error) {
		q := r.URL.Query()
		p, err := page(q)
		if err != nil {
			return 0, nil, err
		}
		items, next, err := s.svc.ListAccessKeys(r.Context(),
			service.ListAccessKeysInput{PrincipalARN: q.Get("principalArn"), Account: q.Get("account")}, p)
		if err != nil {
			return 0, nil, err
		}
		out := make([]obj, len(items))
		for i, k := range items {
			out[i] = accessKeyObj(k)
		}
		return http.StatusOK, list(out, next), nil
	})
	h("GET "+NativePrefix+"accesskeys/{accessKeyId}", func(r *http.Request, _ []byte) (int, any, error) {
		k, err := s.svc.GetAccessKey(r.Context(), r.PathValue("accessKeyId"))
		if err != nil {
			return 0, nil, err
		}
		return http.StatusOK, accessKeyObj(k), nil
	})
	h("DELETE "+NativePrefix+"accesskeys/{accessKeyId}", func(r *http.Request, _ []byte) (int, any, error) {
		return http.StatusNoContent, nil, s.svc.DeleteAccessKey(r.Context(), r.PathValue("accessKeyId"))
	})

	// Temporary credentials.
	h("POST "+NativePrefix+"sts/assume-role", func(r *http.Request, body []byte) (int, any, error) {
		var in struct {
			RoleARN         string `json:"roleArn"`
			RoleSessionName string `json:"roleSessionName"`
			DurationSeconds *int   `json:"durationSeconds"`
		}
		if err := decode(body, &in); err != nil {
			return 0, nil, err
		}
		k, err := s.svc.AssumeRole(r.Context(), service.AssumeRoleInput{RoleARN: in.RoleARN,
			RoleSessionName: in.RoleSessionName, DurationSeconds: in.DurationSeconds})
		if err != nil {
			return 0, nil, err
		}
		return http.StatusOK, sessionObj(k), nil
	})
}
