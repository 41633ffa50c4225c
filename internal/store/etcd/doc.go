// Package etcd is the store.Store of several nodes: Trellis's keys and
// values kept in an etcd cluster (go.etcd.io/etcd/client/v3), under one key
// prefix (serve --etcd-prefix, default /trellis/). It must not import the
// service, the API, the model or the snapshot (internal/archtest): it knows
// keys and bytes, like the embedded store.
//
// # Layout
//
// Under the prefix P:
//
//	P kv/<key>               a Trellis key and its value, as stored
//	P meta/revision          Trellis's revision, in decimal
//	P changes/<revision>     the keys that revision put or deleted (20
//	                         decimal digits, so that they sort by number)
//
// # Views
//
// View reads the revision counter, and with it etcd's revision at that
// moment (the response header); every Get and every page of a Scan in the
// view then reads at that etcd revision (WithRev), so a view is one snapshot
// however many round trips it takes. Scan pages through the range with
// etcd's limit, from the key after the last one read.
//
// # Serializable updates
//
// Update is optimistic. fn runs on a view as above, its writes buffered (a
// transaction reads its own writes, Scan merges them in key order). Every
// write transaction moves Trellis's revision by one, so it must read and
// bump the counter key; its commit is one etcd Txn that compares the
// counter's ModRevision with the one in fn's snapshot, and puts the
// writes, the counter and the change log entry only if it is unchanged. A
// Txn that succeeds therefore proves that no write transaction committed
// between fn's snapshot and the commit: everything fn read — Gets, Scans
// over whole ranges, keys read as missing — is still what the store holds
// at the commit, and the transaction is as if it ran alone at that point
// (serializable, indeed strictly). This needs no per-key or per-range
// comparison (the scan problem — a key inserted into a range fn scanned —
// cannot arise, since no write at all may come between). The price is that
// write transactions are serial, as on the embedded store; within one
// process a semaphore queues Updates so they never conflict with each
// other, and a conflict with another node runs fn again (the store
// contract allows it). Read-only Updates commit nothing and keep the
// revision.
//
// A Txn whose outcome is unknown (the member answering it failed, the
// connection broke) is sent again unchanged: if the first one committed,
// the second's comparison fails, and its Else branch reads the change log
// entry of the revision it meant to write, which carries a random nonce
// of the attempt: finding its own nonce there, Update knows it committed.
// So a write is committed exactly once, and Update never acknowledges one
// that was not committed. Update returns after etcd answered the Txn, that
// is after a quorum of members persisted it (etcd's raft log is fsynced).
//
// # A cluster out of reach
//
// Every call is bounded: View, Update and Revision wait at most
// Config.CommitTimeout (default 5 s) for a cluster they cannot reach (the
// gRPC client waits for a member to be ready, and would wait forever),
// and then answer an error that wraps store.ErrUnavailable — as do
// etcd's own "no leader" and "request timed out" answers. A request
// refused as it is (too many operations, too large, no space, a
// permission), a compaction and the caller's own ctx ending are not
// ErrUnavailable: retrying would not help, or the caller gave up. A
// commit sent but never answered (the cluster went away meanwhile) is
// retried with its nonce as above until its own CommitTimeout; if the
// outcome is still unknown the error wraps ErrUnavailable and says that
// the write may or may not have been applied: it is not acknowledged.
// Dial makes a Store without contacting the cluster (a node whose etcd
// is away at start serves its local snapshot copy meanwhile); Open is
// Dial and Ping.
//
// # Revision, watch and changes
//
// Trellis's revision is the counter, not etcd's revision: it moves by one
// per write transaction (store.Store's contract), whatever else writes to
// the cluster. Watch is an etcd watch on the counter key: each event's
// value is the new revision; a slow reader sees only the latest. The watch
// starts at the etcd revision current when Watch is called, so no commit
// after that is missed; when the watch breaks (a member dies, the history
// was compacted), it reads the counter again and watches on.
//
// Changes reads the change log at the view's revision. Each write Txn puts
// its revision's entry and deletes the entry changeLogRevisions older, so
// the log is bounded; asking for older revisions is store.ErrCompacted.
//
// etcd keeps the history of every key until it is compacted: run etcd with
// --auto-compaction-retention (e.g. 1h), and with --max-txn-ops and
// --max-request-bytes large enough for Trellis's largest transaction
// (docs/etcd.md). A view older than etcd's compaction fails with etcd's
// "required revision has been compacted"; views are short.
package etcd
