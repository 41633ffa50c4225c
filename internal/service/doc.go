// Package service is the control plane's domain logic: it resolves
// identifiers, checks cross-resource invariants (uniqueness, delete guards,
// cascades, the one-service-per-target-group rule), enforces quotas and
// idempotency, and makes IDs, ARNs and timestamps. Every operation is one
// store transaction, so a write is durable before the caller hears back.
//
// service imports model, arn and store; it knows nothing of HTTP or JSON
// wire shapes (internal/api does that).
package service
