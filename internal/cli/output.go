package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"
	"github.com/aws/smithy-go/middleware"
)

var metadataType = reflect.TypeFor[middleware.Metadata]()

// toWire converts an SDK value (typically an operation's output struct) into
// the Lattice wire shape: maps keyed by the REST API's lowerCamel member
// names, unions as one-key objects, timestamps as RFC 3339 strings. Nil
// pointers, nil slices and maps, empty enum strings and the SDK's
// ResultMetadata are omitted. A nil input yields an empty object.
func toWire(v any) any {
	w, ok := wireValue(reflect.ValueOf(v))
	if !ok {
		return map[string]any{}
	}
	return w
}

func wireValue(v reflect.Value) (any, bool) {
	if !v.IsValid() {
		return nil, false
	}
	if v.Type() == timeType {
		return formatTime(v.Interface().(time.Time)), true
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return nil, false
		}
		if key, ok := unionKeyByType[v.Type()]; ok {
			// Member values are emitted even when zero: {"exact":""}.
			val := v.Elem().FieldByName("Value")
			inner, ok := wireValue(val)
			switch {
			case val.Kind() == reflect.String:
				inner = val.String()
			case !ok:
				inner = map[string]any{}
			}
			return map[string]any{key: inner}, true
		}
		if u, ok := v.Interface().(*types.UnknownUnionMember); ok {
			var raw any = json.RawMessage(u.Value)
			if !json.Valid(u.Value) {
				raw = string(u.Value)
			}
			return map[string]any{u.Tag: raw}, true
		}
		return wireValue(v.Elem())
	case reflect.Interface:
		if v.IsNil() {
			return nil, false
		}
		return wireValue(v.Elem())
	case reflect.Struct:
		out := map[string]any{}
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() || f.Type == metadataType {
				continue
			}
			if fv, ok := wireValue(v.Field(i)); ok {
				out[wireName(f.Name)] = fv
			}
		}
		return out, true
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			return nil, false
		}
		out := make([]any, 0, v.Len())
		for i := 0; i < v.Len(); i++ {
			ev, ok := wireValue(v.Index(i))
			if !ok {
				ev = nil
			}
			out = append(out, ev)
		}
		return out, true
	case reflect.Map:
		if v.IsNil() {
			return nil, false
		}
		out := make(map[string]any, v.Len())
		iter := v.MapRange()
		for iter.Next() {
			ev, ok := wireValue(iter.Value())
			if !ok {
				ev = nil
			}
			out[fmt.Sprint(iter.Key().Interface())] = ev
		}
		return out, true
	case reflect.String:
		if v.Len() == 0 {
			return nil, false // unset enum
		}
		return v.String(), true
	case reflect.Bool:
		return v.Bool(), true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int(), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return v.Uint(), true
	case reflect.Float32, reflect.Float64:
		return v.Float(), true
	}
	return nil, false
}

func formatTime(t time.Time) string {
	return t.UTC().Format(time.RFC3339Nano)
}

// writeJSON prints v (already in wire shape) with a 2-space indent.
func writeJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	_, err = w.Write(b)
	return err
}

// column is one column of a list table: a header and a dotted path into an
// item in wire shape.
type column struct {
	header string
	path   string
}

func cols(pairs ...string) []column {
	out := make([]column, 0, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, column{header: pairs[i], path: pairs[i+1]})
	}
	return out
}

// writeTable prints a wire-shaped value as an aligned table. When columns are
// given and the value has an "items" array, it prints one row per item;
// otherwise it prints FIELD/VALUE rows with nested values flattened into
// dotted keys.
func writeTable(w io.Writer, v any, columns []column) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	obj, _ := v.(map[string]any)
	if items, ok := obj["items"].([]any); ok && len(columns) > 0 {
		headers := make([]string, len(columns))
		for i, c := range columns {
			headers[i] = c.header
		}
		fmt.Fprintln(tw, strings.Join(headers, "\t"))
		for _, it := range items {
			cells := make([]string, len(columns))
			for i, c := range columns {
				cells[i] = cell(lookupPath(it, c.path))
			}
			fmt.Fprintln(tw, strings.Join(cells, "\t"))
		}
		return tw.Flush()
	}
	rows := flatten(v, "")
	if len(rows) == 0 {
		return nil
	}
	fmt.Fprintln(tw, "FIELD\tVALUE")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\n", r[0], r[1])
	}
	return tw.Flush()
}

// lookupPath follows a dotted path (map keys, array indices) into a
// wire-shaped value.
func lookupPath(v any, path string) (any, bool) {
	for _, seg := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[seg]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

func cell(v any, ok bool) string {
	if !ok || v == nil {
		return "-"
	}
	switch x := v.(type) {
	case string:
		if x == "" {
			return "-"
		}
		return sanitizeCell(x)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = cell(e, true)
		}
		return strings.Join(parts, ",")
	case map[string]any:
		b, _ := json.Marshal(x)
		return string(b)
	}
	return scalarString(v)
}

func scalarString(v any) string {
	switch x := v.(type) {
	case string:
		return sanitizeCell(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case bool:
		return strconv.FormatBool(x)
	case json.RawMessage:
		return sanitizeCell(string(x))
	}
	return sanitizeCell(fmt.Sprint(v))
}

// sanitizeCell keeps multi-line values (such as policies) on one table row.
func sanitizeCell(s string) string {
	return strings.NewReplacer("\r\n", " ", "\n", " ", "\t", " ").Replace(s)
}

// fieldRank puts the identifying fields first in FIELD/VALUE tables.
var fieldRank = map[string]int{"id": 0, "name": 1, "arn": 2, "status": 3}

// flatten turns a wire-shaped value into (dotted key, value) rows. Arrays use
// the element index as key segment.
func flatten(v any, prefix string) [][2]string {
	var rows [][2]string
	switch x := v.(type) {
	case map[string]any:
		keys := sortedKeys(x)
		if prefix == "" {
			sort.SliceStable(keys, func(i, j int) bool {
				ri, iok := fieldRank[keys[i]]
				rj, jok := fieldRank[keys[j]]
				switch {
				case iok && jok:
					return ri < rj
				case iok != jok:
					return iok
				}
				return false
			})
		}
		if len(keys) == 0 && prefix != "" {
			return [][2]string{{prefix, "{}"}}
		}
		for _, k := range keys {
			rows = append(rows, flatten(x[k], pathJoin(prefix, k))...)
		}
	case []any:
		if len(x) == 0 {
			return [][2]string{{prefix, "[]"}}
		}
		for i, e := range x {
			rows = append(rows, flatten(e, pathJoin(prefix, strconv.Itoa(i)))...)
		}
	case nil:
		rows = append(rows, [2]string{prefix, "-"})
	case string:
		if x == "" {
			x = `""`
		}
		rows = append(rows, [2]string{prefix, sanitizeCell(x)})
	default:
		rows = append(rows, [2]string{prefix, scalarString(x)})
	}
	return rows
}
