package webhooks

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"

	"github.com/failforward/failforward/internal/experiments"
)

// maxURL is the longest target URL accepted.
const maxURL = 2000

// ErrTargetRefused reports a connection the delivery engine refused to
// open, because the target's address is loopback, private, link-local or
// otherwise not on the public internet.
var ErrTargetRefused = errors.New("target address refused")

// checkTarget validates a target URL. Plain http needs allowPlain. An IP
// literal is checked here for a clear answer; a host name is checked when
// a delivery dials it, against the address it resolves to then.
func checkTarget(raw string, allowPlain, allowPrivate bool) error {
	const field = "target_url"
	if raw == "" {
		return experiments.Invalid(field, "is required")
	}
	if len(raw) > maxURL {
		return experiments.Invalid(field, "is longer than %d characters", maxURL)
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "" {
		return experiments.Invalid(field, "is not an absolute URL")
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && allowPlain:
	case u.Scheme == "http":
		return experiments.Invalid(field, "must be https:// (plain http needs allow_plain_http)")
	default:
		return experiments.Invalid(field, "must be an https:// URL, not %s://", u.Scheme)
	}
	if u.User != nil {
		return experiments.Invalid(field, "must not carry credentials")
	}
	if u.Fragment != "" {
		return experiments.Invalid(field, "must not have a fragment")
	}
	if ip, err := netip.ParseAddr(u.Hostname()); err == nil && !allowPrivate && !public(ip) {
		return experiments.Invalid(field, "address %s is not a public address", ip)
	}
	return nil
}

// nonPublic lists the IPv4 ranges that netip does not classify but that
// are no receiver on the internet either.
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, and broadcast
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("fec0::/10"),       // deprecated site-local
	netip.MustParsePrefix("192.0.2.0/24"),    // documentation
	netip.MustParsePrefix("198.51.100.0/24"), // documentation
	netip.MustParsePrefix("203.0.113.0/24"),  // documentation
}

// nat64 is the well-known NAT64 prefix: its addresses embed an IPv4
// address, which is what gets reached.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// public reports whether ip is an address a delivery may connect to.
func public(ip netip.Addr) bool {
	ip = ip.Unmap()
	if nat64.Contains(ip) {
		b := ip.As16()
		ip = netip.AddrFrom4([4]byte(b[12:]))
	}
	if !ip.IsValid() || ip.IsLoopback() || ip.IsPrivate() || ip.IsUnspecified() || ip.IsLinkLocalUnicast() ||
		ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() || ip.IsMulticast() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// guardDial refuses, at dial time, a connection to an address that is not
// public. Checking the address actually dialled, after resolution, is
// what stops a host name that resolves to a public address when the
// subscription is created and to 127.0.0.1 when it is delivered to (DNS
// rebinding).
func guardDial(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrTargetRefused, address, err)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !public(ip) {
		return fmt.Errorf("%w: %s is not a public address", ErrTargetRefused, host)
	}
	return nil
}

// newClient returns the HTTP client deliveries use: no proxy (a proxy
// would dial the target in our place, past the address check), no
// redirects followed, and a deadline on each step of a request.
func newClient(timeout time.Duration, allowPrivate bool, tlsConfig *tls.Config) *http.Client {
	dialer := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		dialer.Control = guardDial
	}
	transport := &http.Transport{
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
	}
	if tlsConfig != nil {
		transport.TLSClientConfig = tlsConfig.Clone()
	}
	return &http.Client{
		Transport: transport,
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}
