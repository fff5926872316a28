package webhooks

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// maxURLLength bounds an endpoint's URL.
const maxURLLength = 2048

// internalPrefixes are ranges that netip's predicates do not cover but that
// reach internal services: the shared address space of carrier-grade NAT
// (cloud metadata at 100.100.100.200 on some clouds), IETF protocol
// assignments, benchmarking, the reserved class E, NAT64, Teredo (which
// hides an IPv4 address) and the deprecated site-local IPv6 range.
var internalPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b::/96"),
	netip.MustParsePrefix("2001::/32"),
	netip.MustParsePrefix("fec0::/10"),
}

// internal tells whether ip is an address a webhook must not reach unless
// private targets are allowed: loopback, private, link-local (cloud
// metadata at 169.254.169.254), unspecified, multicast, and the ranges of
// internalPrefixes.
func internal(ip netip.Addr) bool {
	ip = ip.Unmap()
	if ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsUnspecified() || ip.IsMulticast() || ip.IsInterfaceLocalMulticast() {
		return true
	}
	for _, p := range internalPrefixes {
		if p.Contains(ip) {
			return true
		}
	}
	if sixToFour.Contains(ip) {
		// 6to4 carries an IPv4 address in bytes 2 to 5.
		b := ip.As16()
		return internal(netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}))
	}
	return false
}

var sixToFour = netip.MustParsePrefix("2002::/16")

// checkURL validates an endpoint's URL; unless allowPrivate, it resolves
// the host and refuses it if any of its addresses is internal. (Connect
// time checks again: a name may resolve elsewhere later.)
func checkURL(ctx context.Context, raw string, allowPrivate bool, resolver *net.Resolver) (*url.URL, error) {
	bad := func(msg string) error { return &ValidationError{Field: "url", Msg: msg} }
	if raw == "" {
		return nil, bad("is required")
	}
	if len(raw) > maxURLLength {
		return nil, bad(fmt.Sprintf("is longer than %d bytes", maxURLLength))
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return nil, bad("does not parse as a URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, bad("must be an http or https URL")
	case u.Hostname() == "":
		return nil, bad("has no host")
	case u.User != nil:
		return nil, bad("must not carry credentials (user:password@); authenticate the receiver by the signature")
	case u.Fragment != "" || strings.HasSuffix(raw, "#"):
		return nil, bad("must not have a fragment")
	}
	if allowPrivate {
		return u, nil
	}
	host := u.Hostname()
	if ip, err := netip.ParseAddr(host); err == nil {
		if internal(ip) {
			return nil, &ValidationError{Field: "url", Private: true,
				Msg: fmt.Sprintf("%s is an internal address (loopback, private, link-local or metadata); only allowed with --webhook-allow-private", ip)}
		}
		return u, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	addrs, err := resolver.LookupNetIP(ctx, "ip", host)
	if err != nil || len(addrs) == 0 {
		return nil, bad(fmt.Sprintf("host %s does not resolve, so its address cannot be checked", host))
	}
	for _, ip := range addrs {
		if internal(ip) {
			return nil, &ValidationError{Field: "url", Private: true,
				Msg: fmt.Sprintf("host %s resolves to %s, an internal address (loopback, private, link-local or metadata); only allowed with --webhook-allow-private", host, ip.Unmap())}
		}
	}
	return u, nil
}

// guardControl refuses, at connect time, a connection to an internal
// address: the check that DNS rebinding cannot pass, as it sees the address
// actually dialled.
func guardControl(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("dial %s: %w", address, err)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("dial %s: %w", address, err)
	}
	if internal(ip) {
		return fmt.Errorf("dial %s: %w", address, ErrPrivateTarget)
	}
	return nil
}

// newClient returns the client an endpoint's deliveries are sent with: no
// proxy from the environment (it would dial for us, unchecked), no
// redirects followed (a 3xx answer is a failed attempt), up to conns
// keep-alive connections kept for reuse (the endpoint's attempts in
// flight: fewer would close and dial connections all the time), and,
// unless allowPrivate, internal addresses refused at connect time. Each
// attempt's timeout comes from its context. Each endpoint has its own, so
// endpoints on one host do not share, or fight over, one pool.
func newClient(allowPrivate bool, conns int) *http.Client {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		d.Control = guardControl
	}
	t := &http.Transport{
		Proxy:                  nil,
		DialContext:            d.DialContext,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           conns,
		MaxIdleConnsPerHost:    conns,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    10 * time.Second,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: 64 << 10,
		// The answer's body is dropped: asking for it compressed would
		// only add a header to every request.
		DisableCompression: true,
	}
	return &http.Client{
		Transport: t,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}
