package lambda

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/go-cmp/cmp"
)

// TestDecodeResponse: what a function returns (marshalled as aws-lambda-go
// marshals its response types) becomes the answer.
func TestDecodeResponse(t *testing.T) {
	bin := []byte{0, 1, 2, 0xff, 0xfe}
	for _, tc := range []struct {
		name string
		in   any
		want Response
	}{
		{"alb response type", events.ALBTargetGroupResponse{StatusCode: 201, StatusDescription: "201 Created",
			Headers: map[string]string{"content-type": "text/plain", "X-Custom": "a"}, Body: "made"},
			Response{StatusCode: 201, StatusDescription: "201 Created",
				Header: http.Header{"Content-Type": {"text/plain"}, "X-Custom": {"a"}}, Body: []byte("made")}},
		{"binary body", events.ALBTargetGroupResponse{StatusCode: 200, Body: base64.StdEncoding.EncodeToString(bin), IsBase64Encoded: true},
			Response{StatusCode: 200, Body: bin}},
		{"multi-value headers", events.ALBTargetGroupResponse{StatusCode: 200,
			Headers:           map[string]string{"set-cookie": "ignored", "x-one": "1"},
			MultiValueHeaders: map[string][]string{"set-cookie": {"a=1", "b=2"}}},
			Response{StatusCode: 200, Header: http.Header{"Set-Cookie": {"a=1", "b=2"}, "X-One": {"1"}}}},
		{"header as array", map[string]any{"statusCode": 200, "headers": map[string]any{"vary": []string{"a", "b"}, "x-null": nil}},
			Response{StatusCode: 200, Header: http.Header{"Vary": {"a", "b"}}}},
		{"hop-by-hop and length ignored", map[string]any{"statusCode": 200, "body": "abc", "headers": map[string]any{
			"connection": "close, x-private", "x-private": "secret", "transfer-encoding": "chunked", "keep-alive": "1",
			"upgrade": "h2c", "te": "trailers", "trailer": "x", "proxy-authenticate": "Basic", "content-length": "999", "x-kept": "yes"}},
			Response{StatusCode: 200, Header: http.Header{"X-Kept": {"yes"}}, Body: []byte("abc")}},
		{"no body, no headers", map[string]any{"statusCode": 204}, Response{StatusCode: 204}},
		{"status 599", map[string]any{"statusCode": 599}, Response{StatusCode: 599}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			got, err := DecodeResponse(b)
			if err != nil {
				t.Fatalf("%s: %v", b, err)
			}
			if got.Header == nil {
				got.Header = nil
			}
			if len(got.Header) == 0 {
				got.Header = nil
			}
			if d := cmp.Diff(tc.want, *got); d != "" {
				t.Fatalf("%s (-want +got):\n%s", b, d)
			}
		})
	}
}

// TestDecodeResponseMalformed: what cannot become an answer is refused,
// and a function cannot write lines of its own into the answer.
func TestDecodeResponseMalformed(t *testing.T) {
	for _, tc := range []struct{ name, in string }{
		{"not JSON", `hello`},
		{"a string", `"ok"`},
		{"an array", `[200]`},
		{"null", `null`},
		{"empty object", `{}`},
		{"status null", `{"statusCode":null}`},
		{"status as string", `{"statusCode":"200"}`},
		{"status fraction", `{"statusCode":200.5}`},
		{"status exponent", `{"statusCode":2e2}`},
		{"status 99", `{"statusCode":99}`},
		{"status 600", `{"statusCode":600}`},
		{"status negative", `{"statusCode":-200}`},
		{"trailing garbage", `{"statusCode":200} x`},
		{"header number", `{"statusCode":200,"headers":{"x":5}}`},
		{"header object", `{"statusCode":200,"headers":{"x":{}}}`},
		{"header array of numbers", `{"statusCode":200,"headers":{"x":[1]}}`},
		{"header name with space", `{"statusCode":200,"headers":{"x y":"1"}}`},
		{"header name with colon", `{"statusCode":200,"headers":{"x:y":"1"}}`},
		{"empty header name", `{"statusCode":200,"headers":{"":"1"}}`},
		{"CRLF in value", `{"statusCode":200,"headers":{"x":"a\r\nSet-Cookie: evil=1"}}`},
		{"LF in array value", `{"statusCode":200,"headers":{"x":["ok","a\nb"]}}`},
		{"NUL in value", `{"statusCode":200,"headers":{"x":"a\u0000"}}`},
		{"CR in multi-value", `{"statusCode":200,"multiValueHeaders":{"x":["a\rb"]}}`},
		{"CRLF in a hop-by-hop field", `{"statusCode":200,"headers":{"connection":"a\r\nb"}}`},
		{"multiValueHeaders not arrays", `{"statusCode":200,"multiValueHeaders":{"x":"a"}}`},
		{"bad base64", `{"statusCode":200,"body":"@@@","isBase64Encoded":true}`},
		{"body not a string", `{"statusCode":200,"body":{"a":1}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := DecodeResponse([]byte(tc.in))
			if !errors.Is(err, ErrMalformedResponse) {
				t.Fatalf("%s: got %+v, %v; want ErrMalformedResponse", tc.in, res, err)
			}
		})
	}
	big := `{"statusCode":200,"body":"` + strings.Repeat("x", MaxPayload) + `"}`
	if _, err := DecodeResponse([]byte(big)); !errors.Is(err, ErrPayloadTooLarge) {
		t.Fatalf("a response over 6 MB: %v", err)
	}
	atLimit := `{"statusCode":200,"body":"` + strings.Repeat("x", MaxPayload-len(`{"statusCode":200,"body":""}`)) + `"}`
	if res, err := DecodeResponse([]byte(atLimit)); err != nil || len(res.Body) != MaxPayload-28 {
		t.Fatalf("a response of exactly 6 MB: %v", err)
	}
}
