package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"
)

// ---------------------------------------------------------------------------
// Unions
//
// The SDK models Smithy unions as Go interfaces implemented by
// "<Union>Member<Name>" structs holding a single Value field. On the wire a
// union is a JSON object with exactly one key, the member name.

type unionMember struct {
	key string       // wire key, e.g. "forward"
	typ reflect.Type // pointer type, e.g. *types.RuleActionMemberForward
}

var (
	// unionsByIface maps a union interface type to its members by wire key.
	unionsByIface = map[reflect.Type]map[string]reflect.Type{}
	// unionKeyByType maps a member's pointer type to its wire key.
	unionKeyByType = map[reflect.Type]string{}
)

func init() {
	ifaces := []reflect.Type{
		reflect.TypeFor[types.RuleAction](),
		reflect.TypeFor[types.RuleMatch](),
		reflect.TypeFor[types.PathMatchType](),
		reflect.TypeFor[types.HeaderMatchType](),
		reflect.TypeFor[types.Matcher](),
		reflect.TypeFor[types.ResourceConfigurationDefinition](),
	}
	members := []any{
		&types.RuleActionMemberForward{},
		&types.RuleActionMemberFixedResponse{},
		&types.RuleMatchMemberHttpMatch{},
		&types.PathMatchTypeMemberExact{},
		&types.PathMatchTypeMemberPrefix{},
		&types.HeaderMatchTypeMemberExact{},
		&types.HeaderMatchTypeMemberPrefix{},
		&types.HeaderMatchTypeMemberContains{},
		&types.MatcherMemberHttpCode{},
		&types.ResourceConfigurationDefinitionMemberArnResource{},
		&types.ResourceConfigurationDefinitionMemberDnsResource{},
		&types.ResourceConfigurationDefinitionMemberIpResource{},
	}
	for _, m := range members {
		t := reflect.TypeOf(m)
		name := t.Elem().Name()
		i := strings.Index(name, "Member")
		if i < 0 {
			panic("cli: not a union member: " + name)
		}
		key := wireName(name[i+len("Member"):])
		unionKeyByType[t] = key
		found := false
		for _, it := range ifaces {
			if t.Implements(it) {
				if unionsByIface[it] == nil {
					unionsByIface[it] = map[string]reflect.Type{}
				}
				unionsByIface[it][key] = t
				found = true
			}
		}
		if !found {
			panic("cli: union member without interface: " + name)
		}
	}
}

// ---------------------------------------------------------------------------
// Wire JSON → SDK types

var timeType = reflect.TypeFor[time.Time]()

// decodeWireJSON decodes Lattice wire JSON (camelCase members, unions as
// one-key objects) into dst, which must be a pointer to an SDK struct. Only
// members present in data are set; unknown members are an error.
func decodeWireJSON(data []byte, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("invalid JSON: %w", err)
	}
	if dec.More() {
		return fmt.Errorf("invalid JSON: trailing data after the top-level value")
	}
	rv := reflect.ValueOf(dst)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("decodeWireJSON: destination must be a non-nil pointer")
	}
	return assignWire(v, rv.Elem(), "")
}

func pathJoin(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func describePath(path string) string {
	if path == "" {
		return "input"
	}
	return path
}

func assignWire(v any, dst reflect.Value, path string) error {
	if v == nil { // JSON null: leave the zero value.
		return nil
	}
	t := dst.Type()
	switch {
	case t == timeType:
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("%s: expected a timestamp string", describePath(path))
		}
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return fmt.Errorf("%s: %w", describePath(path), err)
		}
		dst.Set(reflect.ValueOf(tm))
		return nil
	case t.Kind() == reflect.Pointer:
		nv := reflect.New(t.Elem())
		if err := assignWire(v, nv.Elem(), path); err != nil {
			return err
		}
		dst.Set(nv)
		return nil
	case t.Kind() == reflect.Interface:
		return assignUnion(v, dst, path)
	}

	switch t.Kind() {
	case reflect.Struct:
		obj, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: expected an object", describePath(path))
		}
		fields := map[string]int{}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() || f.Name == "ResultMetadata" {
				continue
			}
			fields[wireName(f.Name)] = i
		}
		for _, k := range sortedKeys(obj) {
			i, ok := fields[k]
			if !ok {
				return fmt.Errorf("%s: unknown member %q (valid: %s)", describePath(path), k, strings.Join(sortedKeys(fields), ", "))
			}
			if err := assignWire(obj[k], dst.Field(i), pathJoin(path, k)); err != nil {
				return err
			}
		}
		return nil
	case reflect.String:
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("%s: expected a string", describePath(path))
		}
		dst.SetString(s)
		return nil
	case reflect.Bool:
		b, ok := v.(bool)
		if !ok {
			return fmt.Errorf("%s: expected a boolean", describePath(path))
		}
		dst.SetBool(b)
		return nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := v.(json.Number)
		if !ok {
			return fmt.Errorf("%s: expected a number", describePath(path))
		}
		i, err := strconv.ParseInt(n.String(), 10, t.Bits())
		if err != nil {
			return fmt.Errorf("%s: expected an integer that fits in %d bits, got %s", describePath(path), t.Bits(), n)
		}
		dst.SetInt(i)
		return nil
	case reflect.Float32, reflect.Float64:
		n, ok := v.(json.Number)
		if !ok {
			return fmt.Errorf("%s: expected a number", describePath(path))
		}
		f, err := strconv.ParseFloat(n.String(), t.Bits())
		if err != nil {
			return fmt.Errorf("%s: %w", describePath(path), err)
		}
		dst.SetFloat(f)
		return nil
	case reflect.Slice:
		arr, ok := v.([]any)
		if !ok {
			return fmt.Errorf("%s: expected an array", describePath(path))
		}
		s := reflect.MakeSlice(t, len(arr), len(arr))
		for i, e := range arr {
			if err := assignWire(e, s.Index(i), fmt.Sprintf("%s[%d]", describePath(path), i)); err != nil {
				return err
			}
		}
		dst.Set(s)
		return nil
	case reflect.Map:
		obj, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: expected an object", describePath(path))
		}
		if t.Key().Kind() != reflect.String {
			return fmt.Errorf("%s: unsupported map key type %s", describePath(path), t.Key())
		}
		m := reflect.MakeMapWithSize(t, len(obj))
		for _, k := range sortedKeys(obj) {
			ev := reflect.New(t.Elem()).Elem()
			if err := assignWire(obj[k], ev, pathJoin(path, k)); err != nil {
				return err
			}
			m.SetMapIndex(reflect.ValueOf(k).Convert(t.Key()), ev)
		}
		dst.Set(m)
		return nil
	}
	return fmt.Errorf("%s: unsupported type %s", describePath(path), t)
}

func assignUnion(v any, dst reflect.Value, path string) error {
	members, ok := unionsByIface[dst.Type()]
	if !ok {
		return fmt.Errorf("%s: unsupported interface type %s", describePath(path), dst.Type())
	}
	obj, ok := v.(map[string]any)
	if !ok || len(obj) != 1 {
		return fmt.Errorf("%s: expected an object with exactly one of: %s", describePath(path), strings.Join(sortedKeys(members), ", "))
	}
	for k, val := range obj {
		mt, ok := members[k]
		if !ok {
			return fmt.Errorf("%s: unknown member %q (valid: %s)", describePath(path), k, strings.Join(sortedKeys(members), ", "))
		}
		mv := reflect.New(mt.Elem())
		if err := assignWire(val, mv.Elem().FieldByName("Value"), pathJoin(path, k)); err != nil {
			return err
		}
		dst.Set(mv)
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// readInputJSON resolves an --input-json value: a literal JSON document,
// "file://path" to read a file, or "file://-" / "-" to read stdin.
func readInputJSON(value string, stdin io.Reader) ([]byte, error) {
	switch {
	case value == "-" || value == "file://-":
		return io.ReadAll(stdin)
	case strings.HasPrefix(value, "file://"):
		return os.ReadFile(strings.TrimPrefix(value, "file://"))
	}
	return []byte(value), nil
}

// readPolicy resolves --policy / --policy-file: the file name "-" means stdin.
func readPolicyFile(name string, stdin io.Reader) (string, error) {
	var b []byte
	var err error
	if name == "-" {
		b, err = io.ReadAll(stdin)
	} else {
		b, err = os.ReadFile(name)
	}
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// ---------------------------------------------------------------------------
// Flag parsers

// parseWeightedTargetGroups parses "web-a=90,web-b=10" (weights optional) from
// one or more flag values.
func parseWeightedTargetGroups(values []string) ([]types.WeightedTargetGroup, error) {
	var out []types.WeightedTargetGroup
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			id, w, hasW := strings.Cut(part, "=")
			id = strings.TrimSpace(id)
			if id == "" {
				return nil, fmt.Errorf("invalid target group %q: want TG[=WEIGHT]", part)
			}
			tg := types.WeightedTargetGroup{TargetGroupIdentifier: ptr(id)}
			if hasW {
				n, err := strconv.ParseInt(strings.TrimSpace(w), 10, 32)
				if err != nil {
					return nil, fmt.Errorf("invalid weight in %q: want TG=WEIGHT with an integer weight", part)
				}
				tg.Weight = ptr(int32(n))
			}
			out = append(out, tg)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no target groups given: want TG[=WEIGHT],...")
	}
	return out, nil
}

// parseHeaderMatch parses "name=exact:value", "name=prefix:value",
// "name=contains:value"; "name=value" means an exact match.
func parseHeaderMatch(s string) (types.HeaderMatch, error) {
	name, rest, ok := strings.Cut(s, "=")
	name = strings.TrimSpace(name)
	if !ok || name == "" {
		return types.HeaderMatch{}, fmt.Errorf("invalid header match %q: want NAME=[exact|prefix|contains:]VALUE", s)
	}
	hm := types.HeaderMatch{Name: ptr(name)}
	kind, val, hasKind := strings.Cut(rest, ":")
	switch {
	case hasKind && kind == "exact":
		hm.Match = &types.HeaderMatchTypeMemberExact{Value: val}
	case hasKind && kind == "prefix":
		hm.Match = &types.HeaderMatchTypeMemberPrefix{Value: val}
	case hasKind && kind == "contains":
		hm.Match = &types.HeaderMatchTypeMemberContains{Value: val}
	default:
		hm.Match = &types.HeaderMatchTypeMemberExact{Value: rest}
	}
	return hm, nil
}

// parseTarget parses a target: "id", "id:port", "[ipv6]:port", a bare IPv6
// address or ARN (no port), or the explicit "id=ID,port=PORT".
func parseTarget(s string) (types.Target, error) {
	s = strings.TrimSpace(s)
	bad := func() (types.Target, error) {
		return types.Target{}, fmt.Errorf("invalid target %q: want ID[:PORT], [IPV6]:PORT or id=ID,port=PORT", s)
	}
	if s == "" {
		return bad()
	}
	port := func(p string) (*int32, error) {
		n, err := strconv.ParseInt(p, 10, 32)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("invalid port %q in target %q", p, s)
		}
		return ptr(int32(n)), nil
	}
	if strings.HasPrefix(s, "id=") {
		t := types.Target{}
		for _, kv := range strings.Split(s, ",") {
			k, v, _ := strings.Cut(kv, "=")
			switch strings.TrimSpace(k) {
			case "id":
				t.Id = ptr(v)
			case "port":
				p, err := port(v)
				if err != nil {
					return types.Target{}, err
				}
				t.Port = p
			default:
				return bad()
			}
		}
		if t.Id == nil || *t.Id == "" {
			return bad()
		}
		return t, nil
	}
	if strings.HasPrefix(s, "arn:") {
		return types.Target{Id: ptr(s)}, nil
	}
	if strings.HasPrefix(s, "[") {
		host, p, err := net.SplitHostPort(s)
		if err != nil {
			if strings.HasSuffix(s, "]") {
				return types.Target{Id: ptr(strings.Trim(s, "[]"))}, nil
			}
			return bad()
		}
		pp, err := port(p)
		if err != nil {
			return types.Target{}, err
		}
		return types.Target{Id: ptr(host), Port: pp}, nil
	}
	switch strings.Count(s, ":") {
	case 0:
		return types.Target{Id: ptr(s)}, nil
	case 1:
		id, p, _ := strings.Cut(s, ":")
		if id == "" {
			return bad()
		}
		pp, err := port(p)
		if err != nil {
			return types.Target{}, err
		}
		return types.Target{Id: ptr(id), Port: pp}, nil
	default: // bare IPv6 address
		return types.Target{Id: ptr(s)}, nil
	}
}

func parseTargets(values []string) ([]types.Target, error) {
	out := make([]types.Target, 0, len(values))
	for _, v := range values {
		t, err := parseTarget(v)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// parseTags parses "key=value" pairs (a missing "=value" means an empty value)
// and merges them into base, which may be nil.
func parseTags(values []string, base map[string]string) (map[string]string, error) {
	out := map[string]string{}
	for k, v := range base {
		out[k] = v
	}
	for _, s := range values {
		k, v, _ := strings.Cut(s, "=")
		if strings.TrimSpace(k) == "" {
			return nil, fmt.Errorf("invalid tag %q: want KEY=VALUE", s)
		}
		out[k] = v
	}
	return out, nil
}

// parseStatusCode parses an HTTP status code for a fixed-response action.
func parseStatusCode(s string) (int32, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 32)
	if err != nil || n < 100 || n > 599 {
		return 0, fmt.Errorf("invalid status code %q: want an HTTP status code such as 404", s)
	}
	return int32(n), nil
}

func ptr[T any](v T) *T { return &v }
