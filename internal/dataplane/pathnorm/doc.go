// Package pathnorm turns the path of a request-target, as a client sent it,
// into the one form that the data plane both judges and forwards, or refuses
// it. It owns that rule and nothing else: it is pure (no I/O, no state), and
// it must not import any Trellis package (only the standard library), so that
// the ingress, the proxy, the auth chain and tests can all call it.
//
// # Why
//
// A rule or an auth policy that reads one spelling of a path while the target
// reads another can be bypassed: with a policy denying <service>/admin/* and
// a rule sending prefix /admin to a fixed 404, "//admin/x", "/./admin/x",
// "/public/../admin/x", "/%2e%2e/admin/x", "/%2fadmin/x", "/admin;x=1/x",
// "/admin\x" and "/public%00/../admin/x" all reached the target, because each
// is /admin/x to some reader (issue 10, finding 2). The invariant this package
// gives the ingress is: the path a rule or a policy judges is exactly the path
// the target receives, and no mainstream reading of what the target receives
// yields a different path. The readers considered are RFC 3986 (§5.2.4
// dot-segment removal, §6.2.2 normalisation), nginx (merge_slashes, one
// percent-decoding, dot segments after decoding), Tomcat and Spring (";"
// path parameters stripped before decoding, then decoding, then dot
// segments), the WHATWG URL parser ("\" as "/", "%2e" as "."), Go's net/url
// and path.Clean, and Envoy's normalize_path and merge_slashes.
//
// # The forms
//
// Normalize takes the escaped path (no query) and returns the normal path,
// which is forwarded as the request-target's path; Target does the same for
// a whole request-target and keeps the query byte for byte. Rules and
// policies judge Decode(normal): the normal path with its remaining
// percent-encodings decoded once. A normal path holds raw only the
// unreserved characters, the sub-delims other than ";", ":", "@" and "/" as
// separator, and otherwise "%XX" with upper-case hex; since no "%XX" in it
// encodes "/", "\", ".", an unreserved character or a control, decoding
// cannot move a segment boundary or make a dot segment. So every reader that
// decodes once (nginx, Tomcat, Spring, net/http, RFC 3986 readers)
// sees exactly the judged path, and a reader that does not decode sees a
// spelling of it whose segments are the same. Decoding is not injective
// ("!" and "%21" both decode to "!"): both spellings are judged alike, which
// only ever errs towards applying the rule; a "%" in a rule or policy value
// is a literal percent sign.
//
// # The rules, in the order they apply to each byte and segment
//
//  1. "*" stays "*" (OPTIONS *, RFC 9112 §3.2.4); "" becomes "/" (an empty
//     absolute-form path, RFC 9112 §3.2.2); anything else not starting with
//     "/" is refused.
//  2. Refused wherever they are, raw or percent-encoded, even inside a
//     segment that a later ".." removes:
//     - C0 controls, DEL, and C1 controls (U+0080..U+009F): NUL ends C
//     strings ("/public%00/../admin/x" is "/public" to one reader and
//     "/admin/x" to another), CR/LF split headers and log lines;
//     - "%2F": decoded into a separator by nginx and most frameworks, kept
//     inside the segment by others (Envoy's default, RFC 3986), so which
//     segments the path has is ambiguous; nothing safe can be forwarded;
//     - "\" and "%5C": "/" to the WHATWG parser (special schemes), IIS and
//     Tomcat with ALLOW_BACKSLASH, an ordinary byte to nginx and Go;
//     - raw ";": Tomcat and Spring cut ";params" off every segment before
//     matching ("/admin;x=1/x" is "/admin/x" to them, "/..;/" is ".."),
//     nginx and RFC 3986 keep them. Percent-encoding it instead ("%3B")
//     would also agree for every reader (Tomcat decodes "%3B" into the
//     segment name, after stripping parameters), but it silently changes
//     what a client that uses matrix parameters or ";jsessionid" meant
//     (RFC 3986 §2.2: a reserved character and its encoding differ); a 400
//     says so, and ";" is rare in real paths. An encoded "%3B" is kept: no
//     reader strips parameters after decoding;
//     - raw "#": nginx ends the path there, others keep it; clients never
//     send fragments. "%23" is kept (nginx decodes it to a literal "#");
//     - raw "?": Normalize is given the path alone; "%3F" is kept (nginx
//     decodes it to a literal "?", not to a query);
//     - "%" not followed by two hex digits, e.g. IIS's "%u002e" or "%2": RFC
//     3986 §2.1 has no such thing and readers disagree (nginx refuses,
//     WHATWG keeps, IIS decodes "%u");
//     - a decoded path that is not UTF-8, e.g. the overlong "%C0%AE" that
//     lenient decoders read as ".": rule and policy values are UTF-8
//     strings, and readers that replace, refuse or "repair" invalid bytes
//     disagree. The cost is that legacy Latin-1 paths ("%E9") are refused.
//  3. Percent-encoded unreserved characters (ALPHA, DIGIT, "-", ".", "_",
//     "~") are decoded (RFC 3986 §6.2.2.2 says they are equivalent), so
//     "%2e" is "." before segments are compared and "%41" is "A". This is
//     done once: "%252e" stays "%252e" (judged "%2e", a literal), since a
//     reader that decodes twice is not one of the readers above.
//  4. Other percent-encodings are kept, with upper-case hex (§6.2.2.1).
//  5. Raw bytes that RFC 3986 does not allow in a path but that no reader
//     treats as structure (space, `"<>[]^{|}` and the backquote, and bytes
//     above 0x7F, which must then form UTF-8) are percent-encoded, so the
//     forwarded target is valid RFC 3986 (the WHATWG parser does the same).
//  6. Repeated slashes are merged (nginx merge_slashes, Envoy merge_slashes,
//     path.Clean, Tomcat): an empty segment is no segment. Merging comes
//     before dot segments, so "/a//../b" is "/b", as nginx and path.Clean
//     read it.
//  7. "." segments are removed and ".." removes itself and the segment
//     before it (RFC 3986 §5.2.4), with a trailing slash where a dot
//     segment ended the path ("/a/." and "/a/b/.." are "/a/"). A ".." at
//     the root is refused rather than dropped as RFC 3986 and WHATWG do:
//     nginx and Tomcat refuse it too, and only a probe sends it.
//  8. A trailing slash is kept ("/a/" and "/a" are different paths to most
//     targets); case is kept (Lattice's case-insensitive matching is the
//     rule's business).
//
// The result is a fixed point: Normalize(Normalize(p)) == Normalize(p).
//
// # Not defended
//
// Readers outside the list above may still alias paths: file systems that
// fold case or trim trailing dots and spaces ("/admin." or "/admin%20" on
// Windows), 8.3 short names, NFKC folding of "／" (U+FF0F), or decoding
// twice. Against those, write policies that allow what is known rather than
// deny what is feared.
//
// # Cost
//
// A path that is already normal is returned as it is, with no allocation,
// in one pass over its bytes; otherwise one allocation holds the result
// (for Target, the forwarded target and the decoded path together).
package pathnorm
