package snapshot_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/trellis-net/trellis/internal/snapshot"
)

// TestUpstreamGolden translates the target group settings of
// testdata/upstream.in.json (every kind, and the spellings that fall back
// to a default) to their compiled upstream kind, held in
// testdata/upstream.golden.json (go test ./internal/snapshot -update).
func TestUpstreamGolden(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "upstream.in.json"))
	if err != nil {
		t.Fatal(err)
	}
	var in []struct {
		Type, Protocol, ProtocolVersion string
	}
	if err := json.Unmarshal(raw, &in); err != nil {
		t.Fatal(err)
	}
	type row struct {
		Type            string            `json:"type"`
		Protocol        string            `json:"protocol"`
		ProtocolVersion string            `json:"protocolVersion"`
		Upstream        snapshot.Upstream `json:"upstream"`
	}
	out := make([]row, 0, len(in))
	seen := map[snapshot.Upstream]bool{}
	for _, c := range in {
		u := snapshot.UpstreamOf(c.Type, c.Protocol, c.ProtocolVersion)
		seen[u] = true
		out = append(out, row{c.Type, c.Protocol, c.ProtocolVersion, u})
	}
	golden(t, "upstream", out)
	for u := snapshot.UpstreamUnsupported; u <= snapshot.UpstreamLambda; u++ {
		if !seen[u] {
			t.Errorf("no case of testdata/upstream.in.json compiles to %s", u)
		}
	}
}
