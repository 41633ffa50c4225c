package lambda

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// wireResponse is the JSON a function returns, in both event versions
// (reference §7.2).
type wireResponse struct {
	StatusCode        json.RawMessage            `json:"statusCode"`
	StatusDescription string                     `json:"statusDescription"`
	Headers           map[string]json.RawMessage `json:"headers"`
	MultiValueHeaders map[string][]string        `json:"multiValueHeaders"`
	Body              string                     `json:"body"`
	IsBase64Encoded   bool                       `json:"isBase64Encoded"`
}

// decodeResponseStd is the first DecodeResponse, built on encoding/json:
// the oracle of FuzzDecodeResponseDifferential. It decodes a function's response payload: statusCode (an
// integer from 100 to 599), statusDescription, headers (each value a
// string or an array of strings), multiValueHeaders (arrays; a name in
// both keeps these), body (base64 when isBase64Encoded). A payload over
// MaxPayload is ErrPayloadTooLarge. A field name that is not a token or a
// value holding CR, LF or NUL (RFC 9110 §5.1, §5.5) makes the response
// malformed: a function must not be able to write lines of its own into
// the answer. The hop-by-hop fields (RFC 9110 §7.6.1: Connection and what
// it names, Keep-Alive, Proxy-*, TE, Trailer, Transfer-Encoding, Upgrade)
// and Content-Length are ignored, as Lattice does.
func decodeResponseStd(payload []byte) (*Response, error) {
	if len(payload) > MaxPayload {
		return nil, fmt.Errorf("%w: response of %d bytes is over %d", ErrPayloadTooLarge, len(payload), MaxPayload)
	}
	var w wireResponse
	if err := json.Unmarshal(payload, &w); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedResponse, err)
	}
	status, err := statusCode(w.StatusCode)
	if err != nil {
		return nil, err
	}
	res := &Response{StatusCode: status, StatusDescription: w.StatusDescription}
	if n := len(w.Headers) + len(w.MultiValueHeaders); n > 0 {
		res.Header = make(http.Header, n)
	}
	for k, vs := range w.MultiValueHeaders {
		if err := res.add(k, vs); err != nil {
			return nil, err
		}
	}
	for k, raw := range w.Headers {
		if _, ok := w.MultiValueHeaders[k]; ok {
			continue
		}
		vs, err := headerValues(k, raw)
		if err != nil {
			return nil, err
		}
		if err := res.add(k, vs); err != nil {
			return nil, err
		}
	}
	if conn := res.Header["Connection"]; len(conn) > 0 {
		for _, v := range conn {
			for _, name := range strings.Split(v, ",") {
				delete(res.Header, http.CanonicalHeaderKey(trimOWS(name)))
			}
		}
		delete(res.Header, "Connection")
	}
	if w.Body != "" {
		if w.IsBase64Encoded {
			res.Body, err = base64.StdEncoding.DecodeString(w.Body)
			if err != nil {
				return nil, fmt.Errorf("%w: body is not base64: %v", ErrMalformedResponse, err)
			}
		} else {
			res.Body = []byte(w.Body)
		}
	}
	return res, nil
}

// statusCode reads statusCode: a JSON integer from 100 to 599.
func statusCode(raw json.RawMessage) (int, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return 0, fmt.Errorf("%w: no statusCode", ErrMalformedResponse)
	}
	n, err := strconv.Atoi(string(raw))
	if err != nil || n < 100 || n > 599 {
		return 0, fmt.Errorf("%w: statusCode %.20s is not an integer from 100 to 599", ErrMalformedResponse, raw)
	}
	return n, nil
}

// headerValues reads a headers value: a string, an array of strings, or
// null (no field).
func headerValues(name string, raw json.RawMessage) ([]string, error) {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0 || bytes.Equal(raw, []byte("null")):
		return nil, nil
	case raw[0] == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, fmt.Errorf("%w: header %q: %v", ErrMalformedResponse, name, err)
		}
		return []string{s}, nil
	case raw[0] == '[':
		var vs []string
		if err := json.Unmarshal(raw, &vs); err != nil {
			return nil, fmt.Errorf("%w: header %q: want a string or an array of strings", ErrMalformedResponse, name)
		}
		return vs, nil
	}
	return nil, fmt.Errorf("%w: header %q: want a string or an array of strings", ErrMalformedResponse, name)
}

// add checks a field and adds it unless Lattice ignores it.
func (r *Response) add(name string, vs []string) error {
	if !httpguts.ValidHeaderFieldName(name) {
		return fmt.Errorf("%w: header name %q is not a token", ErrMalformedResponse, name)
	}
	for _, v := range vs {
		if !httpguts.ValidHeaderFieldValue(v) {
			return fmt.Errorf("%w: header %q has a value with a control character", ErrMalformedResponse, name)
		}
	}
	k := http.CanonicalHeaderKey(name)
	if ignoredField(k) || len(vs) == 0 {
		return nil
	}
	if r.Header == nil {
		r.Header = make(http.Header, 8)
	}
	r.Header[k] = append(r.Header[k], vs...)
	return nil
}
