package model

import (
	"strings"
	"testing"
)

func TestParseFunctionRef(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want FunctionRef
		ok   bool
	}{
		{"hello", FunctionRef{Name: "hello"}, true},
		{"hello:$LATEST", FunctionRef{Name: "hello", Qualifier: "$LATEST"}, true},
		{"hello:prod", FunctionRef{Name: "hello", Qualifier: "prod"}, true},
		{"111122223333:function:hello", FunctionRef{Account: "111122223333", Name: "hello"}, true},
		{"111122223333:function:hello:7", FunctionRef{Account: "111122223333", Name: "hello", Qualifier: "7"}, true},
		{"arn:aws:lambda:us-east-1:111122223333:function:hello", FunctionRef{Partition: "aws", Region: "us-east-1", Account: "111122223333", Name: "hello"}, true},
		{"arn:aws:lambda:us-east-1:111122223333:function:hello:$LATEST", FunctionRef{Partition: "aws", Region: "us-east-1", Account: "111122223333", Name: "hello", Qualifier: "$LATEST"}, true},
		{"", FunctionRef{}, false},
		{"hello:", FunctionRef{}, false},
		{"hel lo", FunctionRef{}, false},
		{"../etc", FunctionRef{}, false},
		{"a:b:c", FunctionRef{}, false},
		{"1111:function:hello", FunctionRef{}, false},
		{"arn:aws:s3:us-east-1:111122223333:function:hello", FunctionRef{}, false},
		{"arn:aws:lambda:us-east-1:111122223333:layer:hello", FunctionRef{}, false},
		{"arn:aws:lambda:us-east-1:111122223333:function:hello:a:b", FunctionRef{}, false},
		{"hello:a\nb", FunctionRef{}, false},
		{"arn:aws:lambda:us east:111122223333:function:hello", FunctionRef{}, false},
		{strings.Repeat("a", 65), FunctionRef{}, false},
	} {
		got, ok := ParseFunctionRef(tc.in)
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("ParseFunctionRef(%q) = %+v, %v; want %+v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func FuzzParseFunctionRef(f *testing.F) {
	for _, s := range []string{"hello", "hello:$LATEST", "111122223333:function:hello:1",
		"arn:aws:lambda:us-east-1:111122223333:function:hello", "arn:aws:lambda:::function:x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, ok := ParseFunctionRef(s)
		if !ok {
			return
		}
		// What is accepted is safe in a path and a header, and round-trips.
		if !ValidFunctionName(r.Name) || strings.ContainsAny(r.Qualifier+r.Account+r.Region+r.Partition, "/\r\n\x00 :") {
			t.Fatalf("accepted %q as %+v", s, r)
		}
		if r.Account != "" && r.Region != "" {
			arn := FunctionARN(r.Partition, r.Region, r.Account, r.Name)
			if back, ok := ParseFunctionRef(arn); !ok || back.Name != r.Name || back.Account != r.Account {
				t.Fatalf("%q: ARN %q does not parse back (%+v)", s, arn, back)
			}
		}
	})
}

func TestCheckFunctionDefaults(t *testing.T) {
	var v Validator
	f := CheckFunction(&v, FunctionInput{Command: []string{"/srv/fn/bootstrap"}})
	if err := v.Err(); err != nil {
		t.Fatal(err)
	}
	if f.TimeoutSeconds != 3 || f.MemorySize != 128 || f.MaxConcurrency != 10 {
		t.Fatalf("defaults %+v", f)
	}
	for _, k := range []string{"AWS_LAMBDA_RUNTIME_API", "_HANDLER", "AWS_REGION", "LAMBDA_TASK_ROOT"} {
		if !IsReservedFunctionEnv(k) {
			t.Errorf("%s is not reserved", k)
		}
	}
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "TZ", "PATH", "GREETING"} {
		if IsReservedFunctionEnv(k) {
			t.Errorf("%s is reserved", k)
		}
	}
}
