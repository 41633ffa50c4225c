// Package cli implements the "trellis <noun> <verb>" command line: one cobra
// command per VPC Lattice control-plane operation, so that a person can drive
// a Trellis server without the AWS CLI.
//
// The package owns:
//
//   - AddCommands, which attaches the global persistent flags (--endpoint,
//     --region, --output, --data-dir) and every noun command to the root
//     command built by cmd/trellis;
//   - client construction from flags and environment (client.go), including
//     the credential chain TRELLIS_ACCESS_KEY_ID → TRELLIS_ROOT_ACCESS_KEY_ID →
//     <data-dir>/credentials.json, never ~/.aws or IMDS;
//   - the conversion from Lattice wire JSON (--input-json) into the SDK's input
//     types and the human-friendly flag parsers (input.go);
//   - the conversion from SDK output structs back into the Lattice wire shape
//     and the table renderer (output.go, wirenames.go);
//   - error formatting: every command returns an error whose message is meant
//     to follow "Error: " on stderr (cmd/trellis prints it and exits 1):
//     "<ErrorCode>: <message>" for API errors (plus one "  - field: message"
//     line per ValidationException fieldList entry, unless the list is a
//     single field repeating the message), a usage hint for command line
//     mistakes, which are detected before any request is sent;
//   - name resolution (resolve.go): flags that take a service network,
//     service, target group, listener, rule, resource gateway or resource
//     configuration identifier also accept its name (a domain verification:
//     its domain name), which is looked up with the List operations and replaced by the
//     ID after the local checks and before the request.
//
// The CLI talks to the server only through aws-sdk-go-v2's vpclattice client
// (and its ram client for `trellis share`, share.go), so every command also
// exercises the REST/JSON wire format. It must never
// import Trellis server packages, except from tests.
//
// Files are organised one per noun (service_network.go, service.go,
// listener.go, rule.go, target_group.go, association.go, policy.go,
// access_log.go, tag.go, share.go, resource.go: resource gateways and
// configurations, their associations, domain verification); command.go holds AddCommands and the generic verb
// builder shared by all of them. Trellis-native commands call /trellis/v1/
// with SigV4-signed requests of their own; `logs tail` (logs_tail.go) reads
// the NDJSON stream of GET /trellis/v1/access-logs/stream and escapes every
// value a client wrote before it reaches a terminal.
package cli
