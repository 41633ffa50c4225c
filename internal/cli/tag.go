package cli

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

const flagTagKey = "tag-key"

func tagCmd() *cobra.Command {
	type (
		addIn    = vpclattice.TagResourceInput
		listIn   = vpclattice.ListTagsForResourceInput
		removeIn = vpclattice.UntagResourceInput
	)
	arnFlag := func(fs *pflag.FlagSet) { fs.String(flagResourceArn, "", "ARN of the resource") }
	return nounCmd("tag", []string{"tags"}, "Manage resource tags",
		verb(verbSpec[addIn]{
			use:     "add",
			short:   "Add or overwrite tags on a resource (TagResource)",
			example: "  trellis tag add --resource-arn arn:aws:vpc-lattice:us-east-1:111122223333:service/svc-0123 --tag team=orders --tag env=prod",
			idFlag:  flagResourceArn,
			flags: func(fs *pflag.FlagSet) {
				arnFlag(fs)
				fs.StringArray(flagTag, nil, "tag KEY=VALUE (repeatable)")
			},
			apply: func(cmd *cobra.Command, in *addIn) error {
				setString(cmd, flagResourceArn, &in.ResourceArn)
				return applyTags(cmd, &in.Tags, nil)
			},
			required: []required[addIn]{
				req(flagResourceArn, func(in *addIn) bool { return isSetStr(in.ResourceArn) }),
				req(flagTag, func(in *addIn) bool { return len(in.Tags) > 0 }),
			},
			call: func(ctx context.Context, c *vpclattice.Client, in *addIn, _ bool) (any, error) {
				return c.TagResource(ctx, in)
			},
		}),
		verb(verbSpec[listIn]{
			use:    "list",
			short:  "List the tags of a resource (ListTagsForResource)",
			idFlag: flagResourceArn,
			flags:  arnFlag,
			apply: func(cmd *cobra.Command, in *listIn) error {
				setString(cmd, flagResourceArn, &in.ResourceArn)
				return nil
			},
			required: []required[listIn]{req(flagResourceArn, func(in *listIn) bool { return isSetStr(in.ResourceArn) })},
			call: func(ctx context.Context, c *vpclattice.Client, in *listIn, _ bool) (any, error) {
				return c.ListTagsForResource(ctx, in)
			},
		}),
		verb(verbSpec[removeIn]{
			use:     "remove",
			short:   "Remove tags from a resource (UntagResource)",
			example: "  trellis tag remove --resource-arn ARN --tag-key team --tag-key env",
			idFlag:  flagResourceArn,
			flags: func(fs *pflag.FlagSet) {
				arnFlag(fs)
				fs.StringArray(flagTagKey, nil, "tag key to remove (repeatable)")
			},
			apply: func(cmd *cobra.Command, in *removeIn) error {
				setString(cmd, flagResourceArn, &in.ResourceArn)
				setStrings(cmd, flagTagKey, &in.TagKeys)
				return nil
			},
			required: []required[removeIn]{
				req(flagResourceArn, func(in *removeIn) bool { return isSetStr(in.ResourceArn) }),
				req(flagTagKey, func(in *removeIn) bool { return len(in.TagKeys) > 0 }),
			},
			call: func(ctx context.Context, c *vpclattice.Client, in *removeIn, _ bool) (any, error) {
				return c.UntagResource(ctx, in)
			},
		}),
	)
}
