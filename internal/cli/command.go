package cli

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/vpclattice"
	"github.com/aws/aws-sdk-go-v2/service/vpclattice/types"
	"github.com/aws/smithy-go"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// AddCommands attaches the global persistent flags (--endpoint, --region,
// --output, --data-dir) and every "<noun> <verb>" command to root.
func AddCommands(root *cobra.Command) {
	addGlobalFlags(root)
	root.AddCommand(
		serviceNetworkCmd(),
		serviceCmd(),
		listenerCmd(),
		ruleCmd(),
		targetGroupCmd(),
		snsaCmd(),
		snvaCmd(),
		authPolicyCmd(),
		resourcePolicyCmd(),
		accessLogSubscriptionCmd(),
		tagCmd(),
		vpcCmd(),
		securityGroupCmd(),
		instanceCmd(),
		loadBalancerCmd(),
		functionCmd(),
		authCmd(),
		accountCmd(),
		principalCmd(),
		accessKeyCmd(),
		stsCmd(),
		dnsCmd(),
		caCmd(),
		canaryCmd(),
		shareCmd(),
		resourceGatewayCmd(),
		resourceConfigurationCmd(),
		snraCmd(),
		domainVerificationCmd(),
		trafficCmd(),
		logsCmd(),
		consoleCmd(),
	)
}

// ---------------------------------------------------------------------------
// Errors

// usageError is a problem with the command line, detected before any request.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// cliError is what every command of this package returns on failure. Its
// message is meant to be printed after "Error: " (cmd/trellis prints
// "Error: <err>" and exits 1); it may span several lines, e.g. the fieldList
// of a ValidationException. Unwrap gives the underlying error (a
// smithy.APIError for server errors).
type cliError struct {
	msg string
	err error
}

func (e *cliError) Error() string { return e.msg }
func (e *cliError) Unwrap() error { return e.err }

// report turns err into a *cliError with a user-facing message:
//
//	<ErrorCode>: <message>            for API errors, then "  - name: message"
//	                                  for each ValidationException field,
//	                                  unless the only field just repeats
//	                                  the message
//	<problem>\nRun '<cmd> --help' ... for usage errors
//	cannot reach the Trellis API: ... for transport errors
func report(cmd *cobra.Command, err error) error {
	if err == nil {
		return nil
	}
	var ce *cliError
	if errors.As(err, &ce) {
		return err
	}
	var b strings.Builder
	var ue *usageError
	var ae smithy.APIError
	var urlErr *url.Error
	switch {
	case errors.As(err, &ue):
		fmt.Fprintf(&b, "%s\nRun '%s --help' for usage.", ue.msg, cmd.CommandPath())
	case errors.As(err, &ae):
		fmt.Fprintf(&b, "%s: %s", ae.ErrorCode(), ae.ErrorMessage())
		var ve *types.ValidationException
		if errors.As(err, &ve) && !fieldListRepeatsMessage(ve.FieldList, ae.ErrorMessage()) {
			for _, f := range ve.FieldList {
				fmt.Fprintf(&b, "\n  - %s: %s", deref(f.Name), deref(f.Message))
			}
		}
	case errors.As(err, &urlErr):
		fmt.Fprintf(&b, "cannot reach the Trellis API: %v\nIs 'trellis serve' running at %s? (see --endpoint, %s)",
			urlErr, flagString(cmd, flagEndpoint, DefaultEndpoint), envEndpoint)
	default:
		b.WriteString(err.Error())
	}
	return &cliError{msg: b.String(), err: err}
}

// fieldListRepeatsMessage reports whether a ValidationException's field list
// adds nothing to its message: a single field whose message is the message.
func fieldListRepeatsMessage(fields []types.ValidationExceptionField, msg string) bool {
	return len(fields) == 1 && deref(fields[0].Message) == msg
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// ---------------------------------------------------------------------------
// Nouns and verbs

// nounCmd groups verbs under a noun. Running the noun alone prints its help;
// an unknown verb is an error.
func nounCmd(use string, aliases []string, short string, verbs ...*cobra.Command) *cobra.Command {
	c := &cobra.Command{
		Use:           use + " <verb>",
		Aliases:       aliases,
		Short:         short,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmd.Help()
			}
			names := make([]string, 0, len(cmd.Commands()))
			for _, v := range cmd.Commands() {
				if v.IsAvailableCommand() {
					names = append(names, v.Name())
				}
			}
			return report(cmd, usageErrorf("unknown verb %q for %q (valid: %s)", args[0], cmd.CommandPath(), strings.Join(names, ", ")))
		},
	}
	c.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return report(cmd, &usageError{msg: err.Error()})
	})
	c.AddCommand(verbs...)
	return c
}

// required names a flag that must be set, either directly or through
// --input-json, before a request is sent.
type required[I any] struct {
	flag  string
	isSet func(in *I) bool
}

func req[I any](flag string, isSet func(in *I) bool) required[I] {
	return required[I]{flag: flag, isSet: isSet}
}

// verbSpec describes one operation. I is the SDK input type.
type verbSpec[I any] struct {
	use     string
	aliases []string
	short   string
	long    string
	example string
	// idFlag is the flag set by the optional positional argument ("" when the
	// verb takes no positional argument).
	idFlag string
	// flags defines the verb's own flags.
	flags func(fs *pflag.FlagSet)
	// apply copies the flags that were set onto the input, which may already
	// hold the decoded --input-json.
	apply func(cmd *cobra.Command, in *I) error
	// required lists the members that must be set after apply.
	required []required[I]
	// call sends the request; all is --all for list verbs.
	call func(ctx context.Context, c *vpclattice.Client, in *I, all bool) (any, error)
	// notice, when set, returns a message for stderr after a successful
	// call (e.g. the DNS record to publish); "" for none.
	notice func(res any) string
	// list marks a list verb (adds --max-results, --next-token and --all) and
	// gives its table columns.
	list []column
}

const (
	flagInputJSON  = "input-json"
	flagMaxResults = "max-results"
	flagNextToken  = "next-token"
	flagAll        = "all"
)

func verb[I any](s verbSpec[I]) *cobra.Command {
	use := s.use
	if s.idFlag != "" {
		use += " [" + strings.ToUpper(strings.ReplaceAll(s.idFlag, "-", "_")) + "]"
	}
	c := &cobra.Command{
		Use:           use,
		Aliases:       s.aliases,
		Short:         s.short,
		Long:          s.long,
		Example:       s.example,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          cobra.ArbitraryArgs,
	}
	fs := c.Flags()
	if s.flags != nil {
		s.flags(fs)
	}
	for _, r := range s.required {
		if f := fs.Lookup(r.flag); f != nil {
			f.Usage += " (required)"
		}
	}
	fs.String(flagInputJSON, "", "request as Lattice wire JSON, or file://PATH (file://- for stdin); flags override it")
	if s.list != nil {
		fs.Int32(flagMaxResults, 0, "maximum number of items per page")
		fs.String(flagNextToken, "", "token of the page to fetch")
		fs.Bool(flagAll, false, "follow nextToken and print every page's items")
	}
	c.RunE = func(cmd *cobra.Command, args []string) error {
		return report(cmd, runVerb(cmd, args, &s))
	}
	return c
}

func runVerb[I any](cmd *cobra.Command, args []string, s *verbSpec[I]) error {
	format, err := outputFormat(cmd)
	if err != nil {
		return err
	}
	fs := cmd.Flags()
	switch {
	case len(args) > 1 || (len(args) == 1 && s.idFlag == ""):
		return usageErrorf("unexpected arguments: %s", strings.Join(args, " "))
	case len(args) == 1:
		if fs.Changed(s.idFlag) {
			return usageErrorf("give the %s either as an argument or with --%s, not both", s.idFlag, s.idFlag)
		}
		if err := fs.Set(s.idFlag, args[0]); err != nil {
			return usageErrorf("%v", err)
		}
	}

	in := new(I)
	if fs.Changed(flagInputJSON) {
		v, _ := fs.GetString(flagInputJSON)
		data, err := readInputJSON(v, cmd.InOrStdin())
		if err != nil {
			return usageErrorf("--input-json: %v", err)
		}
		if err := decodeWireJSON(data, in); err != nil {
			return usageErrorf("--input-json: %v", err)
		}
	}
	all := false
	if s.list != nil {
		if fs.Changed(flagMaxResults) {
			n, _ := fs.GetInt32(flagMaxResults)
			setField(in, "MaxResults", ptr(n))
		}
		if fs.Changed(flagNextToken) {
			t, _ := fs.GetString(flagNextToken)
			setField(in, "NextToken", ptr(t))
		}
		all, _ = fs.GetBool(flagAll)
	}
	if s.apply != nil {
		if err := s.apply(cmd, in); err != nil {
			var ue *usageError
			if !errors.As(err, &ue) {
				err = &usageError{msg: err.Error()}
			}
			return err
		}
	}
	var missing []string
	for _, r := range s.required {
		if !r.isSet(in) {
			missing = append(missing, "--"+r.flag)
		}
	}
	if len(missing) > 0 {
		return usageErrorf("required flag(s) %s not set (or give them in --input-json)", strings.Join(missing, ", "))
	}

	client, err := newClient(cmd)
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	// Names become IDs here, after every local check and before the request.
	if err := resolveNames(ctx, client, fs, in); err != nil {
		return err
	}
	res, err := s.call(ctx, client, in, all)
	if err != nil {
		return err
	}
	if s.notice != nil {
		if msg := s.notice(res); msg != "" {
			fmt.Fprint(cmd.ErrOrStderr(), msg)
		}
	}
	wire := toWire(res)
	out := cmd.OutOrStdout()
	if format == outputTable {
		if err := writeTable(out, wire, s.list); err != nil {
			return err
		}
		if m, ok := wire.(map[string]any); ok && s.list != nil {
			if tok, ok := m["nextToken"].(string); ok && tok != "" {
				fmt.Fprintf(cmd.ErrOrStderr(), "More results: --next-token %s (or use --all)\n", tok)
			}
		}
		return nil
	}
	return writeJSON(out, wire)
}

// setField sets the named field of the struct *in to v, when it exists.
func setField(in any, name string, v any) {
	f := reflect.ValueOf(in).Elem().FieldByName(name)
	if f.IsValid() && f.CanSet() {
		f.Set(reflect.ValueOf(v))
	}
}

// pager is implemented by the SDK's list paginators.
type pager[O any] interface {
	HasMorePages() bool
	NextPage(ctx context.Context, optFns ...func(*vpclattice.Options)) (*O, error)
}

// collect follows a paginator to the end and returns every page's items.
func collect[O any, T any](ctx context.Context, p pager[O], items func(*O) []T) ([]T, error) {
	all := []T{}
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		all = append(all, items(page)...)
	}
	return all, nil
}

// ---------------------------------------------------------------------------
// Flag helpers: copy a flag onto an input member only when it was given.

func setString(cmd *cobra.Command, name string, dst **string) {
	if cmd.Flags().Changed(name) {
		v, _ := cmd.Flags().GetString(name)
		*dst = &v
	}
}

func setInt32(cmd *cobra.Command, name string, dst **int32) {
	if cmd.Flags().Changed(name) {
		v, _ := cmd.Flags().GetInt32(name)
		*dst = &v
	}
}

func setBool(cmd *cobra.Command, name string, dst **bool) {
	if cmd.Flags().Changed(name) {
		v, _ := cmd.Flags().GetBool(name)
		*dst = &v
	}
}

// setEnum sets an enum member; values are upper-cased (all Lattice enum
// values are upper case).
func setEnum[T ~string](cmd *cobra.Command, name string, dst *T) {
	if cmd.Flags().Changed(name) {
		v, _ := cmd.Flags().GetString(name)
		*dst = T(strings.ToUpper(v))
	}
}

func setStrings(cmd *cobra.Command, name string, dst *[]string) {
	if cmd.Flags().Changed(name) {
		v, _ := cmd.Flags().GetStringArray(name)
		*dst = v
	}
}

func stringArray(cmd *cobra.Command, name string) []string {
	v, _ := cmd.Flags().GetStringArray(name)
	return v
}

func enumHelp(what string, values []string) string {
	return what + " (" + strings.Join(values, "|") + ")"
}

func enumValues[T ~string](values []T) []string {
	out := make([]string, len(values))
	for i, v := range values {
		out[i] = string(v)
	}
	return out
}

const (
	flagTag         = "tag"
	flagClientToken = "client-token"
)

func addTagFlags(fs *pflag.FlagSet) {
	fs.StringArray(flagTag, nil, "tag KEY=VALUE (repeatable)")
	fs.String(flagClientToken, "", "idempotency token (generated when omitted)")
}

func applyTags(cmd *cobra.Command, tags *map[string]string, clientToken **string) error {
	if cmd.Flags().Changed(flagTag) {
		m, err := parseTags(stringArray(cmd, flagTag), *tags)
		if err != nil {
			return err
		}
		*tags = m
	}
	if clientToken != nil {
		setString(cmd, flagClientToken, clientToken)
	}
	return nil
}

func isSetStr(p *string) bool { return p != nil && *p != "" }
