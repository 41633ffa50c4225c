package api_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/acm"
	acmtypes "github.com/aws/aws-sdk-go-v2/service/acm/types"

	"github.com/trellis-net/trellis/internal/app/apptest"
	"github.com/trellis-net/trellis/internal/ca"
)

func acmAs(s *apptest.Server, c creds) *acm.Client {
	return acm.New(acm.Options{Region: s.Region, BaseEndpoint: aws.String(s.Endpoint),
		Credentials: credentials.NewStaticCredentialsProvider(c.id, c.secret, c.token), RetryMaxAttempts: 1})
}

// testIssuer is a CA of the test's own, for certificates to import.
func testIssuer(t *testing.T) *ca.CA {
	t.Helper()
	c, _, _, err := ca.Load(t.TempDir(), "", "")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func issued(t *testing.T, c *ca.CA, names ...string) *ca.Leaf {
	t.Helper()
	l, err := c.Issue(names[0], names[1:], time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// caCert is a CA certificate (CA:TRUE) for name with its key: signed by
// parent, or by itself when parent is nil — what `openssl req -x509` makes.
func caCert(t *testing.T, parent *ca.CA, name string) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(99), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), BasicConstraintsValid: true, IsCA: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	signer, signerKey := tmpl, crypto.Signer(key)
	if parent != nil {
		signer, signerKey = parent.Cert, parent.Key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb})
}

// A self-signed certificate marked CA:TRUE — what `openssl req -x509`
// makes by default, the usual test certificate — imports and is served
// for its name.
func TestACMImportSelfSignedCA(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	c := acmAs(s, rootCreds(s))
	certPEM, keyPEM := caCert(t, nil, "selfsigned.example.com")
	out := need(c.ImportCertificate(ctx, &acm.ImportCertificateInput{Certificate: certPEM, PrivateKey: keyPEM})).ok(t)
	d := need(c.DescribeCertificate(ctx, &acm.DescribeCertificateInput{CertificateArn: out.CertificateArn})).ok(t).Certificate
	if aws.ToString(d.DomainName) != "selfsigned.example.com" || d.Type != acmtypes.CertificateTypeImported {
		t.Fatalf("imported: %+v", d)
	}
}

// rsaLeaf is a self-signed RSA 2048 leaf for names.
func rsaLeaf(t *testing.T, names ...string) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(77), Subject: pkix.Name{CommonName: names[0]}, DNSNames: names,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
}

// acmRaw sends an ACM operation signed with signingName and returns the
// status, the error type header and the body as received.
func acmRaw(t *testing.T, s *apptest.Server, signingName, op string, body any) (int, string, []byte) {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, s.Endpoint+"/", bytes.NewReader(b))
	req.Header.Set("X-Amz-Target", "CertificateManager."+op)
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	sum := sha256.Sum256(b)
	if err := v4.NewSigner().SignHTTP(ctx, aws.Credentials{AccessKeyID: s.AccessKeyID, SecretAccessKey: s.SecretAccessKey},
		req, hex.EncodeToString(sum[:]), signingName, s.Region, time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), out
}

func TestACMRequestedCertificate(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	c := acmAs(s, rootCreds(s))
	req := need(c.RequestCertificate(ctx, &acm.RequestCertificateInput{DomainName: aws.String("API.example.com"),
		SubjectAlternativeNames: []string{"*.api.example.com", "api.example.com"}, ValidationMethod: acmtypes.ValidationMethodDns,
		Tags: []acmtypes.Tag{{Key: aws.String("team"), Value: aws.String("blue")}}})).ok(t)
	arn := aws.ToString(req.CertificateArn)
	if !strings.HasPrefix(arn, "arn:aws:acm:"+s.Region+":"+s.Account+":certificate/") || len(arn) != len("arn:aws:acm:"+s.Region+":"+s.Account+":certificate/")+36 {
		t.Fatalf("CertificateArn %q", arn)
	}
	d := need(c.DescribeCertificate(ctx, &acm.DescribeCertificateInput{CertificateArn: &arn})).ok(t).Certificate
	if d.Status != acmtypes.CertificateStatusIssued || d.Type != acmtypes.CertificateTypeAmazonIssued ||
		aws.ToString(d.DomainName) != "api.example.com" || !slices.Equal(d.SubjectAlternativeNames, []string{"api.example.com", "*.api.example.com"}) ||
		d.KeyAlgorithm != acmtypes.KeyAlgorithmEcPrime256v1 || d.NotBefore == nil || d.NotAfter == nil || d.CreatedAt == nil ||
		d.IssuedAt == nil || d.ImportedAt != nil || aws.ToString(d.Serial) == "" || !strings.Contains(aws.ToString(d.Issuer), "Trellis installation CA") ||
		len(d.InUseBy) != 0 {
		t.Fatalf("DescribeCertificate: %+v", d)
	}
	if got := d.NotAfter.Sub(*d.NotBefore); got < 390*24*time.Hour || got > 400*24*time.Hour {
		t.Errorf("validity %v, want 395 days", got)
	}
	if len(d.DomainValidationOptions) != 2 {
		t.Fatalf("DomainValidationOptions %+v", d.DomainValidationOptions)
	}
	records := map[string]bool{}
	for _, o := range d.DomainValidationOptions {
		if o.ValidationStatus != acmtypes.DomainStatusSuccess {
			t.Errorf("ValidationStatus of %s: %s", aws.ToString(o.DomainName), o.ValidationStatus)
		}
		// Terraform builds DNS records from these: a CNAME under the
		// domain (a wildcard's base).
		rr := o.ResourceRecord
		base := strings.TrimPrefix(aws.ToString(o.DomainName), "*.")
		if rr == nil || rr.Type != acmtypes.RecordTypeCname || !strings.HasPrefix(aws.ToString(rr.Name), "_") ||
			!strings.HasSuffix(aws.ToString(rr.Name), "."+base+".") || !strings.HasSuffix(aws.ToString(rr.Value), ".") {
			t.Errorf("ResourceRecord of %s: %+v", aws.ToString(o.DomainName), rr)
			continue
		}
		records[aws.ToString(rr.Name)+" "+aws.ToString(rr.Value)] = true
	}
	// api.example.com and *.api.example.com share one record, as in ACM.
	if len(records) != 1 {
		t.Errorf("validation records %v: want one per base domain name", records)
	}
	// Stable: the same records on the next call.
	d2 := need(c.DescribeCertificate(ctx, &acm.DescribeCertificateInput{CertificateArn: &arn})).ok(t).Certificate
	for _, o := range d2.DomainValidationOptions {
		if rr := o.ResourceRecord; rr == nil || !records[aws.ToString(rr.Name)+" "+aws.ToString(rr.Value)] {
			t.Errorf("validation record of %s changed between calls: %+v", aws.ToString(o.DomainName), rr)
		}
	}

	// GetCertificate: the certificate and the CA as its chain, no key.
	g := need(c.GetCertificate(ctx, &acm.GetCertificateInput{CertificateArn: &arn})).ok(t)
	st, _, raw := acmRaw(t, s, "acm", "GetCertificate", map[string]string{"CertificateArn": arn})
	if st != 200 || bytes.Contains(raw, []byte("PRIVATE KEY")) {
		t.Fatalf("GetCertificate raw: %d %s", st, raw)
	}
	for _, op := range []string{"DescribeCertificate", "ListTagsForCertificate"} {
		if _, _, raw := acmRaw(t, s, "acm", op, map[string]string{"CertificateArn": arn}); bytes.Contains(raw, []byte("PRIVATE KEY")) {
			t.Fatalf("%s answers a private key", op)
		}
	}
	if _, _, raw := acmRaw(t, s, "acm", "ListCertificates", map[string]any{}); bytes.Contains(raw, []byte("PRIVATE KEY")) {
		t.Fatal("ListCertificates answers a private key")
	}

	// The chain verifies against the CA of GET /trellis/v1/certificate-authority.
	a := call(t, s, rootCreds(s), "GET", "/trellis/v1/certificate-authority", nil)
	var caOut struct {
		CertificatePem string `json:"certificatePem"`
	}
	if a.status != 200 || json.Unmarshal(a.body, &caOut) != nil {
		t.Fatalf("certificate-authority: %d %s", a.status, a.body)
	}
	if aws.ToString(g.CertificateChain) != caOut.CertificatePem {
		t.Errorf("CertificateChain is not the installation CA")
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(caOut.CertificatePem)) {
		t.Fatal("CA PEM does not parse")
	}
	blk, _ := pem.Decode([]byte(aws.ToString(g.Certificate)))
	leaf, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"api.example.com", "v1.api.example.com"} {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: host, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
			t.Errorf("verify for %s: %v", host, err)
		}
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: "a.b.api.example.com"}); err == nil {
		t.Error("a wildcard verified two labels")
	}

	// Tags.
	tags := need(c.ListTagsForCertificate(ctx, &acm.ListTagsForCertificateInput{CertificateArn: &arn})).ok(t).Tags
	if len(tags) != 1 || aws.ToString(tags[0].Key) != "team" || aws.ToString(tags[0].Value) != "blue" {
		t.Fatalf("tags %+v", tags)
	}
	need(c.AddTagsToCertificate(ctx, &acm.AddTagsToCertificateInput{CertificateArn: &arn,
		Tags: []acmtypes.Tag{{Key: aws.String("env"), Value: aws.String("prod")}, {Key: aws.String("team"), Value: aws.String("red")}}})).ok(t)
	// A Value that does not match removes nothing; no Value removes the key.
	need(c.RemoveTagsFromCertificate(ctx, &acm.RemoveTagsFromCertificateInput{CertificateArn: &arn,
		Tags: []acmtypes.Tag{{Key: aws.String("env"), Value: aws.String("dev")}, {Key: aws.String("team")}}})).ok(t)
	tags = need(c.ListTagsForCertificate(ctx, &acm.ListTagsForCertificateInput{CertificateArn: &arn})).ok(t).Tags
	if len(tags) != 1 || aws.ToString(tags[0].Key) != "env" || aws.ToString(tags[0].Value) != "prod" {
		t.Fatalf("tags after add/remove %+v", tags)
	}
	_, err = c.AddTagsToCertificate(ctx, &acm.AddTagsToCertificateInput{CertificateArn: &arn, Tags: []acmtypes.Tag{{Key: aws.String("aws:x"), Value: aws.String("y")}}})
	var ite *acmtypes.InvalidTagException
	if !errors.As(err, &ite) {
		t.Fatalf("aws: tag: %v, want InvalidTagException", err)
	}
	many := make([]acmtypes.Tag, 50)
	for i := range many {
		many[i] = acmtypes.Tag{Key: aws.String(fmt.Sprintf("k%d", i)), Value: aws.String("v")}
	}
	_, err = c.AddTagsToCertificate(ctx, &acm.AddTagsToCertificateInput{CertificateArn: &arn, Tags: many})
	var tmt *acmtypes.TooManyTagsException
	if !errors.As(err, &tmt) {
		t.Fatalf("51 tags: %v, want TooManyTagsException", err)
	}

	// Bad requests.
	_, err = c.RequestCertificate(ctx, &acm.RequestCertificateInput{DomainName: aws.String("bad_name..example")})
	var ve *acmtypes.ValidationException
	if !errors.As(err, &ve) || !strings.Contains(ve.ErrorMessage(), "DomainName") {
		t.Fatalf("bad DomainName: %v", err)
	}
	_, err = c.RequestCertificate(ctx, &acm.RequestCertificateInput{DomainName: aws.String("x.example.com"), KeyAlgorithm: acmtypes.KeyAlgorithmRsa2048})
	if !errors.As(err, &ve) || !strings.Contains(ve.ErrorMessage(), "KeyAlgorithm") {
		t.Fatalf("RSA_2048: %v", err)
	}
	_, err = c.DescribeCertificate(ctx, &acm.DescribeCertificateInput{CertificateArn: aws.String("arn:aws:acm:us-east-1:000000000000:certificate/nope")})
	var iae *acmtypes.InvalidArnException
	if !errors.As(err, &iae) {
		t.Fatalf("malformed ARN: %v, want InvalidArnException", err)
	}
	missing := strings.Replace(arn, arn[len(arn)-12:], "000000000000", 1)
	_, err = c.DescribeCertificate(ctx, &acm.DescribeCertificateInput{CertificateArn: &missing})
	var rnf *acmtypes.ResourceNotFoundException
	if !errors.As(err, &rnf) {
		t.Fatalf("unknown ARN: %v, want ResourceNotFoundException", err)
	}

	// Delete.
	need(c.DeleteCertificate(ctx, &acm.DeleteCertificateInput{CertificateArn: &arn})).ok(t)
	_, err = c.GetCertificate(ctx, &acm.GetCertificateInput{CertificateArn: &arn})
	if !errors.As(err, &rnf) {
		t.Fatalf("deleted: %v", err)
	}
}

func TestACMImportCertificate(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	c := acmAs(s, rootCreds(s))
	iss := testIssuer(t)
	l := issued(t, iss, "shop.example.com", "www.shop.example.com")
	imp := need(c.ImportCertificate(ctx, &acm.ImportCertificateInput{Certificate: l.CertPEM, PrivateKey: l.KeyPEM,
		CertificateChain: iss.CertPEM, Tags: []acmtypes.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})).ok(t)
	arn := aws.ToString(imp.CertificateArn)
	d := need(c.DescribeCertificate(ctx, &acm.DescribeCertificateInput{CertificateArn: &arn})).ok(t).Certificate
	if d.Type != acmtypes.CertificateTypeImported || d.Status != acmtypes.CertificateStatusIssued || d.ImportedAt == nil ||
		aws.ToString(d.DomainName) != "shop.example.com" || !slices.Equal(d.SubjectAlternativeNames, []string{"shop.example.com", "www.shop.example.com"}) ||
		aws.ToString(d.Serial) != l.Serial || d.NotAfter == nil || !d.NotAfter.Equal(l.NotAfter) {
		t.Fatalf("imported: %+v", d)
	}
	g := need(c.GetCertificate(ctx, &acm.GetCertificateInput{CertificateArn: &arn})).ok(t)
	if aws.ToString(g.Certificate) != string(l.CertPEM) || aws.ToString(g.CertificateChain) != string(iss.CertPEM) {
		t.Fatal("GetCertificate does not return the imported certificate and chain")
	}

	// Re-import an RSA certificate to the same ARN: replaced, tags kept.
	rc, rk := rsaLeaf(t, "shop.example.com")
	re := need(c.ImportCertificate(ctx, &acm.ImportCertificateInput{CertificateArn: &arn, Certificate: rc, PrivateKey: rk})).ok(t)
	if aws.ToString(re.CertificateArn) != arn {
		t.Fatalf("re-import ARN %s", aws.ToString(re.CertificateArn))
	}
	d = need(c.DescribeCertificate(ctx, &acm.DescribeCertificateInput{CertificateArn: &arn})).ok(t).Certificate
	if d.KeyAlgorithm != acmtypes.KeyAlgorithmRsa2048 || aws.ToString(d.Serial) != "4d" {
		t.Fatalf("after re-import: %s %s", d.KeyAlgorithm, aws.ToString(d.Serial))
	}
	if tags := need(c.ListTagsForCertificate(ctx, &acm.ListTagsForCertificateInput{CertificateArn: &arn})).ok(t).Tags; len(tags) != 1 {
		t.Fatalf("tags after re-import %+v", tags)
	}

	// Refusals, each changing nothing.
	other := issued(t, iss, "shop.example.com")
	interCert, interKey := caCert(t, iss, "intermediate.example.com")
	var ve *acmtypes.ValidationException
	for name, in := range map[string]*acm.ImportCertificateInput{
		"a key of another certificate": {Certificate: l.CertPEM, PrivateKey: other.KeyPEM},
		"not PEM":                      {Certificate: []byte("hello"), PrivateKey: l.KeyPEM},
		"two certificates":             {Certificate: append(append([]byte{}, l.CertPEM...), other.CertPEM...), PrivateKey: l.KeyPEM},
		"a CA certificate":             {Certificate: iss.CertPEM, PrivateKey: l.KeyPEM},
		"an intermediate CA":           {Certificate: interCert, PrivateKey: interKey},
		"a chain that is not PEM":      {Certificate: l.CertPEM, PrivateKey: l.KeyPEM, CertificateChain: []byte("junk")},
		"re-import over a wrong key":   {CertificateArn: &arn, Certificate: l.CertPEM, PrivateKey: other.KeyPEM},
	} {
		_, err := c.ImportCertificate(ctx, in)
		if !errors.As(err, &ve) {
			t.Fatalf("%s: %v, want ValidationException", name, err)
		}
		if strings.Contains(ve.ErrorMessage(), "PRIVATE KEY") || strings.Contains(ve.ErrorMessage(), string(other.KeyPEM[40:70])) {
			t.Fatalf("%s: the message quotes the key: %s", name, ve.ErrorMessage())
		}
	}
	// The SDK checks required members itself; the server does too.
	if st, typ, _ := acmRaw(t, s, "acm", "ImportCertificate", map[string]any{"Certificate": l.CertPEM}); st != 400 || typ != "ValidationException" {
		t.Fatalf("no key: %d %s", st, typ)
	}
	list := need(c.ListCertificates(ctx, &acm.ListCertificatesInput{})).ok(t).CertificateSummaryList
	if len(list) != 1 {
		t.Fatalf("refused imports stored certificates: %d", len(list))
	}
	// Re-import to an ARN that does not exist.
	missing := arn[:len(arn)-12] + "000000000000"
	_, err := c.ImportCertificate(ctx, &acm.ImportCertificateInput{CertificateArn: &missing, Certificate: l.CertPEM, PrivateKey: l.KeyPEM})
	var rnf *acmtypes.ResourceNotFoundException
	if !errors.As(err, &rnf) {
		t.Fatalf("re-import to a missing ARN: %v", err)
	}
	// A requested certificate cannot be re-imported over.
	req := need(c.RequestCertificate(ctx, &acm.RequestCertificateInput{DomainName: aws.String("shop.example.com")})).ok(t)
	if _, err := c.ImportCertificate(ctx, &acm.ImportCertificateInput{CertificateArn: req.CertificateArn, Certificate: l.CertPEM, PrivateKey: l.KeyPEM}); !errors.As(err, &ve) {
		t.Fatalf("import over a requested certificate: %v", err)
	}
}

func TestACMListCertificates(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	c := acmAs(s, rootCreds(s))
	want := map[string]bool{}
	for i := range 5 {
		out := need(c.RequestCertificate(ctx, &acm.RequestCertificateInput{DomainName: aws.String(fmt.Sprintf("s%d.example.com", i))})).ok(t)
		want[aws.ToString(out.CertificateArn)] = true
	}
	got := map[string]bool{}
	var token *string
	pages := 0
	for {
		out := need(c.ListCertificates(ctx, &acm.ListCertificatesInput{MaxItems: aws.Int32(2), NextToken: token})).ok(t)
		pages++
		if len(out.CertificateSummaryList) > 2 {
			t.Fatalf("page of %d", len(out.CertificateSummaryList))
		}
		for _, it := range out.CertificateSummaryList {
			if it.Status != acmtypes.CertificateStatusIssued || it.Type != acmtypes.CertificateTypeAmazonIssued || aws.ToBool(it.InUse) || it.NotAfter == nil {
				t.Errorf("summary %+v", it)
			}
			got[aws.ToString(it.CertificateArn)] = true
		}
		if token = out.NextToken; token == nil {
			break
		}
	}
	if pages != 3 || len(got) != 5 {
		t.Fatalf("%d pages, %d certificates", pages, len(got))
	}
	for a := range want {
		if !got[a] {
			t.Errorf("%s not listed", a)
		}
	}
	out := need(c.ListCertificates(ctx, &acm.ListCertificatesInput{CertificateStatuses: []acmtypes.CertificateStatus{acmtypes.CertificateStatusExpired}})).ok(t)
	if len(out.CertificateSummaryList) != 0 {
		t.Errorf("EXPIRED lists %d", len(out.CertificateSummaryList))
	}
	_, err := c.ListCertificates(ctx, &acm.ListCertificatesInput{NextToken: aws.String("bogus!")})
	var ipe *acmtypes.InvalidParameterException
	if !errors.As(err, &ipe) {
		t.Fatalf("bad NextToken: %v, want InvalidParameterException", err)
	}
}

// The ACM API answers only to requests signed for acm, and only for
// CertificateManager targets; Lattice keeps its own signing name.
func TestACMSigningName(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	if st, typ, body := acmRaw(t, s, "vpc-lattice", "ListCertificates", map[string]any{}); st < 400 || bytes.Contains(body, []byte("CertificateSummaryList")) {
		t.Fatalf("ACM signed for vpc-lattice: %d %s %s", st, typ, body)
	}
	if st, typ, body := acmRaw(t, s, "acm", "ListCertificates", map[string]any{}); st != 200 {
		t.Fatalf("ListCertificates: %d %s %s", st, typ, body)
	}
	if st, typ, _ := acmRaw(t, s, "acm", "ExportCertificate", map[string]any{}); st != 400 || typ != "UnknownOperationException" {
		t.Fatalf("ExportCertificate: %d %s", st, typ)
	}
	if st, typ, _ := acmRaw(t, s, "acm", "DescribeCertificate", []int{1}); st != 400 || typ != "SerializationException" {
		t.Fatalf("bad JSON: %d %s", st, typ)
	}
	// A Lattice call signed for acm is refused.
	req, _ := http.NewRequest(http.MethodGet, s.Endpoint+"/services", nil)
	if err := v4.NewSigner().SignHTTP(ctx, aws.Credentials{AccessKeyID: s.AccessKeyID, SecretAccessKey: s.SecretAccessKey},
		req, hex.EncodeToString(sha256.New().Sum(nil)), "acm", s.Region, time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("ListServices signed for acm: %d", resp.StatusCode)
	}
}

// The SDK's IdempotencyToken reaches the service: the same token gets the
// same certificate, a malformed one is a ValidationException.
func TestACMRequestIdempotencyToken(t *testing.T) {
	t.Parallel()
	s := apptest.Start(t)
	c := acmAs(s, rootCreds(s))
	in := &acm.RequestCertificateInput{DomainName: aws.String("tok.example.com"), IdempotencyToken: aws.String("run_1")}
	a := need(c.RequestCertificate(ctx, in)).ok(t)
	b := need(c.RequestCertificate(ctx, in)).ok(t)
	if aws.ToString(a.CertificateArn) != aws.ToString(b.CertificateArn) {
		t.Fatalf("same IdempotencyToken: %s then %s", aws.ToString(a.CertificateArn), aws.ToString(b.CertificateArn))
	}
	_, err := c.RequestCertificate(ctx, &acm.RequestCertificateInput{DomainName: aws.String("other.example.com"), IdempotencyToken: aws.String("run_1")})
	var ce *acmtypes.ConflictException
	if !errors.As(err, &ce) {
		t.Fatalf("same token, other parameters: %v, want ConflictException", err)
	}
	_, err = c.RequestCertificate(ctx, &acm.RequestCertificateInput{DomainName: aws.String("tok.example.com"), IdempotencyToken: aws.String("not-valid")})
	var ve *acmtypes.ValidationException
	if !errors.As(err, &ve) || !strings.Contains(ve.ErrorMessage(), "IdempotencyToken") {
		t.Fatalf("malformed token: %v", err)
	}
}
