package service

import (
	"strconv"

	"github.com/trellis-net/trellis/internal/arn"
	"github.com/trellis-net/trellis/internal/model"
)

// Cross-account references. No account may touch or use another's
// resources unless a share says so, and Trellis has no shares yet (RAM
// comes with issue 16):
//
//   - Lattice resources named by ID or ARN (networks, services, listeners,
//     rules, target groups, associations, subscriptions, policies, tags) are
//     resolved by loadOwned / owned and tagged: another account's resource
//     is ResourceNotFoundException, as if it did not exist. That covers
//     associating another account's service or network, forward actions to
//     its target groups, registering targets in them, its policies, its
//     tags and reading anything of it by ARN.
//   - VPCs: see vpc.go (ensureVPC, loadVPC).
//   - ARNs of resources outside Lattice that Trellis will write to, invoke or
//     serve (an access log destination, a Lambda function or load balancer
//     target, a certificate) must be in the caller's account, as AWS requires
//     for Lambda targets and certificates and allows for log destinations
//     only with a resource policy, which Trellis does not have:
//     AccessDeniedException otherwise. S3 bucket ARNs carry no account;
//     the data plane writes each account's logs under its own
//     AWSLogs/<account>/ prefix, as S3 delivery does.
//
// The installation's administrator may act in any account, here as for
// identities and VPCs.

// TargetFailureAccessDenied is the failure code of a target the caller may
// not register (a Lambda function or load balancer of another account).
const TargetFailureAccessDenied = "AccessDeniedException"

// mayReferTo reports whether c may refer to a resource of account.
func (s *Service) mayReferTo(c model.Caller, account string) bool {
	return account == c.Account || s.IsAdmin(c)
}

// checkForeignARN returns AccessDeniedException when the ARN in field
// (already validated) names a resource of another account than the
// caller's. An ARN without an account (an S3 bucket) passes.
func (s *Service) checkForeignARN(c model.Caller, field, what, value string) error {
	a, err := arn.Parse(value)
	if err != nil || a.Account == "" || s.mayReferTo(c, a.Account) {
		return nil
	}
	return model.AccessDenied("%s is not authorized to use %s %s (%s): it belongs to account %s, and Trellis has no cross-account sharing",
		who(c), what, value, field, a.Account)
}

// checkTargetAccount refuses a LAMBDA or ALB target of another account:
// the target group would invoke its function or forward to its load
// balancer (Lattice: a Lambda target is in the target group's account).
func (s *Service) checkTargetAccount(c model.Caller, tg *model.TargetGroup, i int, id string) error {
	var what string
	switch tg.Type {
	case model.TargetGroupTypeLambda:
		what = "Lambda function"
	case model.TargetGroupTypeALB:
		what = "load balancer"
	default:
		return nil
	}
	return s.checkForeignARN(c, "targets["+strconv.Itoa(i)+"].id", what, id)
}
