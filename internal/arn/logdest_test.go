package arn

import "testing"

func TestParseLogDestination(t *testing.T) {
	for s, want := range map[string]LogDestination{
		"arn:aws:logs:us-east-1:111122223333:log-group:/aws/lattice": {Kind: LogsDestination, Region: "us-east-1", Account: "111122223333", Name: "/aws/lattice"},
		"arn:aws:logs:us-east-1:111122223333:log-group:g:*":          {Kind: LogsDestination, Region: "us-east-1", Account: "111122223333", Name: "g"},
		"arn:aws:s3:::bucket":                                         {Kind: S3Destination, Name: "bucket"},
		"arn:aws:s3:::bucket/team//logs/":                             {Kind: S3Destination, Name: "bucket", Prefix: "team//logs/"},
		"arn:aws:firehose:eu-west-1:111122223333:deliverystream/ship": {Kind: FirehoseDestination, Region: "eu-west-1", Account: "111122223333", Name: "ship"},
	} {
		got, err := ParseLogDestination(s)
		if err != nil || got != want {
			t.Errorf("ParseLogDestination(%q) = %+v, %v; want %+v", s, got, err, want)
		}
	}
	for _, s := range []string{
		"not an arn", "arn:aws:sqs:us-east-1:111122223333:queue",
		"arn:aws:logs:us-east-1:111122223333:destination:x", "arn:aws:logs:us-east-1:111122223333:log-group:",
		"arn:aws:logs::111122223333:log-group:g", "arn:aws:logs:us-east-1::log-group:g",
		"arn:aws:s3:us-east-1:111122223333:accesspoint/ap", "arn:aws:s3:::/prefix-only",
		"arn:aws:firehose:us-east-1:111122223333:deliverystream/", "arn:aws:firehose:us-east-1:111122223333:stream/x",
	} {
		if _, err := ParseLogDestination(s); err != ErrLogDestination {
			t.Errorf("ParseLogDestination(%q): %v, want ErrLogDestination", s, err)
		}
	}
}
