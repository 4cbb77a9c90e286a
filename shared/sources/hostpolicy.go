package sources

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
)

// ErrHostNotAllowed is matched (errors.Is) by every refusal of the host
// policy, whether at CheckURL, on a redirect or at dial time.
var ErrHostNotAllowed = errors.New("host not allowed")

// HostError is a refusal by HostPolicy; it names the host and why.
type HostError struct {
	// Host is the refused host name or IP address.
	Host string
	// Why says which rule refused it.
	Why string
}

// Error implements error.
func (e *HostError) Error() string {
	return fmt.Sprintf("host %q not allowed: %s", e.Host, e.Why)
}

// Is makes errors.Is(err, ErrHostNotAllowed) true.
func (e *HostError) Is(target error) bool { return target == ErrHostNotAllowed }

// HostPolicy is the SSRF guard for user-supplied API URLs.
type HostPolicy struct {
	// Allow lists the hosts a URL may name: "api.example.com" (exact),
	// "*.example.com" (any subdomain, not example.com itself) or "*" (any
	// host, still subject to the private-address rule). Empty allows nothing.
	Allow []string
	// AllowPrivate permits loopback, private, link-local and other
	// non-public addresses; only for local development and tests.
	AllowPrivate bool
}

// CheckURL reports whether u may be fetched: http(s), a host on the
// allow-list and, unless AllowPrivate, not a literal non-public IP. Names are
// checked again at dial time against the addresses they resolve to.
func (p HostPolicy) CheckURL(u string) error {
	pu, err := url.Parse(u)
	if err != nil {
		return fmt.Errorf("parsing url: %w", err)
	}
	if pu.Scheme != "http" && pu.Scheme != "https" {
		return &HostError{Host: pu.Host, Why: fmt.Sprintf("scheme %q is not http or https", pu.Scheme)}
	}
	host := strings.TrimSuffix(strings.ToLower(pu.Hostname()), ".")
	if host == "" {
		return &HostError{Host: u, Why: "no host in url"}
	}
	if pu.User != nil {
		return &HostError{Host: host, Why: "credentials in url"}
	}
	if !p.allowed(host) {
		return &HostError{Host: host, Why: "not on the allow-list"}
	}
	if ip, err := netip.ParseAddr(host); err == nil && !p.AllowPrivate && !publicIP(ip) {
		return &HostError{Host: host, Why: "private or reserved address"}
	}
	return nil
}

// allowed matches host against the allow-list.
func (p HostPolicy) allowed(host string) bool {
	for _, a := range p.Allow {
		a = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(a)), ".")
		switch {
		case a == "*":
			return true
		case strings.HasPrefix(a, "*."):
			if strings.HasSuffix(host, a[1:]) && len(host) > len(a)-1 {
				return true
			}
		case a == host:
			return true
		}
	}
	return false
}

// DialControl runs after DNS resolution, on the exact address being
// connected to, so a name that resolves (or re-resolves, DNS rebinding) to a
// private address is refused even though the name itself is allowed.
func (p HostPolicy) DialControl(network, address string, _ syscall.RawConn) error {
	if p.AllowPrivate {
		return nil
	}
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return &HostError{Host: address, Why: "unparsable dial address"}
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return &HostError{Host: host, Why: "dial address is not an ip"}
	}
	if !publicIP(ip) {
		return &HostError{Host: host, Why: "private or reserved address at dial time"}
	}
	return nil
}

// reservedPrefixes are non-public ranges not covered by netip's predicates.
var reservedPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),       // "this network"
	netip.MustParsePrefix("100.64.0.0/10"),   // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),    // IETF protocol assignments
	netip.MustParsePrefix("198.18.0.0/15"),   // benchmarking
	netip.MustParsePrefix("240.0.0.0/4"),     // reserved, incl. broadcast
	netip.MustParsePrefix("64:ff9b:1::/48"),  // local-use NAT64
	netip.MustParsePrefix("2001:db8::/32"),   // documentation
	netip.MustParsePrefix("fec0::/10"),       // deprecated site-local
	netip.MustParsePrefix("100::/64"),        // discard-only
	netip.MustParsePrefix("2001::/23"),       // IETF protocol assignments
	netip.MustParsePrefix("::ffff:0:0:0/96"), // IPv4-translated
}

// nat64 is the well-known NAT64 prefix; its last 32 bits are an IPv4 address
// that must itself be public.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// publicIP reports whether ip is a public unicast address.
func publicIP(ip netip.Addr) bool {
	ip = ip.Unmap()
	if nat64.Contains(ip) {
		b := ip.As16()
		return publicIP(netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}))
	}
	if !ip.IsGlobalUnicast() || ip.IsPrivate() || ip.IsLoopback() || ip.IsLinkLocalUnicast() ||
		ip.IsUnspecified() || ip.IsMulticast() || ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() {
		return false
	}
	for _, p := range reservedPrefixes {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}
