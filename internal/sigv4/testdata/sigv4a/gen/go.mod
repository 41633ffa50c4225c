module github.com/trellis-net/trellis/internal/sigv4/testdata/sigv4a/gen

go 1.26

require github.com/aws/smithy-go/aws-http-auth v1.1.3
