// Package policy parses, compiles and evaluates VPC Lattice auth policies:
// resource-based policies in the AWS IAM policy language that decide whether
// a caller may invoke a service (reference §7.3).
//
// It owns the whole policy language: the JSON grammar (Version, Id,
// Statement as an object or a list; Sid, Effect, Principal/NotPrincipal,
// Action/NotAction, Resource/NotResource, Condition), validation with
// precise errors, compilation, and evaluation against a Request. Parse runs
// once, when a policy is put; an invalid document yields an *Error whose
// Path names the element, e.g.
//
//	Statement[1].Condition: unknown operator "StringEqualz" (did you mean "StringEquals"?)
//
// Evaluate runs on every data-plane request. Everything that can be decided
// at Parse time is: wildcard patterns are classified (exact, prefix,
// suffix, contains, general), numbers, dates, CIDR blocks and booleans are
// parsed, condition keys are resolved to an enum, header names are
// canonicalised. Evaluation itself does not allocate in the common cases;
// values with policy variables are resolved into a stack buffer, and the
// matchers are generic over string and []byte so that the buffer is never
// converted to a string.
//
// Where the policies come from, how the caller was authenticated and what a
// decision leads to (403, access log fields) are not this package's
// business: the data plane fills in a Request and combines the decisions of
// the service-network and service policies. This package must not import
// any other Trellis package; it depends on the standard library only
// (enforced by a test).
//
// # Semantic choices
//
// The IAM documentation leaves some behaviour open; this package decides:
//
//   - Element and operator names are case-sensitive, and unknown members are
//     errors (with a suggestion for near misses). Effect is exactly "Allow"
//     or "Deny". Sids must be unique. Every statement needs a principal
//     element (these are resource-based policies), an action element and a
//     resource element. Empty lists, empty strings and duplicate JSON keys
//     are errors.
//   - Version is optional. Policy variables are interpreted only with
//     "Version": "2012-10-17"; without a Version or with "2008-10-17",
//     "${...}" is literal text, as in IAM.
//   - Principal "*" and {"AWS": "*"} match every caller, anonymous ones
//     included. An account ID or arn:PARTITION:iam::ACCOUNT:root matches
//     every authenticated principal of the account. A role ARN matches the
//     role and its sessions (Request.RoleARN); user and session ARNs match
//     exactly. Wildcards inside principal ARNs are rejected (IAM does the
//     same). Service, Federated and CanonicalUser principals are accepted but
//     match no VPC Lattice caller. Anonymous callers match only "*".
//     NotPrincipal applies exactly when Principal with the same value would
//     not.
//   - Actions match case-insensitively (ASCII) with '*' and '?'; an action
//     must be "*" or "service:action". Resources match case-sensitively with
//     '*' and '?', which may cross '/' and ':' (so "*/public/*" works, as in
//     VPC Lattice); a resource must be "*", start with "*", or be an ARN with
//     six fields.
//   - '?' matches exactly one character (UTF-8 aware).
//   - ArnEquals and ArnLike are the same operator (IAM documents both as
//     wildcard matches): the six ARN fields are matched separately, so a
//     wildcard never crosses a colon except in the last field; a request
//     value that is not an ARN matches nothing. Policy values must be ARNs.
//   - Condition keys: aws:* keys are case-insensitive; vpc-lattice-svcs:*
//     keys are case-sensitive (reference §7.3), and a case variant of a known
//     one is a Parse error rather than a key that silently never matches.
//     Header names in RequestHeader/<name> are case-insensitive; query
//     string keys are case-sensitive; principal tag keys are looked up
//     exactly, then case-insensitively. Other unknown keys are accepted and
//     are always missing. A key may appear once per operator.
//   - Missing keys: a key is missing when the request has no value for it
//     (an empty string counts as missing for the single-valued string
//     fields, Port 0 is missing, an invalid SourceIP is missing). For
//     anonymous callers aws:PrincipalArn, aws:PrincipalAccount,
//     aws:PrincipalOrgID, aws:PrincipalOrgPaths, aws:PrincipalTag/* and
//     aws:username are missing and aws:PrincipalType is "Anonymous".
//     aws:SecureTransport, aws:CurrentTime and aws:EpochTime are always
//     present; a zero Request.CurrentTime means time.Now(), truncated to the
//     second like the request time IAM uses.
//   - Operators: a missing key makes ...IfExists true, positive operators
//     false and negated operators (StringNot..., NumericNotEquals,
//     DateNotEquals, NotIpAddress, ArnNot...) true. A negated operator is
//     the negation of its positive form over all policy values (true when
//     the request value matches none of them). A request value that cannot be
//     converted (a header "abc" under NumericLessThan) matches no policy
//     value. Multi-valued keys (aws:PrincipalOrgPaths, a repeated header or
//     query key) without a set prefix behave like ForAnyValue for positive
//     operators and "no value matches" for negated ones. ForAnyValue is false
//     and ForAllValues true when the key is missing; ForAnyValue:StringNot...
//     means "some value matches no policy value", ForAllValues:StringNot...
//     "no value matches any policy value". Null takes neither IfExists nor a
//     set prefix.
//   - String operators apply to every key: non-string values use their text
//     form (443, true, 10.0.0.1, 2026-01-02T15:04:05Z). Numeric values are
//     decimal numbers; dates are RFC 3339 or whole seconds since the epoch;
//     IP values are addresses or CIDR blocks (host bits ignored; IPv4-mapped
//     IPv6 addresses compare as IPv4); Bool and Null take true/false in any
//     case, as strings or JSON booleans.
//   - Policy variables (${key}, ${key, 'default'}, ${*}, ${?}, ${$}) are
//     interpreted in Resource/NotResource and in String* and Arn* condition
//     values. Any supported single-valued key may be a variable;
//     aws:PrincipalOrgPaths may not, and a header or query key resolves only
//     when it has exactly one value. A substituted value is literal text: a
//     tag value of "*" is not a wildcard. A variable without a value and
//     without a default makes its policy value match nothing (so a negated
//     operator over it is true, and a NotResource over it applies).
//   - Evaluation: an applying Deny statement wins and is reported (the first
//     in document order); otherwise the first applying Allow statement;
//     otherwise NoMatch, which callers treat as an implicit deny.
package policy
