package arn

import (
	"errors"
	"strings"
)

// Kinds of access log destination (LogDestination.Kind).
const (
	LogsDestination     = "logs"     // CloudWatch Logs log group
	S3Destination       = "s3"       // S3 bucket, with an optional key prefix
	FirehoseDestination = "firehose" // Firehose delivery stream
)

// ErrLogDestination is the error of an ARN that names no destination Lattice
// delivers access logs to.
var ErrLogDestination = errors.New("not the ARN of a CloudWatch Logs log group (arn:aws:logs:REGION:ACCOUNT:log-group:NAME), " +
	"an S3 bucket (arn:aws:s3:::BUCKET[/PREFIX]) or a Firehose delivery stream (arn:aws:firehose:REGION:ACCOUNT:deliverystream/NAME)")

// LogDestination is an access log destination ARN taken apart: what the
// API accepts and the data plane writes to.
type LogDestination struct {
	Kind    string // LogsDestination, S3Destination or FirehoseDestination
	Region  string // "" for S3
	Account string // "" for S3
	Name    string // the log group (without a trailing ":*"), bucket or delivery stream
	Prefix  string // S3: the key prefix after the bucket, "" when none
}

// ParseLogDestination parses an access log destination ARN; any other ARN,
// or one missing a part, is ErrLogDestination.
func ParseLogDestination(s string) (LogDestination, error) {
	a, err := Parse(s)
	if err != nil {
		return LogDestination{}, ErrLogDestination
	}
	d := LogDestination{Kind: a.Service, Region: a.Region, Account: a.Account}
	ok := false
	switch a.Service {
	case LogsDestination:
		group, found := strings.CutPrefix(a.Resource, "log-group:")
		d.Name = strings.TrimSuffix(group, ":*")
		ok = found && d.Name != "" && a.Region != "" && a.Account != ""
	case S3Destination:
		d.Name, d.Prefix, _ = strings.Cut(a.Resource, "/")
		ok = d.Name != "" && a.Region == "" && a.Account == ""
	case FirehoseDestination:
		name, found := strings.CutPrefix(a.Resource, "deliverystream/")
		d.Name = name
		ok = found && name != "" && a.Region != "" && a.Account != ""
	}
	if !ok {
		return LogDestination{}, ErrLogDestination
	}
	return d, nil
}
