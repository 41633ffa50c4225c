// Package model holds the domain entities of Trellis (the VPC Lattice nouns),
// their validation, and the domain error kinds.
//
// The nested configuration types (RuleAction, RuleMatch, TargetGroupConfig,
// HealthCheckConfig, ...) carry JSON tags in the shape of the Lattice API,
// because that shape is the domain language users write and read. They are
// also the storage encoding. The request and response envelopes of each
// operation live in internal/api; they decide which members each operation
// sends, so this package never doubles as the wire format of an operation.
//
// model imports nothing from Trellis except internal/arn.
package model
