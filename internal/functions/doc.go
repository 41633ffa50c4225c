// Package functions is Trellis's own function host: it runs the commands of
// hosted functions (model.Function) as worker processes and serves them the
// Lambda Runtime API, so that a program built with a Lambda runtime client
// (aws-lambda-go's lambda.Start, a custom-runtime bootstrap) runs unmodified
// (docs/functions.md).
//
// The Host starts workers on demand, one loopback Runtime API listener per
// worker (a worker sees only its own invocations), reuses warm ones, runs at
// most a function's maxConcurrency invocations at once (then ErrThrottled at
// once, as Lambda does for synchronous invokes), kills a worker past the
// function's timeout, isolates a crash to its own invocation, stops idle
// workers, and keeps each function's stdout and stderr in a size-capped log
// file. Workers run in their own process group and are killed with their
// children on timeout, delete and Close.
//
// functions reads declarations through Source, an interface defined here
// (the service implements it). It may import model and arn; it must not
// import api, service, store or the data plane: the API's Invoke and the
// data plane's LAMBDA target groups call it, never the other way round.
package functions
