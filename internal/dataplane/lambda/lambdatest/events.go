package lambdatest

// The VPC Lattice events as reference §7.2 spells them, as a function
// written with aws-lambda-go declares them (aws-lambda-go v1.55.1 has no
// VPC Lattice types): what tests decode an event into, field by field, with
// the documented casing. They mirror the reference, not the encoder, so a
// test using them fails when the encoder drifts from it.

// EventV1 is a V1 event (lambdaEventStructureVersion V1, the default).
type EventV1 struct {
	RawPath         string            `json:"raw_path"`
	Method          string            `json:"method"`
	Headers         map[string]string `json:"headers"`
	Query           map[string]string `json:"query_string_parameters"`
	Body            string            `json:"body"`
	IsBase64Encoded bool              `json:"is_base64_encoded"`
}

// EventV2 is a V2 event.
type EventV2 struct {
	Version         string              `json:"version"`
	Path            string              `json:"path"`
	Method          string              `json:"method"`
	Headers         map[string][]string `json:"headers"`
	Query           map[string][]string `json:"queryStringParameters"`
	Body            string              `json:"body"`
	IsBase64Encoded bool                `json:"isBase64Encoded"`
	RequestContext  ContextV2           `json:"requestContext"`
}

// ContextV2 is a V2 event's requestContext; Identity holds the keys that
// are known (sourceVpcArn, type, principal, ...).
type ContextV2 struct {
	ServiceNetworkArn string            `json:"serviceNetworkArn"`
	ServiceArn        string            `json:"serviceArn"`
	TargetGroupArn    string            `json:"targetGroupArn"`
	Identity          map[string]string `json:"identity"`
	Region            string            `json:"region"`
	TimeEpoch         string            `json:"timeEpoch"`
}
