// Package api is the AWS VPC Lattice wire format (restJson1) of the control
// plane — and, on the same address, ACM (acm.go), Lambda's Invoke
// (lambda.go), STS (sts.go, the Query protocol) and RAM (ram.go,
// restJson1, told apart from Lattice by its credential scope), each with
// its own SigV4 signing name and error table: SigV4 authentication of callers, routing on the
// escaped path (the SDK escapes ARNs in path labels, '/' included),
// request decoding and
// validation of wire-level members, response encoding, paging parameters,
// and the one table that maps domain errors to AWS error types.
//
// Handlers are thin: decode, call internal/service, encode. The members each
// operation returns are chosen here, per operation, as reference §2.3 lists
// them. api imports service, model, arn and sigv4; nothing imports api but
// internal/app. What the data plane knows (DNS answers, the live access
// log taps of GET /trellis/v1/access-logs/stream) reaches it through
// functions and interfaces app hands it (SetDNS, SetAccessLogTap), never by
// importing internal/dataplane (archtest).
package api
