package service

import (
	"context"

	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/store"
	"github.com/trellis-net/trellis/internal/store/schema"
)

// Hosted functions (docs/functions.md). A function belongs to the account
// that declared it, by name, as in Lambda: another account neither sees it
// nor invokes it (ResourceNotFoundException), and may declare its own of the
// same name. Its command runs as the Trellis user on the machines that
// host functions, so only an account's root (and the administrator, for
// its own account) may declare, change or delete one; the account's users
// and roles may read and invoke it.

const pfxFunction = schema.Function

func functionKey(account, name string) string { return pfxFunction + account + "/" + name }

// PutFunctionInput is a function as PUT declares it.
type PutFunctionInput struct {
	Name string
	model.FunctionInput
}

// PutFunction creates a function (created is true) or replaces the
// declaration of an existing one. Every PUT makes a new revision: the host
// retires the workers of the previous one.
func (s *Service) PutFunction(ctx context.Context, in PutFunctionInput) (*model.Function, bool, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, false, err
	}
	var v model.Validator
	if !model.ValidFunctionName(in.Name) {
		v.Addf("functionName", "functionName must be 1 to 64 letters, digits, hyphens and underscores")
	}
	f := model.CheckFunction(&v, in.FunctionInput)
	if err := v.Err(); err != nil {
		return nil, false, err
	}
	if !s.isRootOf(c, c.Account) {
		return nil, false, model.AccessDenied("%s is not authorized to declare functions: a function's command runs on the Trellis host, so only the account's root may declare, change or delete one", who(c))
	}
	created := false
	err = s.update(ctx, func(tx store.Tx) error {
		cur, err := getJSON[model.Function](tx, functionKey(c.Account, in.Name))
		if err != nil {
			return err
		}
		now := s.now()
		f.Name, f.Account = in.Name, c.Account
		f.ARN = model.FunctionARN(s.cfg.Partition, s.cfg.Region, c.Account, in.Name)
		f.RevisionID = newUUID()
		f.CreatedAt, f.UpdatedAt = now, now
		if cur != nil {
			f.CreatedAt = cur.CreatedAt
		} else {
			created = true
		}
		return putJSON(tx, functionKey(c.Account, in.Name), &f)
	})
	if err != nil {
		return nil, false, err
	}
	return &f, created, nil
}

// GetFunction describes one of the caller's functions by name.
func (s *Service) GetFunction(ctx context.Context, name string) (*model.Function, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if !model.ValidFunctionName(name) {
		return nil, model.Invalid("functionName", "functionName must be 1 to 64 letters, digits, hyphens and underscores")
	}
	var out *model.Function
	err = s.view(ctx, func(tx store.ReadTx) error {
		out, err = getJSON[model.Function](tx, functionKey(c.Account, name))
		return err
	})
	if err == nil && out == nil {
		err = model.NotFound(model.TypeFunction, name)
	}
	return out, err
}

// ResolveFunction finds the caller's function named by a Lambda function
// identifier (a name, a partial or a full ARN, with an optional
// qualifier). Another account's function, another region's, and any
// qualifier but $LATEST are not found: a hosted function has no published
// versions or aliases.
func (s *Service) ResolveFunction(ctx context.Context, ident, qualifier string) (*model.Function, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	ref, ok := model.ParseFunctionRef(ident)
	if !ok {
		return nil, model.Invalid("FunctionName", "FunctionName must be a function name, a partial ARN (ACCOUNT:function:NAME) or a function ARN, optionally with a qualifier")
	}
	if qualifier != "" && ref.Qualifier != "" && qualifier != ref.Qualifier {
		return nil, model.Invalid("Qualifier", "the Qualifier does not match the qualifier in FunctionName")
	}
	if qualifier == "" {
		qualifier = ref.Qualifier
	}
	notFound := model.NotFound(model.TypeFunction, ident)
	notFound.Message = "Function not found: " + model.FunctionARN(s.cfg.Partition, s.cfg.Region, c.Account, ref.Name)
	if qualifier != "" {
		notFound.Message += ":" + qualifier
	}
	if (ref.Account != "" && ref.Account != c.Account) || (ref.Region != "" && ref.Region != s.cfg.Region) ||
		(ref.Partition != "" && ref.Partition != s.cfg.Partition) || (qualifier != "" && qualifier != model.FunctionVersionLatest) {
		return nil, notFound
	}
	var out *model.Function
	err = s.view(ctx, func(tx store.ReadTx) error {
		out, err = getJSON[model.Function](tx, functionKey(c.Account, ref.Name))
		return err
	})
	if err == nil && out == nil {
		return nil, notFound
	}
	return out, err
}

// LookupFunction returns the function of a full function ARN of this
// installation, or nil when there is none. It checks no caller: it is how
// the function host (internal/functions) reads declarations, after the API
// or the data plane has decided that the invocation is allowed.
func (s *Service) LookupFunction(ctx context.Context, functionARN string) (*model.Function, error) {
	ref, ok := model.ParseFunctionRef(functionARN)
	if !ok || ref.Account == "" || ref.Region != s.cfg.Region || ref.Partition != s.cfg.Partition || ref.Qualifier != "" {
		return nil, nil
	}
	var out *model.Function
	err := s.view(ctx, func(tx store.ReadTx) error {
		var err error
		out, err = getJSON[model.Function](tx, functionKey(ref.Account, ref.Name))
		return err
	})
	return out, err
}

// ListFunctions lists the caller's functions, by name.
func (s *Service) ListFunctions(ctx context.Context, p Page) ([]*model.Function, string, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, "", err
	}
	var out []*model.Function
	var next string
	err = s.view(ctx, func(tx store.ReadTx) error {
		out, next, err = listPage(tx, pfxFunction+c.Account+"/", p, func(*model.Function) bool { return true })
		return err
	})
	return out, next, err
}

// DeleteFunction removes one of the caller's functions; the host stops its
// workers.
func (s *Service) DeleteFunction(ctx context.Context, name string) (*model.Function, error) {
	c, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if !model.ValidFunctionName(name) {
		return nil, model.Invalid("functionName", "functionName must be 1 to 64 letters, digits, hyphens and underscores")
	}
	var out *model.Function
	err = s.update(ctx, func(tx store.Tx) error {
		f, err := getJSON[model.Function](tx, functionKey(c.Account, name))
		if err != nil {
			return err
		}
		if f == nil {
			return model.NotFound(model.TypeFunction, name)
		}
		if !s.isRootOf(c, c.Account) {
			return model.AccessDenied("%s is not authorized to delete function %s: only the account's root may declare, change or delete functions", who(c), name)
		}
		out = f
		return tx.Delete(functionKey(c.Account, name))
	})
	return out, err
}
