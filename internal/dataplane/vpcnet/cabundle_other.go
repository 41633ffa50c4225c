//go:build !linux

package vpcnet

// writeCABundle does nothing: network namespaces (and `ip netns exec`) are
// Linux only.
func writeCABundle(etc, netnsEtc, name string, caPEM []byte) error { return nil }
