package apitest

import (
	"slices"
	"testing"
)

func TestLatticeOperations(t *testing.T) {
	ops := LatticeOperations()
	if len(ops) != LatticeOperationCount {
		t.Fatalf("the SDK has %d operations, want %d: %v", len(ops), LatticeOperationCount, ops)
	}
	for _, op := range []string{"CreateServiceNetwork", "BatchUpdateRule", "ListTargets", "StartDomainVerification", "UntagResource"} {
		if !slices.Contains(ops, op) {
			t.Errorf("%s missing from %v", op, ops)
		}
	}
	// Paginators, waiters and Options are not operations.
	if slices.Contains(ops, "Options") {
		t.Errorf("Options counted: %v", ops)
	}
}

// A misspelt name in the status table would silently answer 200.
func TestLatticeSuccessStatusNamesOperations(t *testing.T) {
	ops := LatticeOperations()
	for op, code := range modelStatus {
		if !slices.Contains(ops, op) {
			t.Errorf("modelStatus names %s, which is no operation", op)
		}
		if code != 201 && code != 204 {
			t.Errorf("%s: %d", op, code)
		}
	}
	if got := LatticeSuccessStatus("CreateServiceNetworkVpcAssociation"); got != 200 {
		t.Errorf("CreateServiceNetworkVpcAssociation: %d, want 200", got)
	}
}
