// Package apitest tells which operations the official AWS SDK for Go v2
// has for VPC Lattice, so that the tests proving every operation
// round-trips (internal/api's TestEveryLatticeOperationRoundTrips, with the
// Go SDK, and test/sdkjs, with the JavaScript SDK) check their coverage
// against one list instead of one each may forget to extend.
//
// It reflects over the SDK client only; it must not import anything of
// Trellis (archtest).
package apitest

import (
	"context"
	"reflect"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
)

// LatticeOperationCount is the number of operations of the API model
// (reference §2.1): what the SDK the module pins has, and what the
// coverage tests expect.
const LatticeOperationCount = 73

// LatticeOperations answers, sorted, the names of the operations of
// *vpclattice.Client: its exported methods shaped
// (context.Context, *XInput, ...func(*vpclattice.Options)) (*XOutput, error).
// Options and the paginator/waiter helpers have other shapes and are not
// counted.
func LatticeOperations() []string {
	ctxType := reflect.TypeOf((*context.Context)(nil)).Elem()
	errType := reflect.TypeOf((*error)(nil)).Elem()
	var ops []string
	ct := reflect.TypeOf(&vpclattice.Client{})
	for i := 0; i < ct.NumMethod(); i++ {
		m := ct.Method(i)
		ft := m.Type // receiver first
		if ft.NumIn() != 4 || !ft.IsVariadic() || ft.NumOut() != 2 {
			continue
		}
		in, out := ft.In(2), ft.Out(0)
		if ft.In(1) != ctxType || ft.Out(1) != errType ||
			in.Kind() != reflect.Pointer || in.Elem().Name() != m.Name+"Input" ||
			out.Kind() != reflect.Pointer || out.Elem().Name() != m.Name+"Output" ||
			!strings.HasSuffix(in.Elem().PkgPath(), "/service/vpclattice") {
			continue
		}
		ops = append(ops, m.Name)
	}
	sort.Strings(ops)
	return ops
}

// modelStatus holds the success codes of the API model other than 200
// (reference §2.1). The Go SDK takes any 2xx and does not carry them; the
// JavaScript SDK's schemas do, and test/sdkjs checks this table against
// them.
var modelStatus = map[string]int{
	"CreateServiceNetwork":                    201,
	"CreateService":                           201,
	"CreateListener":                          201,
	"CreateRule":                              201,
	"CreateTargetGroup":                       201,
	"CreateAccessLogSubscription":             201,
	"CreateResourceGateway":                   201,
	"CreateResourceConfiguration":             201,
	"CreateServiceNetworkResourceAssociation": 201,
	"StartDomainVerification":                 201,
	"DeleteServiceNetwork":                    204,
	"DeleteListener":                          204,
	"DeleteRule":                              204,
	"DeleteAuthPolicy":                        204,
	"DeleteResourcePolicy":                    204,
	"DeleteAccessLogSubscription":             204,
	"DeleteResourceConfiguration":             204,
}

// LatticeSuccessStatus answers the HTTP status the API model gives a
// successful answer of op: 201 for most creates (not the service and VPC
// associations of a service network, 200), 204 for some deletes, else 200.
func LatticeSuccessStatus(op string) int {
	if s, ok := modelStatus[op]; ok {
		return s
	}
	return 200
}
