package h1

import "strings"

// ClientIP is the IP of a TCP peer address (net.Conn.RemoteAddr().String()) ("ip:port" or "[ip]:port").
func ClientIP(remote string) string {
	i := strings.LastIndexByte(remote, ':')
	if i < 0 {
		return remote
	}
	host := remote[:i]
	if len(host) >= 2 && host[0] == '[' && host[len(host)-1] == ']' {
		host = host[1 : len(host)-1]
	}
	return host
}

// HasToken reports whether the comma-separated field values hold token
// (ASCII case-insensitive, parameters ignored): "Connection: close", "TE:
// trailers".
func HasToken(values []string, token string) bool {
	for _, v := range values {
		for v != "" {
			var tok string
			tok, v, _ = strings.Cut(v, ",")
			tok, _, _ = strings.Cut(tok, ";")
			if strings.EqualFold(strings.TrimSpace(tok), token) {
				return true
			}
		}
	}
	return false
}
