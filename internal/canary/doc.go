// Package canary owns canary releases (docs/canaries.md): a rollout of one
// listener's default action, or one rule's weighted forward, from a baseline
// target group to a canary target group through steps of canary percent,
// each held for an interval while the canary's error rate and p99 latency
// are compared with limits and with the baseline, read from the data plane's
// live per-minute aggregates through the Stats interface. A breach rolls the
// weights back to baseline 100 / canary 0; the end of the last step promotes
// the canary to 100.
//
// The Controller is a runner (Start, Name, Close) that persists every
// rollout in the store under schema.Canary, durable before the API answers,
// and resumes the running ones on start. It changes weights only through
// the service layer's UpdateListener and UpdateRule, as the API's callers
// do, acting as the principal that started the rollout: GetListener,
// GetRule, Terraform and the snapshot compiler see the weights exactly as
// if a person had written them, with the same validation and account
// isolation.
//
// canary sits beside the service layer: it imports service, store,
// store/schema and model, and must not import api, app, cli, snapshot or
// anything of the data plane (the aggregates come in through Stats, which
// app injects).
package canary
