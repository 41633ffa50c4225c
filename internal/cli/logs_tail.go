package cli

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/spf13/cobra"
)

// `trellis logs tail` follows a service's or a network's access log
// records as they happen, through GET /trellis/v1/access-logs/stream
// (docs/access-logs.md#following-records-live): one readable line per
// request, or (--output json) the records themselves for jq.

const flagStatus = "status"

func logsCmd() *cobra.Command {
	tail := &cobra.Command{
		Use:   "tail",
		Short: "Follow a service's or a service network's access log records as they happen",
		Long: `Follow the access log records of a service (--service) or of a service network
(--service-network: every request that entered through a VPC associated with it), one
line per request as it ends, until interrupted (Ctrl-C):

  TIME CALLER SOURCE-VPC METHOD HOST/PATH STATUS DURATION TARGET-GROUP/TARGET [REASON] [trace=ID] "USER-AGENT"

  trellis logs tail --service orders
  2026-12-06T08:40:01Z Anonymous vpc-00000000000000001 GET orders.internal/orders?id=7 200 3ms tg-0a1b2c3d4e5f60718/10.0.1.5:8080 "curl/8.5.0"

The caller is the principal SigV4 authenticated, or Anonymous. The reason is the
record's failureReason, or denied:LEVEL when an auth policy denied the request. Every
value a client wrote (host, path, user agent) is printed with control characters and
terminal escape sequences escaped (\x1b), so a request cannot drive your terminal.
Colours only when the output is a terminal (and NO_COLOR is not set).

A tail needs no access log subscription: while someone follows a resource, Trellis
builds its records as it does for a subscription. It shows the records of the data
plane of the Trellis serving the API it talks to. A reader that does not keep up
loses records, and is told how many ("… 12 records dropped"). An account may follow
5 streams at once, an installation 50 (ServiceQuotaExceededException beyond).
The tail ends when the resource is deleted or the server stops.

--output json prints the raw records (VpcLatticeAccessLogs JSON, one per line) for jq:
  trellis logs tail --service orders --output json | jq -r .requestPath

--status keeps the records of some statuses: classes (5xx) or codes (404), comma-separated:
  trellis logs tail --service orders --status 5xx,429`,
		Args:         cobra.NoArgs,
		SilenceUsage: true,
		RunE:         runLogsTail,
	}
	tail.Flags().String(flagService, "", "the service to follow: name, ID or ARN")
	tail.Flags().String(flagServiceNetwork, "", "the service network to follow: name, ID or ARN")
	tail.Flags().String(flagStatus, "", "only these statuses: classes (2xx..5xx) or codes, comma-separated (e.g. 5xx,404)")
	return nounCmd("logs", nil, "Access logs, live", tail)
}

func runLogsTail(cmd *cobra.Command, _ []string) error {
	svc, sn := flagString(cmd, flagService, ""), flagString(cmd, flagServiceNetwork, "")
	if (svc == "") == (sn == "") {
		return report(cmd, usageErrorf("give exactly one of --service and --service-network"))
	}
	filter, err := parseStatusFilter(flagString(cmd, flagStatus, ""))
	if err != nil {
		return report(cmd, err)
	}
	jsonOut := false
	if cmd.Flags().Changed(flagOutput) {
		format, err := outputFormat(cmd)
		if err != nil {
			return report(cmd, err)
		}
		jsonOut = format == outputJSON
	}
	ep, region, creds, err := clientSettings(cmd)
	if err != nil {
		return report(cmd, err)
	}
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	ident, kind := svc, serviceKind
	if sn != "" {
		ident, kind = sn, serviceNetworkKind
	}
	if !isIdentifier(ident, []*nameKind{kind}) {
		if ident, err = lookupName(ctx, newSDKClient(ep, region, creds), reflect.Value{}, map[string][]named{}, []*nameKind{kind}, ident); err != nil {
			return report(cmd, err)
		}
	}
	body, err := openLogStream(ctx, strings.TrimSuffix(ep, "/"), region, creds, ident)
	if err != nil {
		return report(cmd, err)
	}
	defer body.Close()
	p := &tailPrinter{out: cmd.OutOrStdout(), errOut: cmd.ErrOrStderr(), json: jsonOut, filter: filter,
		color: !jsonOut && wantsColour(cmd.OutOrStdout())}
	err = p.follow(bufio.NewReaderSize(body, 64<<10))
	if ctx.Err() != nil {
		return nil // interrupted: the normal way out
	}
	return report(cmd, err)
}

// openLogStream sends the signed stream request and returns the body of a
// 200 answer.
func openLogStream(ctx context.Context, ep, region string, creds credentialSet, ident string) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet,
		ep+"/trellis/v1/access-logs/stream?resourceIdentifier="+url.QueryEscape(ident), nil)
	if err != nil {
		return nil, usageErrorf("invalid --endpoint %q: %v", ep, err)
	}
	sum := sha256.Sum256(nil)
	if err := v4.NewSigner().SignHTTP(ctx, aws.Credentials{AccessKeyID: creds.AccessKeyID,
		SecretAccessKey: creds.SecretAccessKey, SessionToken: creds.SessionToken},
		req, hex.EncodeToString(sum[:]), "vpc-lattice", region, time.Now()); err != nil {
		return nil, err
	}
	// No client timeout: the answer lasts as long as the tail.
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the Trellis API at %s: %w (is 'trellis serve' running? see --endpoint)", ep, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		var e struct {
			Message string `json:"message"`
		}
		_ = json.Unmarshal(b, &e)
		code := resp.Header.Get("X-Amzn-ErrorType")
		if code == "" {
			code = resp.Status
		}
		return nil, &nativeError{code: code, msg: e.Message}
	}
	return resp.Body, nil
}

// statusFilter keeps records by status; nil keeps all.
type statusFilter struct {
	classes [6]bool // by the first digit
	codes   map[int]bool
}

func parseStatusFilter(s string) (*statusFilter, error) {
	if s == "" {
		return nil, nil
	}
	f := &statusFilter{codes: map[int]bool{}}
	for _, part := range strings.Split(s, ",") {
		part = strings.ToLower(strings.TrimSpace(part))
		if len(part) == 3 && part[1:] == "xx" && part[0] >= '1' && part[0] <= '5' {
			f.classes[part[0]-'0'] = true
			continue
		}
		n, err := strconv.Atoi(part)
		if err != nil || n < 100 || n > 599 {
			return nil, usageErrorf("invalid --status %q: want classes (1xx..5xx) or codes (100..599), comma-separated", part)
		}
		f.codes[n] = true
	}
	return f, nil
}

func (f *statusFilter) keep(code int) bool {
	if f == nil {
		return true
	}
	return f.codes[code] || (code >= 100 && code <= 599 && f.classes[code/100])
}

// tailRecord is what a line shows of a record.
type tailRecord struct {
	StartTime        string `json:"startTime"`
	ResolvedUser     string `json:"resolvedUser"`
	CallerPrincipal  string `json:"callerPrincipal"`
	SourceVpcID      string `json:"sourceVpcId"`
	RequestMethod    string `json:"requestMethod"`
	HostHeader       string `json:"hostHeader"`
	RequestPath      string `json:"requestPath"`
	ResponseCode     any    `json:"responseCode"`
	Duration         any    `json:"duration"`
	TargetGroupArn   string `json:"targetGroupArn"`
	TargetIPPort     string `json:"targetIpPort"`
	FailureReason    string `json:"failureReason"`
	AuthDeniedReason string `json:"authDeniedReason"`
	TraceID          string `json:"traceId"`
	UserAgent        string `json:"userAgent"`
	// A resource connection record (VpcLatticeResourceAccessLogs) has
	// these instead of the request's fields.
	EventTimestamp           string `json:"eventTimestamp"`
	ResourceConfigurationArn string `json:"resourceConfigurationArn"`
	SourceIPPort             string `json:"sourceIpPort"`
	DestinationIPPort        string `json:"destinationIpPort"`
	ResourceIPPort           string `json:"resourceIpPort"`
	SourceVpcArn             string `json:"sourceVpcArn"`
	// TrellisEvent marks the stream's own lines.
	TrellisEvent string `json:"trellisEvent"`
	Dropped      uint64 `json:"dropped"`
	Reason       string `json:"reason"`
	Message      string `json:"message"`
}

type tailPrinter struct {
	out, errOut io.Writer
	json, color bool
	filter      *statusFilter
}

// errStreamCut is a stream that stopped without its end line.
var errStreamCut = errors.New("the access log stream ended unexpectedly (the connection to the API was lost)")

// follow prints the stream until it ends.
func (p *tailPrinter) follow(r *bufio.Reader) error {
	for {
		line, err := r.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 && line[len(line)-1] == '\n' { // empty lines keep the stream alive
			done, perr := p.line(line)
			if perr != nil || done {
				return perr
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return errStreamCut
			}
			return err
		}
	}
}

// line prints one line of the stream; done after the end line.
func (p *tailPrinter) line(line []byte) (done bool, err error) {
	var rec tailRecord
	if err := json.Unmarshal(line, &rec); err != nil {
		return false, fmt.Errorf("the API sent a line that is not JSON: %w", err)
	}
	switch rec.TrellisEvent {
	case "":
	case "started":
		return false, nil
	case "dropped":
		w := p.out
		if p.json {
			w = p.errOut // stdout stays records only
		}
		s := "s"
		if rec.Dropped == 1 {
			s = ""
		}
		_, err := fmt.Fprintf(w, "… %d record%s dropped (this reader did not keep up)\n", rec.Dropped, s)
		return false, err
	case "end":
		_, err := fmt.Fprintf(p.errOut, "The stream ended: %s (%s)\n", sanitize(rec.Message), sanitize(rec.Reason))
		return true, err
	default:
		return false, nil // a later server's event: nothing to show
	}
	if rec.ResourceConfigurationArn != "" {
		// A TCP connection to a resource has no status: a status filter
		// leaves it out.
		if p.filter != nil {
			return false, nil
		}
	} else if !p.filter.keep(int(number(rec.ResponseCode))) {
		return false, nil
	}
	if p.json {
		_, err := p.out.Write(line)
		return false, err
	}
	_, err = io.WriteString(p.out, formatTailLine(&rec, p.color)+"\n")
	return false, err
}

// number is a record's numeric field (a JSON number, or "-": -1).
func number(v any) float64 {
	if f, ok := v.(float64); ok {
		return f
	}
	return -1
}

// ANSI SGR sequences of the colours (ECMA-48 §8.3.117).
const (
	ansiReset  = "\x1b[0m"
	ansiDim    = "\x1b[2m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiCyan   = "\x1b[36m"
)

// formatTailLine is the readable line of a record. Every string of the
// record goes through sanitize: only the colours added here reach the
// terminal as escape sequences.
func formatTailLine(r *tailRecord, color bool) string {
	paint := func(code, s string) string {
		if !color {
			return s
		}
		return code + s + ansiReset
	}
	dash := func(s string) bool { return s == "" || s == "-" }
	last := func(a string) string {
		if dash(a) {
			return "-"
		}
		if i := strings.LastIndexByte(a, '/'); i >= 0 {
			return a[i+1:]
		}
		return a
	}
	if r.ResourceConfigurationArn != "" {
		// TIME tcp SOURCE VPC -> DESTINATION rcfg-… RESOURCE (or "not reached")
		reached := sanitize(r.ResourceIPPort)
		if dash(r.ResourceIPPort) {
			reached = paint(ansiRed, "not-reached")
		}
		return strings.Join([]string{paint(ansiDim, sanitize(r.EventTimestamp)), "tcp", sanitize(r.SourceIPPort),
			sanitize(last(r.SourceVpcArn)), "->", sanitize(r.DestinationIPPort), sanitize(last(r.ResourceConfigurationArn)), reached}, " ")
	}
	caller := r.ResolvedUser
	if dash(caller) || caller == "Anonymous" {
		caller = r.CallerPrincipal
	}
	if dash(caller) {
		caller = "Anonymous"
	}
	status := int(number(r.ResponseCode))
	statusText := "-"
	if status >= 0 {
		statusText = strconv.Itoa(status)
	}
	switch {
	case status >= 500:
		statusText = paint(ansiRed, statusText)
	case status >= 400:
		statusText = paint(ansiYellow, statusText)
	case status >= 300:
		statusText = paint(ansiCyan, statusText)
	case status >= 200:
		statusText = paint(ansiGreen, statusText)
	}
	dur := "-"
	if d := number(r.Duration); d >= 0 {
		dur = strconv.FormatFloat(d, 'f', -1, 64) + "ms"
	}
	target := "-"
	if !dash(r.TargetGroupArn) || !dash(r.TargetIPPort) {
		tg := r.TargetGroupArn
		if i := strings.LastIndexByte(tg, '/'); i >= 0 {
			tg = tg[i+1:]
		}
		if dash(tg) {
			tg = "-"
		}
		target = tg
		if !dash(r.TargetIPPort) {
			target += "/" + r.TargetIPPort
		}
	}
	host := r.HostHeader
	if dash(host) {
		host = ""
	}
	parts := []string{paint(ansiDim, sanitize(r.StartTime)), sanitize(caller), sanitize(r.SourceVpcID),
		sanitize(r.RequestMethod), sanitize(host + r.RequestPath), statusText, dur, sanitize(target)}
	if !dash(r.AuthDeniedReason) {
		parts = append(parts, paint(ansiRed, "denied:"+sanitize(r.AuthDeniedReason)))
	} else if !dash(r.FailureReason) {
		parts = append(parts, paint(ansiRed, sanitize(r.FailureReason)))
	}
	if !dash(r.TraceID) {
		parts = append(parts, "trace="+sanitize(r.TraceID))
	}
	if !dash(r.UserAgent) {
		parts = append(parts, `"`+sanitize(r.UserAgent)+`"`)
	}
	return strings.Join(parts, " ")
}

// sanitize makes a value a client controlled safe to print on a terminal:
// C0 and C1 control characters and DEL (ESC starts ECMA-48 sequences, and
// U+009B is CSI itself on terminals that read C1 controls) become \xHH,
// Unicode's bidirectional controls (which reorder what the rest of the line
// appears to say: CVE-2021-42574) \uHHHH, invalid UTF-8 U+FFFD, and a
// backslash is doubled so that an escape printed here cannot be forged.
func sanitize(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f || c == '\\' || c >= 0x80 {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			b.WriteRune(utf8.RuneError)
		case r == '\\':
			b.WriteString(`\\`)
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f):
			fmt.Fprintf(&b, `\x%02x`, r)
		case r == 0x061c || r == 0x200e || r == 0x200f || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
		i += n
	}
	return b.String()
}

// wantsColour reports whether w is a terminal that should get colours: a
// character device, and neither NO_COLOR (no-color.org) nor TERM=dumb set.
func wantsColour(w io.Writer) bool {
	return isTerminal(w) && os.Getenv("NO_COLOR") == "" && os.Getenv("TERM") != "dumb"
}
