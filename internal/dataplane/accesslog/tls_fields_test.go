package accesslog

import (
	"net/netip"
	"testing"
	"time"
)

// The TLS fields and a connection's record (TLS passthrough: no HTTP, so
// no status) encode as Lattice writes them; SNI bytes are escaped like any
// other value.
func TestAppendJSONTLSFields(t *testing.T) {
	tests := []struct {
		name string
		e    Entry
		want map[string]any
	}{
		{"passthrough connection", Entry{
			Start: time.Date(2026, 12, 6, 4, 0, 0, 0, time.UTC), ListenerType: "TLS_PASSTHROUGH", Protocol: "TCP",
			Source: netip.MustParseAddrPort("10.0.0.7:40000"), Target: netip.MustParseAddrPort("10.1.0.5:8443"),
			Status: -1, GRPCStatus: -1, RequestToTarget: -1, ResponseFromTarget: -1,
			ServerNameIndication: "orders.example.com", BytesReceived: 517, BytesSent: 4096,
			FailureReason: ConnectionDurationExceeded,
		}, map[string]any{
			"responseCode": "-", "grpcResponseCode": "-", "protocol": "TCP", "listenerType": "TLS_PASSTHROUGH",
			"serverNameIndication": "orders.example.com", "sslCipher": "-", "tlsVersion": "-",
			"bytesReceived": float64(517), "bytesSent": float64(4096), "failureReason": "ConnectionDurationExceeded",
		}},
		{"terminated TLS", Entry{
			Status: 200, ServerNameIndication: "svc.example.com", SSLCipher: "TLS_AES_128_GCM_SHA256", TLSVersion: "TLSv1.3",
		}, map[string]any{
			"responseCode": float64(200), "serverNameIndication": "svc.example.com",
			"sslCipher": "TLS_AES_128_GCM_SHA256", "tlsVersion": "TLSv1.3",
		}},
		{"hostile SNI is escaped", Entry{ServerNameIndication: "a\"b\n"}, map[string]any{"serverNameIndication": "a\"b\n"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := decode(t, AppendJSON(nil, &tc.e))
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("%s = %#v, want %#v", k, got[k], v)
				}
			}
		})
	}
}
