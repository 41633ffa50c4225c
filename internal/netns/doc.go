// Package netns makes and uses named Linux network namespaces: the
// mechanism behind network-namespace VPCs. It knows nothing of Trellis (the
// archtest forbids it any Trellis import); a caller maps a VPC to a name
// and a Config.
//
// # What it owns
//
// For a namespace NAME, everything it makes is:
//
//   - /run/netns/NAME, a bind mount of the namespace on an empty file, on a
//     /run/netns made a shared mount — exactly what `ip netns add` makes, so
//     `ip netns list|exec|delete` and this package see each other's.
//   - /etc/netns/NAME/resolv.conf, which `ip netns exec` bind-mounts over
//     /etc/resolv.conf.
//   - inside the namespace: lo up; Config.Addresses on lo; for each of
//     Config.CIDRBlocks a route `local BLOCK dev lo table local proto 171
//     scope host` (RouteProtocol marks them as ours); for IPv6 blocks or
//     addresses, net.ipv6.ip_nonlocal_bind=1 in the namespace.
//
// No other link exists in the namespace and no route leaves it: two
// namespaces with the same CIDR never see each other, and reach the world
// only through sockets their owner opens for them (Listen, Dial).
//
// # Addresses
//
// A `local` route makes every address of a block local without configuring
// it: the kernel delivers packets for any of them to lo, IPv4 bind() accepts
// them (inet_bind asks the local table), and a connection to one picks that
// address as its source unless the client binds another (curl --interface
// 10.0.1.7). IPv6 bind() consults configured addresses only, hence the
// nonlocal-bind sysctl, which is per namespace. Addresses (an ingress
// address, a DNS address) are ordinary addresses on lo.
//
// Create is idempotent and converges: on an existing namespace it removes
// the lo addresses (other than 127.0.0.1/8 and ::1/128) and the protocol-171
// local routes the config no longer names, adds the rest with replace
// semantics, and rewrites resolv.conf only if it changed. Sockets and
// processes inside are not disturbed, so a restarted owner adopts its
// namespaces with workloads running.
//
// # Threads
//
// A network namespace is a property of an OS thread; a socket belongs for
// life to the namespace of the thread that created it. Do, Listen,
// ListenPacket and Dial run their work on a fresh goroutine locked to its
// thread, setns into the namespace, and setns back to the namespace the
// process started in before unlocking. If going back fails the goroutine
// ends still locked, so the Go runtime kills the thread instead of reusing
// it in the wrong namespace (or, if it is the main thread, which cannot
// exit, parks it for good: it never runs Go code again, though
// /proc/PID/ns/net then names that namespace); a caller's goroutine never
// changes namespace.
// The runtime starts new threads from a clean template thread when the
// requesting one is locked, so threads spawned meanwhile are not affected.
// The sockets returned are ordinary net.Listener, net.Conn and
// net.PacketConn, usable from any goroutine.
//
// Name resolution runs on other goroutines (and reads the host's
// resolv.conf), so Listen and Dial accept IP literals only and refuse names.
// A namespaced dial costs one goroutine, two setns calls and a thread held
// while the connect completes. BenchmarkDial on a loaded 2-core machine: a
// plain loopback dial about 67 µs, a namespaced one about 100 µs, of which
// Do itself is about 8 µs (the setns pair about 5 µs) and the rest the
// locked goroutine's wake-up after connect. Fine for a dial per request;
// pool connections where that matters.
//
// # Commands
//
// Command runs a program with `ip netns exec NAME`: iproute2 also gives it
// a private mount namespace with /etc/netns/NAME/* bind-mounted over /etc
// and /sys remounted for the namespace, which is what users expect and
// costly to reimplement faithfully. It needs `ip` on PATH (Debian's
// iproute2).
//
// # Links, addresses and routes
//
// They are set through netlink with github.com/vishvananda/netlink, whose
// handle is created inside Do (NewHandle with no namespace arguments opens
// its sockets in the calling thread's namespace). Its own *At helpers are
// not used: they unlock the thread even when returning to the original
// namespace fails. Mounting and namespace switching use golang.org/x/sys/unix
// directly.
//
// # Privileges
//
// Creating, entering and deleting namespaces needs CAP_SYS_ADMIN (unshare,
// setns, mount) and configuring them CAP_NET_ADMIN; writing /run/netns and
// /etc/netns needs root's file permissions: in practice, root. On systems
// other than Linux every function returns ErrNotSupported.
package netns
