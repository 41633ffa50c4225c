package cli

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

const (
	flagResource    = "resource"
	flagResourceArn = "resource-arn"
	flagPolicy      = "policy"
	flagPolicyFile  = "policy-file"
)

func addPolicyFlags(fs *pflag.FlagSet) {
	fs.String(flagPolicy, "", "policy document (JSON)")
	fs.String(flagPolicyFile, "", "read the policy document from this file (- for stdin)")
}

// applyPolicy reads --policy or --policy-file into dst.
func applyPolicy(cmd *cobra.Command, dst **string) error {
	fs := cmd.Flags()
	switch {
	case fs.Changed(flagPolicy) && fs.Changed(flagPolicyFile):
		return usageErrorf("--%s and --%s are mutually exclusive", flagPolicy, flagPolicyFile)
	case fs.Changed(flagPolicy):
		setString(cmd, flagPolicy, dst)
	case fs.Changed(flagPolicyFile):
		name, _ := fs.GetString(flagPolicyFile)
		p, err := readPolicyFile(name, cmd.InOrStdin())
		if err != nil {
			return usageErrorf("--%s: %v", flagPolicyFile, err)
		}
		*dst = &p
	}
	return nil
}

func authPolicyCmd() *cobra.Command {
	type (
		putIn    = vpclattice.PutAuthPolicyInput
		getIn    = vpclattice.GetAuthPolicyInput
		deleteIn = vpclattice.DeleteAuthPolicyInput
	)
	idFlag := func(fs *pflag.FlagSet) { fs.String(flagResource, "", "service or service network name, ID or ARN") }
	return nounCmd("auth-policy", []string{"auth-policies"}, "Manage the auth policy of a service or service network",
		verb(verbSpec[putIn]{
			use:   "put",
			short: "Create or replace an auth policy (PutAuthPolicy)",
			example: "  trellis auth-policy put --resource orders --policy-file policy.json\n" +
				"  cat policy.json | trellis auth-policy put --resource prod --policy-file -",
			idFlag: flagResource,
			flags: func(fs *pflag.FlagSet) {
				idFlag(fs)
				addPolicyFlags(fs)
			},
			apply: func(cmd *cobra.Command, in *putIn) error {
				setString(cmd, flagResource, &in.ResourceIdentifier)
				return applyPolicy(cmd, &in.Policy)
			},
			required: []required[putIn]{
				req(flagResource, func(in *putIn) bool { return isSetStr(in.ResourceIdentifier) }),
				req(flagPolicy+" or --"+flagPolicyFile, func(in *putIn) bool { return in.Policy != nil }),
			},
			call: func(ctx context.Context, c *vpclattice.Client, in *putIn, _ bool) (any, error) {
				return c.PutAuthPolicy(ctx, in)
			},
		}),
		verb(verbSpec[getIn]{
			use:   "get",
			short: "Show an auth policy (GetAuthPolicy)",
			long: "Show the auth policy of a service or service network and its state (Active when the auth type is AWS_IAM).\n" +
				"A service or network without an auth policy shows only its state; one that does not exist is an error.",
			idFlag: flagResource,
			flags:  idFlag,
			apply: func(cmd *cobra.Command, in *getIn) error {
				setString(cmd, flagResource, &in.ResourceIdentifier)
				return nil
			},
			required: []required[getIn]{req(flagResource, func(in *getIn) bool { return isSetStr(in.ResourceIdentifier) })},
			call: func(ctx context.Context, c *vpclattice.Client, in *getIn, _ bool) (any, error) {
				return c.GetAuthPolicy(ctx, in)
			},
		}),
		verb(verbSpec[deleteIn]{
			use:    "delete",
			short:  "Delete an auth policy (DeleteAuthPolicy)",
			idFlag: flagResource,
			flags:  idFlag,
			apply: func(cmd *cobra.Command, in *deleteIn) error {
				setString(cmd, flagResource, &in.ResourceIdentifier)
				return nil
			},
			required: []required[deleteIn]{req(flagResource, func(in *deleteIn) bool { return isSetStr(in.ResourceIdentifier) })},
			call: func(ctx context.Context, c *vpclattice.Client, in *deleteIn, _ bool) (any, error) {
				return c.DeleteAuthPolicy(ctx, in)
			},
		}),
	)
}

func resourcePolicyCmd() *cobra.Command {
	type (
		putIn    = vpclattice.PutResourcePolicyInput
		getIn    = vpclattice.GetResourcePolicyInput
		deleteIn = vpclattice.DeleteResourcePolicyInput
	)
	idFlag := func(fs *pflag.FlagSet) { fs.String(flagResourceArn, "", "ARN of the service or service network") }
	return nounCmd("resource-policy", []string{"resource-policies"}, "Manage the resource-based (sharing) policy of a service or service network",
		verb(verbSpec[putIn]{
			use:     "put",
			short:   "Create or replace a resource policy (PutResourcePolicy)",
			example: "  trellis resource-policy put --resource-arn arn:aws:vpc-lattice:us-east-1:111122223333:service/svc-0123 --policy-file policy.json",
			idFlag:  flagResourceArn,
			flags: func(fs *pflag.FlagSet) {
				idFlag(fs)
				addPolicyFlags(fs)
			},
			apply: func(cmd *cobra.Command, in *putIn) error {
				setString(cmd, flagResourceArn, &in.ResourceArn)
				return applyPolicy(cmd, &in.Policy)
			},
			required: []required[putIn]{
				req(flagResourceArn, func(in *putIn) bool { return isSetStr(in.ResourceArn) }),
				req(flagPolicy+" or --"+flagPolicyFile, func(in *putIn) bool { return in.Policy != nil }),
			},
			call: func(ctx context.Context, c *vpclattice.Client, in *putIn, _ bool) (any, error) {
				return c.PutResourcePolicy(ctx, in)
			},
		}),
		verb(verbSpec[getIn]{
			use:   "get",
			short: "Show a resource policy (GetResourcePolicy)",
			long: "Show the resource policy of a service or service network.\n" +
				"One without a resource policy shows an empty object; one that does not exist is an error.",
			idFlag: flagResourceArn,
			flags:  idFlag,
			apply: func(cmd *cobra.Command, in *getIn) error {
				setString(cmd, flagResourceArn, &in.ResourceArn)
				return nil
			},
			required: []required[getIn]{req(flagResourceArn, func(in *getIn) bool { return isSetStr(in.ResourceArn) })},
			call: func(ctx context.Context, c *vpclattice.Client, in *getIn, _ bool) (any, error) {
				return c.GetResourcePolicy(ctx, in)
			},
		}),
		verb(verbSpec[deleteIn]{
			use:    "delete",
			short:  "Delete a resource policy (DeleteResourcePolicy)",
			idFlag: flagResourceArn,
			flags:  idFlag,
			apply: func(cmd *cobra.Command, in *deleteIn) error {
				setString(cmd, flagResourceArn, &in.ResourceArn)
				return nil
			},
			required: []required[deleteIn]{req(flagResourceArn, func(in *deleteIn) bool { return isSetStr(in.ResourceArn) })},
			call: func(ctx context.Context, c *vpclattice.Client, in *deleteIn, _ bool) (any, error) {
				return c.DeleteResourcePolicy(ctx, in)
			},
		}),
	)
}
