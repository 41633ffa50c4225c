package api

import (
	"net/http"
)

// GET /trellis/v1/certificate-authority answers the installation CA's
// certificate, {"certificatePem": "..."} (`trellis ca get`;
// docs/certificates.md): what a client trusts to verify the certificates
// Trellis issues. Signed like every native call, and answered to every
// account: the certificate is public, its key never leaves the server.

// SetCertificateAuthority registers the endpoint with the CA's PEM
// certificate. Call it before serving.
func (s *Server) SetCertificateAuthority(certPEM []byte) {
	body := obj{"certificatePem": string(certPEM)}
	s.native.Handle("GET "+NativePrefix+"certificate-authority", s.nativeHandler(func(*http.Request, []byte) (int, any, error) {
		return http.StatusOK, body, nil
	}))
}
