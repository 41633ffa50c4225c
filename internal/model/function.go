package model

import (
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// TypeFunction is the resource type of functions in errors.
const TypeFunction = "FUNCTION"

// Function limits and defaults, Lambda's where Lambda has one
// (docs/functions.md): a 3 s default timeout and at most 900 s; memory
// 128–10240 MB (default 128); environment variables at most 4 KB in total.
// Lambda's concurrency is per account; a Trellis function has its own cap,
// 10 unless set, so that one function cannot fork without bound.
const (
	DefaultFunctionTimeout     = 3
	MaxFunctionTimeout         = 900
	DefaultFunctionMemory      = 128
	MinFunctionMemory          = 128
	MaxFunctionMemory          = 10240
	DefaultFunctionConcurrency = 10
	MaxFunctionConcurrency     = 1000
	MaxFunctionEnvBytes        = 4096
	MaxFunctionCommandArgs     = 256
	MaxFunctionArgBytes        = 4096
	MaxFunctionHandler         = 128
	MaxFunctionDescription     = 256
	// FunctionVersionLatest is the only version a hosted function has.
	FunctionVersionLatest = "$LATEST"
)

// Function is a function hosted by Trellis: a command started on demand
// that speaks the Lambda Runtime API (internal/functions), and its
// environment. It belongs to the account that declared it; its name is
// unique in that account, as in Lambda.
type Function struct {
	Name           string            `json:"functionName"`
	ARN            string            `json:"functionArn"`
	Account        string            `json:"account"`
	Command        []string          `json:"command"`
	Environment    map[string]string `json:"environment,omitempty"`
	Handler        string            `json:"handler,omitempty"`
	Description    string            `json:"description,omitempty"`
	MemorySize     int               `json:"memorySize"`
	TimeoutSeconds int               `json:"timeoutSeconds"`
	MaxConcurrency int               `json:"maxConcurrency"`
	// RevisionID changes with every PUT (Lambda's RevisionId): the host
	// retires the workers of an older revision.
	RevisionID string    `json:"revisionId"`
	CreatedAt  time.Time `json:"createdAt"`
	UpdatedAt  time.Time `json:"updatedAt"`
}

// FunctionInput is a function as PUT declares it; nil numbers take the
// defaults.
type FunctionInput struct {
	Command        []string
	Environment    map[string]string
	Handler        string
	Description    string
	MemorySize     *int
	TimeoutSeconds *int
	MaxConcurrency *int
}

var functionNameRE = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// ValidFunctionName reports whether s is a function name as Lambda allows
// it: 1–64 letters, digits, hyphens and underscores. Nothing else, so a name
// is safe in a file path (the function's log) and a header.
func ValidFunctionName(s string) bool { return functionNameRE.MatchString(s) }

var envKeyRE = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_]*$`)

// reservedEnv are the variables Lambda reserves ("Defined runtime
// environment variables"): the host sets them, a function may not. The
// AWS_ACCESS_KEY_ID family Lambda also reserves is allowed here: Trellis
// has no execution role, so a function that calls AWS needs them given.
var reservedEnv = map[string]bool{
	"AWS_DEFAULT_REGION": true, "AWS_REGION": true, "AWS_EXECUTION_ENV": true,
	"LAMBDA_TASK_ROOT": true, "LAMBDA_RUNTIME_DIR": true,
}

// IsReservedFunctionEnv reports whether the host owns variable k.
func IsReservedFunctionEnv(k string) bool {
	return reservedEnv[k] || strings.HasPrefix(k, "AWS_LAMBDA_") || strings.HasPrefix(k, "_")
}

// CheckFunction validates a function declaration and returns it with the
// defaults filled in (Name, ARN, Account, RevisionID and times are the
// caller's). Every error names its field.
func CheckFunction(v *Validator, in FunctionInput) Function {
	var f Function
	switch {
	case len(in.Command) == 0:
		v.Addf("command", "command is required: the absolute path of the program to run, then its arguments")
	case len(in.Command) > MaxFunctionCommandArgs:
		v.Addf("command", "command must have at most %d elements", MaxFunctionCommandArgs)
	default:
		for i, a := range in.Command {
			field := "command[" + strconv.Itoa(i) + "]"
			switch {
			case len(a) > MaxFunctionArgBytes:
				v.Addf(field, "%s must be at most %d bytes long", field, MaxFunctionArgBytes)
			case strings.IndexByte(a, 0) >= 0:
				v.Addf(field, "%s must not contain a NUL byte", field)
			case i == 0 && (!filepath.IsAbs(a) || filepath.Clean(a) != a):
				// Absolute and clean: the program is executed directly, never
				// looked up in a PATH or through a shell, and its directory
				// is the worker's working directory.
				v.Addf(field, "command[0] must be a clean absolute path to an executable, such as /srv/fn/bootstrap")
			}
		}
		f.Command = append([]string(nil), in.Command...)
	}
	size := 0
	for k, val := range in.Environment {
		field := "environment." + clipField(k)
		switch {
		case !envKeyRE.MatchString(k):
			v.Addf("environment", "environment variable names must start with a letter and contain only letters, digits and underscores: %q is not one", clipField(k))
		case IsReservedFunctionEnv(k):
			v.Addf(field, "environment variable %s is reserved: the function host sets it (docs/functions.md)", k)
		case strings.IndexByte(val, 0) >= 0:
			v.Addf(field, "%s must not contain a NUL byte", field)
		}
		size += len(k) + len(val)
	}
	if size > MaxFunctionEnvBytes {
		v.Addf("environment", "environment variables must be at most %d bytes in total (names and values), as in Lambda; these are %d", MaxFunctionEnvBytes, size)
	}
	if len(in.Environment) > 0 {
		f.Environment = make(map[string]string, len(in.Environment))
		for k, val := range in.Environment {
			f.Environment[k] = val
		}
	}
	checkPrintable(v, "handler", in.Handler, MaxFunctionHandler)
	checkPrintable(v, "description", in.Description, MaxFunctionDescription)
	f.Handler, f.Description = in.Handler, in.Description
	f.TimeoutSeconds = intOr(in.TimeoutSeconds, DefaultFunctionTimeout)
	if f.TimeoutSeconds < 1 || f.TimeoutSeconds > MaxFunctionTimeout {
		v.Addf("timeoutSeconds", "timeoutSeconds must be between 1 and %d", MaxFunctionTimeout)
	}
	f.MemorySize = intOr(in.MemorySize, DefaultFunctionMemory)
	if f.MemorySize < MinFunctionMemory || f.MemorySize > MaxFunctionMemory {
		v.Addf("memorySize", "memorySize must be between %d and %d (MB)", MinFunctionMemory, MaxFunctionMemory)
	}
	f.MaxConcurrency = intOr(in.MaxConcurrency, DefaultFunctionConcurrency)
	if f.MaxConcurrency < 1 || f.MaxConcurrency > MaxFunctionConcurrency {
		v.Addf("maxConcurrency", "maxConcurrency must be between 1 and %d", MaxFunctionConcurrency)
	}
	return f
}

// checkPrintable refuses what could break a header, a log line or a
// terminal: only printable ASCII, at most max bytes.
func checkPrintable(v *Validator, field, s string, max int) {
	if len(s) > max {
		v.Addf(field, "%s must be at most %d characters long", field, max)
		return
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			v.Addf(field, "%s may contain only printable ASCII characters", field)
			return
		}
	}
}

// clipField makes a user-written key fit to quote in an error message.
func clipField(k string) string {
	if len(k) > 64 {
		k = k[:64]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return '?'
		}
		return r
	}, k)
}

func intOr(p *int, d int) int {
	if p == nil {
		return d
	}
	return *p
}

// FunctionRef is a function identifier as Lambda's Invoke takes it, taken
// apart: a name ("my-function", "my-function:$LATEST"), a partial ARN
// ("123456789012:function:my-function") or a full ARN
// ("arn:aws:lambda:us-east-1:123456789012:function:my-function"), each
// with an optional qualifier. Account and Region are empty when the
// identifier does not carry them.
type FunctionRef struct {
	Partition, Region, Account, Name, Qualifier string
}

var (
	accountRE = regexp.MustCompile(`^[0-9]{12}$`)
	// arnWordRE is a partition or a region: empty (not given), or what
	// AWS's look like.
	arnWordRE = regexp.MustCompile(`^[a-z0-9-]{0,32}$`)
)

// ParseFunctionRef parses a function identifier; ok is false when s is
// none of Lambda's forms.
func ParseFunctionRef(s string) (FunctionRef, bool) {
	var r FunctionRef
	if len(s) > 256 {
		return r, false
	}
	parts := strings.Split(s, ":")
	switch {
	case len(parts) >= 7 && parts[0] == "arn":
		// arn:PARTITION:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]
		if len(parts) > 8 || parts[2] != "lambda" || parts[5] != "function" || parts[1] == "" || parts[3] == "" {
			return r, false
		}
		r.Partition, r.Region, r.Account, r.Name = parts[1], parts[3], parts[4], parts[6]
		if len(parts) == 8 {
			r.Qualifier = parts[7]
		}
	case len(parts) >= 3 && parts[1] == "function":
		// ACCOUNT:function:NAME[:QUALIFIER]
		if len(parts) > 4 {
			return r, false
		}
		r.Account, r.Name = parts[0], parts[2]
		if len(parts) == 4 {
			r.Qualifier = parts[3]
		}
	case len(parts) <= 2:
		r.Name = parts[0]
		if len(parts) == 2 {
			r.Qualifier = parts[1]
		}
	default:
		return r, false
	}
	if !ValidFunctionName(r.Name) || (r.Account != "" && !accountRE.MatchString(r.Account)) ||
		!arnWordRE.MatchString(r.Partition) || !arnWordRE.MatchString(r.Region) {
		return r, false
	}
	if len(parts) == 2 || len(parts) == 4 || len(parts) == 8 {
		if !validQualifier(r.Qualifier) {
			return r, false
		}
	}
	return r, true
}

// validQualifier: $LATEST, a version number or an alias name (Lambda's
// pattern), so that a qualifier quoted in a message is harmless.
func validQualifier(q string) bool {
	if q == FunctionVersionLatest {
		return true
	}
	if q == "" || len(q) > 128 {
		return false
	}
	for i := 0; i < len(q); i++ {
		c := q[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// FunctionARN is the ARN of function name in account.
func FunctionARN(partition, region, account, name string) string {
	if partition == "" {
		partition = "aws"
	}
	return "arn:" + partition + ":lambda:" + region + ":" + account + ":function:" + name
}
