package policy

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// jkind is the JSON type of a node.
type jkind uint8

const (
	jString jkind = iota + 1
	jNumber
	jBool
	jNull
	jObject
	jArray
)

// jnode is a JSON value. Objects keep their members in document order,
// duplicates included, so the policy walker can report them with a path.
type jnode struct {
	kind  jkind
	str   string   // jString: the value; jNumber: the literal as written
	b     bool     // jBool
	keys  []string // jObject: member names
	elems []*jnode // jObject: member values (parallel to keys); jArray: elements
}

// typeName describes the node's type for error messages.
func (n *jnode) typeName() string {
	switch n.kind {
	case jString:
		return "a string"
	case jNumber:
		return "a number"
	case jBool:
		return "a boolean"
	case jNull:
		return "null"
	case jObject:
		return "an object"
	case jArray:
		return "a list"
	}
	return "nothing"
}

// parseJSON reads exactly one JSON value from doc.
func parseJSON(doc string) (*jnode, error) {
	dec := json.NewDecoder(strings.NewReader(doc))
	dec.UseNumber()
	n, err := readValue(dec)
	if err != nil {
		return nil, jsonError(dec, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &Error{Msg: fmt.Sprintf("invalid JSON: unexpected data after the policy document at byte offset %d", dec.InputOffset())}
	}
	return n, nil
}

func jsonError(dec *json.Decoder, err error) *Error {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return &Error{Msg: fmt.Sprintf("invalid JSON at byte offset %d: %s", se.Offset, se.Error())}
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		return &Error{Msg: "invalid JSON: unexpected end of the document"}
	}
	return &Error{Msg: fmt.Sprintf("invalid JSON at byte offset %d: %v", dec.InputOffset(), err)}
}

func readValue(dec *json.Decoder) (*jnode, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			n := &jnode{kind: jObject}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				key, ok := kt.(string)
				if !ok { // the decoder reports non-string keys itself; be safe
					return nil, fmt.Errorf("object key is not a string")
				}
				v, err := readValue(dec)
				if err != nil {
					return nil, err
				}
				n.keys = append(n.keys, key)
				n.elems = append(n.elems, v)
			}
			if _, err := dec.Token(); err != nil { // '}'
				return nil, err
			}
			return n, nil
		case '[':
			n := &jnode{kind: jArray}
			for dec.More() {
				v, err := readValue(dec)
				if err != nil {
					return nil, err
				}
				n.elems = append(n.elems, v)
			}
			if _, err := dec.Token(); err != nil { // ']'
				return nil, err
			}
			return n, nil
		}
		return nil, fmt.Errorf("unexpected %q", rune(t))
	case string:
		return &jnode{kind: jString, str: t}, nil
	case json.Number:
		return &jnode{kind: jNumber, str: string(t)}, nil
	case bool:
		return &jnode{kind: jBool, b: t}, nil
	case nil:
		return &jnode{kind: jNull}, nil
	}
	return nil, fmt.Errorf("unexpected token %v", tok)
}
