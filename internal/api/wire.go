package api

import (
	"encoding/json"
	"errors"
	"io"
	"net/url"
	"strconv"
	"time"

	"github.com/trellis-net/trellis/internal/model"
	"github.com/trellis-net/trellis/internal/service"
)

// obj is a response body under construction. Keys are the Lattice member
// names; encoding/json writes them sorted, which keeps golden files stable.
type obj map[string]any

// str sets k when v is not empty.
func (o obj) str(k, v string) obj {
	if v != "" {
		o[k] = v
	}
	return o
}

// time sets k to an ISO-8601 timestamp when t is set.
func (o obj) time(k string, t time.Time) obj {
	if !t.IsZero() {
		o[k] = wireTime(t)
	}
	return o
}

// opt sets k when v is not nil.
func (o obj) opt(k string, v any) obj {
	switch x := v.(type) {
	case nil:
	case *int:
		if x != nil {
			o[k] = *x
		}
	case *bool:
		if x != nil {
			o[k] = *x
		}
	case *string:
		if x != nil {
			o[k] = *x
		}
	case *model.DNSEntry:
		if x != nil {
			o[k] = x
		}
	default:
		o[k] = v
	}
	return o
}

func wireTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func encodeJSON(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// decode reads a JSON request body into v. An empty body is {}. Unknown
// members are ignored so that newer SDKs keep working (reference §2.6).
func decode(body []byte, v any) error {
	if len(body) == 0 {
		return nil
	}
	if err := json.Unmarshal(body, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			f := te.Field
			if f == "" {
				f = "body"
			}
			return model.CannotParse(f, "%s must be of type %s", f, jsonKind(te.Type.Kind().String()))
		}
		return model.CannotParse("body", "the request body is not valid JSON: %v", err)
	}
	return nil
}

func jsonKind(k string) string {
	switch k {
	case "int", "int64", "int32":
		return "integer"
	case "struct", "map":
		return "object"
	case "slice":
		return "array"
	case "bool":
		return "boolean"
	}
	return k
}

// page reads maxResults and nextToken from the query string.
func page(q url.Values) (service.Page, error) {
	var p service.Page
	var v model.Validator
	if s := q.Get("maxResults"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 100 {
			v.Addf("maxResults", "maxResults must be an integer between 1 and 100")
		}
		p.MaxResults = n
	}
	if s, ok := q["nextToken"]; ok {
		if len(s[0]) < 1 || len(s[0]) > 2048 {
			v.Addf("nextToken", "nextToken must be between 1 and 2048 characters long")
		}
		p.NextToken = s[0]
	}
	return p, v.Err()
}

func list(items []obj, next string) obj {
	if items == nil {
		items = []obj{}
	}
	return obj{"items": items}.str("nextToken", next)
}

func tagsOrNil(t map[string]string) any {
	if len(t) == 0 {
		return nil
	}
	return t
}
