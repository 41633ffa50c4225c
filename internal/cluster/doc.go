// Package cluster is what the nodes of one installation share besides the
// store (docs/etcd.md, "Roles", "Health across nodes", "Elections"): who the
// nodes are and what roles they run, the target health each health-checking
// node publishes, and the elections that keep once-only work (canary steps,
// the drained-target sweeper) on one node at a time.
//
// Two implementations stand behind the Cluster interface:
//
//   - Local: one node on the embedded store. It is always the leader of
//     every election, and target health is its own checker's (no
//     publishing, nothing combined).
//   - Etcd: a node among several sharing an etcd cluster. It holds an etcd
//     session, a lease (TTL Config.TTL, kept alive by the client), and puts
//     under that lease its registration (<prefix>nodes/<name>), its target
//     statuses (<prefix>health/<name>/<tg>/<target>/<port>) and its
//     candidacies (<prefix>elections/<election>/…, etcd's
//     concurrency.Election). A node that dies stops renewing its lease: after
//     the TTL etcd deletes every key attached to it, so its statuses vanish
//     from the combined view and an election it held moves to another
//     candidate. A node that closes revokes its lease, which does the same at
//     once; closing only tidies, so it is bounded (tidyTimeout per call)
//     and skipped while etcd is away, the keys then expiring with the
//     lease. Its elections use etcd's election recipe with our own
//     campaign (campaign), whose withdrawal on cancel is bounded too.
//
// Health keys are not store.Store keys: they live beside <prefix>kv/, never
// move Trellis's revision and never trigger a snapshot compile. They are
// written only on transitions, batched (Config.FlushInterval), in
// transactions of at most maxTxnOps operations, so a node with 100,000
// targets writes what changed, not 100,000 keys a second; and they are read
// by a watch into memory (View), never by a request.
//
// cluster imports the etcd client (and its concurrency package) and model
// for the ListTargets status names; it must not import the store, the
// service, the API, the snapshot or the data plane (internal/archtest): app
// gives it a client and functions, and takes its statuses to the service and
// the data plane.
package cluster
