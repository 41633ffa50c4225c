package model

import (
	"errors"
	"fmt"
	"strings"
)

// ErrorKind classifies a domain error. The API maps each kind to exactly one
// AWS error type, in one table (internal/api/errors.go).
type ErrorKind int

// The error kinds.
const (
	KindInternal ErrorKind = iota
	KindValidation
	KindNotFound
	KindConflict
	KindQuota
	KindAccessDenied
	KindThrottling
	KindNotImplemented
)

// FieldError names one invalid request member.
type FieldError struct {
	Name    string `json:"name"`
	Message string `json:"message"`
}

// Validation reasons (ValidationExceptionReason).
const (
	ReasonFieldValidationFailed = "fieldValidationFailed"
	ReasonCannotParse           = "cannotParse"
	ReasonUnknownOperation      = "unknownOperation"
	ReasonOther                 = "other"
)

// Error is a domain error with the members the wire error needs.
type Error struct {
	Kind         ErrorKind
	Message      string
	ResourceID   string       // NotFound, Conflict, Quota
	ResourceType string       // NotFound, Conflict, Quota
	Reason       string       // Validation
	Fields       []FieldError // Validation
	QuotaCode    string       // Quota
}

func (e *Error) Error() string { return e.Message }

// KindOf returns the kind of err, KindInternal when err is not an *Error.
func KindOf(err error) ErrorKind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

// Invalid reports one invalid field.
func Invalid(field, format string, args ...any) *Error {
	msg := fmt.Sprintf(format, args...)
	return &Error{Kind: KindValidation, Reason: ReasonFieldValidationFailed,
		Message: msg, Fields: []FieldError{{Name: field, Message: msg}}}
}

// CannotParse reports a request member that could not be decoded.
func CannotParse(field, format string, args ...any) *Error {
	e := Invalid(field, format, args...)
	e.Reason = ReasonCannotParse
	return e
}

// NotFound reports a missing resource.
func NotFound(resourceType, id string) *Error {
	return &Error{Kind: KindNotFound, ResourceType: resourceType, ResourceID: id,
		Message: fmt.Sprintf("%s %s not found", resourceTypeWords(resourceType), id)}
}

// Conflict reports a request that conflicts with the current state.
func Conflict(resourceType, id, format string, args ...any) *Error {
	return &Error{Kind: KindConflict, ResourceType: resourceType, ResourceID: id, Message: fmt.Sprintf(format, args...)}
}

// QuotaExceeded reports a quota that a request would exceed.
func QuotaExceeded(q Quota, resourceID string, limit int) *Error {
	return &Error{Kind: KindQuota, ResourceType: q.ResourceType, ResourceID: resourceID, QuotaCode: q.Code,
		Message: fmt.Sprintf("%s quota exceeded: the limit is %d", q.Description, limit)}
}

// NotImplemented reports an operation Trellis does not support yet.
func NotImplemented(op string) *Error {
	return &Error{Kind: KindNotImplemented, Message: op + " is not supported by Trellis yet"}
}

// AccessDenied reports a caller not allowed to do something.
func AccessDenied(format string, args ...any) *Error {
	return &Error{Kind: KindAccessDenied, Message: fmt.Sprintf(format, args...)}
}

// Validator collects field errors so that one response names every bad
// field. Invalid identifiers are kept apart: when there is one, the
// response names the invalid identifiers only, whatever else is wrong (see
// identifier.go).
type Validator struct{ fields, idents []FieldError }

// Identifier records the fields of a validation error from
// ParseIdentifier, ParsePolicyOwner or CheckIdentifierMember as invalid
// identifiers; nil and other errors are ignored.
func (v *Validator) Identifier(err error) {
	var e *Error
	if errors.As(err, &e) && e.Kind == KindValidation {
		v.idents = append(v.idents, e.Fields...)
	}
}

// Addf records an invalid field.
func (v *Validator) Addf(field, format string, args ...any) {
	v.fields = append(v.fields, FieldError{Name: field, Message: fmt.Sprintf(format, args...)})
}

// Merge records the fields of a validation error; other errors are ignored.
func (v *Validator) Merge(err error) {
	var e *Error
	if errors.As(err, &e) && e.Kind == KindValidation {
		v.fields = append(v.fields, e.Fields...)
	}
}

// Err returns nil when nothing was recorded, else a ValidationException:
// of the invalid identifiers when there are any, else of every bad field.
func (v *Validator) Err() error {
	fields := v.fields
	if len(v.idents) > 0 {
		fields = v.idents
	}
	if len(fields) == 0 {
		return nil
	}
	msg := fields[0].Message
	if len(fields) > 1 {
		msgs := make([]string, len(fields))
		for i, f := range fields {
			msgs[i] = f.Name + ": " + f.Message
		}
		msg = fmt.Sprintf("%d validation errors: %s", len(fields), strings.Join(msgs, "; "))
	}
	return &Error{Kind: KindValidation, Reason: ReasonFieldValidationFailed, Message: msg, Fields: fields}
}

func resourceTypeWords(t string) string {
	switch t {
	case TypeServiceNetwork:
		return "Service network"
	case TypeService:
		return "Service"
	case TypeListener:
		return "Listener"
	case TypeRule:
		return "Rule"
	case TypeTargetGroup:
		return "Target group"
	case TypeServiceNetworkServiceAssociation:
		return "Service network service association"
	case TypeServiceNetworkVpcAssociation:
		return "Service network VPC association"
	case TypeAccessLogSubscription:
		return "Access log subscription"
	case TypeAuthPolicy:
		return "Auth policy for"
	case TypeResourcePolicy:
		return "Resource policy for"
	case TypeSecurityGroup:
		return "Security group"
	case TypeInstance:
		return "Instance"
	case TypeLoadBalancer:
		return "Load balancer"
	}
	return t
}
