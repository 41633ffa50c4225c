package accesslog

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"time"

	"github.com/trellis-net/trellis/internal/arn"
	"github.com/trellis-net/trellis/internal/snapshot"
)

// A destination ARN becomes a place under Config.Dir:
//
//	arn:aws:logs:REGION:ACCOUNT:log-group:GROUP[:*]
//	    cloudwatch/ACCOUNT/REGION/GROUP/RESOURCE-ID.log
//	arn:aws:firehose:REGION:ACCOUNT:deliverystream/NAME
//	    firehose/ACCOUNT/REGION/NAME.log
//	arn:aws:s3:::BUCKET[/PREFIX...]
//	    s3/BUCKET/PREFIX.../AWSLogs/ACCOUNT/VpcLattice/AccessLogs/REGION/YYYY/MM/DD/RESOURCE-ID/
//	      ACCOUNT_VpcLatticeAccessLogs_REGION_RESOURCE-ID_YYYYMMDDTHHmmZ_HASH.json.gz
//
// A CloudWatch log group is a directory and each subscribed resource's
// stream a file in it; a Firehose stream is one file whatever the resource
// (Firehose has no streams within a stream); S3 follows Lattice's object
// key layout, with ACCOUNT the subscription owner's and REGION Trellis's
// own (S3 ARNs name neither), objects of one resource and at most one
// 5-minute window, sealed by a rename from NAME.json.gz.partial (sink.go).
//
// Every part taken from an ARN or a subscription goes through component,
// so whatever a caller managed to store in a destination ARN (slashes,
// "..", NUL) stays one path component under Dir. The files themselves are
// also opened through an os.Root, which refuses to leave Dir even through
// a symbolic link.

// target is where one subscription's records go. Subscriptions whose
// targets have the same key share one sink.
type target struct {
	key   string
	lines bool   // JSON lines in one file (CloudWatch, Firehose); else S3 gzip objects
	path  string // lines: the file, relative to Dir
	// S3: the directory up to and including REGION, relative to Dir, and
	// the sanitized parts of the object names.
	base, account, region, resource string
	kind                            string // the log's name in object names: VpcLatticeAccessLogs, VpcLatticeResourceAccessLogs
}

// resolveTarget finds where the records of sub go; region is the region of
// S3 object keys. The destination ARN is parsed as the API checked it
// (arn.ParseLogDestination); anything else is not delivered.
func resolveTarget(sub *snapshot.LogSubscription, region string) (target, error) {
	d, err := arn.ParseLogDestination(sub.DestinationARN)
	if err != nil {
		return target{}, err
	}
	if sub.ResourceID == "" {
		return target{}, errors.New("subscription without a resource ID")
	}
	switch d.Kind {
	case arn.LogsDestination:
		p := filepath.Join("cloudwatch", component(d.Account), component(d.Region), component(d.Name), component(sub.ResourceID)+".log")
		return target{key: p, lines: true, path: p}, nil
	case arn.FirehoseDestination:
		p := filepath.Join("firehose", component(d.Account), component(d.Region), component(d.Name)+".log")
		return target{key: p, lines: true, path: p}, nil
	}
	// S3.
	if sub.Account == "" {
		return target{}, errors.New("subscription without an account")
	}
	elems := []string{"s3", component(d.Name)}
	for _, p := range strings.Split(d.Prefix, "/") {
		if p != "" {
			elems = append(elems, component(p))
		}
	}
	t := target{account: component(sub.Account), region: component(region), resource: component(sub.ResourceID), kind: "VpcLatticeAccessLogs"}
	folder := "AccessLogs"
	if sub.Resource {
		// A RESOURCE subscription's records (VpcLatticeResourceAccessLogs)
		// go under ResourceAccessLogs, named like the others (reference
		// §7.5: "ResourceAccessLogs analogous").
		folder, t.kind = "ResourceAccessLogs", "VpcLatticeResourceAccessLogs"
	}
	elems = append(elems, "AWSLogs", t.account, "VpcLattice", folder, t.region)
	t.base = filepath.Join(elems...)
	// NUL cannot be in a path, so no lines key equals an S3 key.
	t.key = t.base + "\x00" + t.resource
	return t, nil
}

// s3Window is the length of the time window of one S3 object.
const s3Window = 5 * time.Minute

// objectPath names a new S3 object for the window starting at w (UTC),
// relative to Dir. Its HASH (the 8 hex digits before the extension, as in
// Lattice) is the node's 16-bit hash (NodeHash) then 16 random bits: every
// node seals only its own objects, and two nodes writing to one shared
// directory (an NFS mount synced to S3, say) make names that differ in
// their first half, so one never renames its object over the other's. A
// node's own objects of one window differ in the random half; the writer
// checks that neither the name nor its .partial exists before it takes it.
func (t *target) objectPath(w time.Time, node uint16) string {
	name := fmt.Sprintf("%s_%s_%s_%s_%s_%04x%04x.json.gz",
		t.account, t.kind, t.region, t.resource, w.Format("20060102T1504Z"), node, rand.Uint32()&0xffff)
	return filepath.Join(t.base, w.Format("2006"), w.Format("01"), w.Format("02"), t.resource, name)
}

// component makes s one safe path component: bytes outside
// [A-Za-z0-9._#+=@-] are percent-encoded, and so is a leading '.', so that
// no component is "", ".", ".." or hidden, and none holds a separator. It
// is injective: '%' itself is encoded.
func component(s string) string {
	if s == "" {
		return "%"
	}
	clean := s[0] != '.'
	for i := 0; clean && i < len(s); i++ {
		clean = pathSafe(s[i])
	}
	if clean {
		return s
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if pathSafe(c) && (i > 0 || c != '.') {
			b.WriteByte(c)
		} else {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&0xf])
		}
	}
	return b.String()
}

func pathSafe(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("._#+=@-", c) >= 0
}

// NodeHash is a node's part of its S3 object names: FNV-1a of the node name
// folded to 16 bits. Two distinct names share it with odds of one in
// 65,536; two such nodes are then kept apart only as one node's objects
// are, by the random half and writeS3's existence check.
func NodeHash(node string) uint16 {
	h := uint32(2166136261)
	for i := 0; i < len(node); i++ {
		h ^= uint32(node[i])
		h *= 16777619
	}
	return uint16(h>>16) ^ uint16(h)
}
