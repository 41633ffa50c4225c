package cli

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/spf13/cobra"
)

// Hosted functions (docs/functions.md): declared under /trellis/v1/functions
// (signed like the VPC commands, vpc.go), invoked through the AWS SDK's
// lambda client against the same endpoint, as `aws lambda invoke` would.

var functionColumns = cols("FUNCTION NAME", "functionName", "TIMEOUT", "timeoutSeconds", "MAX CONCURRENCY", "maxConcurrency",
	"ARN", "functionArn")

func functionCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "function", Aliases: []string{"fn"},
		Short: "Hosted functions: commands Trellis runs through the Lambda Runtime API, invoked with the Lambda API"}
	var env []string
	var timeout, concurrency, memory int
	var handler, descr, inputJSON string
	create := &cobra.Command{
		Use:     "create NAME [flags] -- COMMAND [ARG...]",
		Aliases: []string{"put"},
		Short:   "Declare a function, or replace its declaration (its warm workers stop)",
		Long: `Declare a function NAME that runs COMMAND (an absolute path, executed directly,
never through a shell, in its own directory) with the Lambda Runtime API: a
custom-runtime bootstrap or any program built with a Lambda runtime client, such
as aws-lambda-go's lambda.Start. Declaring it again replaces it: the next
invocation starts a worker of the new declaration. The command runs as the user
running 'trellis serve'; only an account's root may declare functions.

--input-json takes the request body instead (a literal document, file://PATH, or
- for stdin).`,
		Example: `  trellis function create hello -- /srv/hello/bootstrap
  trellis function create hello --env GREETING=hi --timeout 10 --max-concurrency 4 -- /srv/hello/bootstrap --verbose
  trellis function create hello --input-json '{"command":["/srv/hello/bootstrap"],"timeoutSeconds":3}'`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var body map[string]any
			if inputJSON != "" {
				mixed := len(args) > 1
				for _, f := range []string{"env", "timeout", "max-concurrency", "memory-size", "handler", "description"} {
					mixed = mixed || cmd.Flags().Changed(f)
				}
				if mixed {
					return usageErrorf("--input-json cannot be combined with a command or other flags")
				}
				b, err := readInputJSON(inputJSON, cmd.InOrStdin())
				if err != nil {
					return err
				}
				if err := json.Unmarshal(b, &body); err != nil {
					return usageErrorf("--input-json is not a JSON object: %v", err)
				}
			} else {
				if len(args) < 2 {
					return usageErrorf("the command is missing: trellis function create NAME -- /path/to/bootstrap [ARG...]")
				}
				body = map[string]any{"command": args[1:]}
				if len(env) > 0 {
					vars := map[string]string{}
					for _, kv := range env {
						k, v, ok := strings.Cut(kv, "=")
						if !ok || k == "" {
							return usageErrorf("--env %q: want NAME=VALUE", kv)
						}
						vars[k] = v
					}
					body["environment"] = vars
				}
				for flag, member := range map[string]string{"timeout": "timeoutSeconds", "max-concurrency": "maxConcurrency", "memory-size": "memorySize"} {
					if cmd.Flags().Changed(flag) {
						v, _ := cmd.Flags().GetInt(flag)
						body[member] = v
					}
				}
				if handler != "" {
					body["handler"] = handler
				}
				if descr != "" {
					body["description"] = descr
				}
			}
			return report(cmd, nativeCall(cmd, http.MethodPut, "functions/"+url.PathEscape(args[0]), body, functionColumns))
		},
	}
	create.Flags().StringArrayVar(&env, "env", nil, "environment variable NAME=VALUE (repeatable; at most 4 KB in all)")
	create.Flags().IntVar(&timeout, "timeout", 3, "seconds an invocation may run before its worker is killed (1-900)")
	create.Flags().IntVar(&concurrency, "max-concurrency", 10, "invocations at most at once; more are throttled (1-1000)")
	create.Flags().IntVar(&memory, "memory-size", 128, "MB, told to the function as AWS_LAMBDA_FUNCTION_MEMORY_SIZE (128-10240; not enforced)")
	create.Flags().StringVar(&handler, "handler", "", "the function's _HANDLER (default: the command's file name)")
	create.Flags().StringVar(&descr, "description", "", "description (printable ASCII)")
	create.Flags().StringVar(&inputJSON, "input-json", "", "request body as JSON: a document, file://PATH, or - for stdin")

	get := &cobra.Command{Use: "get NAME", Short: "Describe a function", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return report(cmd, nativeCall(cmd, http.MethodGet, "functions/"+url.PathEscape(args[0]), nil, functionColumns))
		}}
	list := &cobra.Command{Use: "list", Short: "List the account's functions", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return report(cmd, nativeCall(cmd, http.MethodGet, "functions", nil, functionColumns))
		}}
	del := &cobra.Command{Use: "delete NAME", Short: "Delete a function; its workers stop", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return report(cmd, nativeCall(cmd, http.MethodDelete, "functions/"+url.PathEscape(args[0]), nil, nil))
		}}

	var payload, invType, logType, outfile string
	invoke := &cobra.Command{
		Use:   "invoke NAME_OR_ARN",
		Short: "Invoke a function through the Lambda API and print its response",
		Long: `Invoke a function with the Lambda Invoke API (the AWS SDK's lambda client against
--endpoint) and print the response payload (to --outfile if given). A function
error prints its error document and exits 1. --log-type Tail prints the last
4 KB of the function's log to stderr.`,
		Example: `  trellis function invoke hello --payload '{"name":"world"}'
  trellis function invoke hello --payload file://event.json --log-type Tail
  trellis function invoke arn:aws:lambda:us-east-1:000000000000:function:hello --invocation-type Event`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := newLambdaClient(cmd)
			if err != nil {
				return report(cmd, err)
			}
			in := &lambda.InvokeInput{FunctionName: aws.String(args[0]), InvocationType: lambdatypes.InvocationType(invType),
				LogType: lambdatypes.LogType(logType)}
			if payload != "" {
				b, err := readInputJSON(payload, cmd.InOrStdin())
				if err != nil {
					return report(cmd, err)
				}
				in.Payload = b
			}
			out, err := c.Invoke(cmd.Context(), in)
			if err != nil {
				return report(cmd, err)
			}
			if out.LogResult != nil {
				if b, err := base64.StdEncoding.DecodeString(*out.LogResult); err == nil {
					cmd.ErrOrStderr().Write(b)
				}
			}
			if outfile != "" && outfile != "-" {
				if err := os.WriteFile(outfile, out.Payload, 0o600); err != nil {
					return report(cmd, err)
				}
			} else if len(out.Payload) > 0 {
				fmt.Fprintln(cmd.OutOrStdout(), string(out.Payload))
			} else if out.StatusCode != http.StatusOK {
				fmt.Fprintln(cmd.OutOrStdout(), `{"StatusCode": `+strconv.Itoa(int(out.StatusCode))+`}`)
			}
			if out.FunctionError != nil {
				return &cliError{msg: "the function failed (" + *out.FunctionError + ")"}
			}
			return nil
		},
	}
	invoke.Flags().StringVar(&payload, "payload", "", "the event as JSON: a document, file://PATH, or - for stdin (default {})")
	invoke.Flags().StringVar(&invType, "invocation-type", "RequestResponse", "RequestResponse (wait for the response), Event (run in the background) or DryRun")
	invoke.Flags().StringVar(&logType, "log-type", "None", "None or Tail (print the end of the function's log to stderr)")
	invoke.Flags().StringVar(&outfile, "outfile", "", "write the response payload to this file instead of stdout")
	for _, c := range []*cobra.Command{create, get, list, del, invoke} {
		c.SilenceUsage = true
		cmd.AddCommand(c)
	}
	return cmd
}

// newLambdaClient builds the SDK's lambda client from the global flags,
// with the credentials of every other command.
func newLambdaClient(cmd *cobra.Command) (*lambda.Client, error) {
	ep, region, creds, err := clientSettings(cmd)
	if err != nil {
		return nil, err
	}
	// No client timeout: an invocation may run up to 15 minutes.
	return lambda.New(lambda.Options{BaseEndpoint: aws.String(ep), Region: region, RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken)}), nil
}
