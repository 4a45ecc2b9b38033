//! The loopback URL rule for `AIPERMISSION_API_URL`, and the check the host
//! applies to every outgoing request against the origin it produced.
//!
//! The rule follows the Node bridge: parse as a WHATWG URL (so `127.1`,
//! `0x7f.0.0.1` and `2130706433` become `127.0.0.1`, and
//! `[0:0:0:0:0:0:0:1]` becomes `[::1]`), require `http`, no credentials,
//! host exactly `localhost`, `127.0.0.1` or `[::1]`, and nothing after the
//! origin. This is the only implementation of the rule in the workspace.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use url::{Host, Url};

/// Used when `AIPERMISSION_API_URL` is unset or blank.
pub const DEFAULT_GATEWAY_URL: &str = "http://localhost:3210";

/// The variable the rule's messages name.
const VAR: &str = "AIPERMISSION_API_URL";

/// The three host spellings the rule admits, after normalisation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoopbackHost {
    /// `localhost`: the host maps it to 127.0.0.1 and ::1 itself, without
    /// asking a resolver.
    Localhost,
    /// `127.0.0.1`.
    Ipv4,
    /// `[::1]`.
    Ipv6,
}

impl LoopbackHost {
    /// The host as it appears in a URL authority.
    pub fn as_str(self) -> &'static str {
        match self {
            LoopbackHost::Localhost => "localhost",
            LoopbackHost::Ipv4 => "127.0.0.1",
            LoopbackHost::Ipv6 => "[::1]",
        }
    }

    /// The addresses a connection to this host may use, in the order to
    /// try them. All are loopback by construction; nothing is resolved.
    pub fn addresses(self) -> &'static [IpAddr] {
        const V4: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
        const V6: IpAddr = IpAddr::V6(Ipv6Addr::LOCALHOST);
        match self {
            LoopbackHost::Localhost => &[V4, V6],
            LoopbackHost::Ipv4 => &[V4],
            LoopbackHost::Ipv6 => &[V6],
        }
    }
}

/// A gateway origin that passed the rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GatewayOrigin {
    host: LoopbackHost,
    port: u16,
    normalized: String,
}

impl GatewayOrigin {
    /// The origin as text without a trailing slash, e.g.
    /// `http://localhost:3210` (`http://localhost` for port 80).
    pub fn as_str(&self) -> &str {
        &self.normalized
    }

    /// The normalised host.
    pub fn host(&self) -> LoopbackHost {
        self.host
    }

    /// The port, 80 when the URL left it out.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The authority the component uses for requests: host, and the port
    /// unless it is 80.
    pub fn authority(&self) -> String {
        match self.port {
            80 => self.host.as_str().to_owned(),
            port => format!("{}:{port}", self.host.as_str()),
        }
    }

    /// The socket addresses a request to this origin may connect to.
    pub fn socket_addrs(&self) -> Vec<SocketAddr> {
        self.host
            .addresses()
            .iter()
            .map(|ip| SocketAddr::new(*ip, self.port))
            .collect()
    }

    /// Checks one outgoing request's scheme and authority against this
    /// origin. The match is exact: the component builds its requests from
    /// [`GatewayOrigin::authority`], so any other spelling, another port,
    /// credentials or another scheme is a request this origin never made.
    pub fn admits(&self, scheme: Option<&str>, authority: &str) -> Result<(), Denial> {
        if scheme != Some("http") {
            return Err(Denial::Scheme);
        }
        if authority.contains('@') {
            return Err(Denial::Credentials);
        }
        let (host, port) = split_authority(authority).ok_or(Denial::Authority)?;
        if !host.eq_ignore_ascii_case(self.host.as_str()) {
            return Err(Denial::Host);
        }
        if port != self.port {
            return Err(Denial::Port);
        }
        Ok(())
    }
}

impl fmt::Display for GatewayOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.normalized)
    }
}

/// Why the host refused an outgoing request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Denial {
    /// Not plain `http`.
    Scheme,
    /// The authority carries user information.
    Credentials,
    /// The authority does not parse as `host[:port]`.
    Authority,
    /// The host is not the configured gateway host.
    Host,
    /// The port is not the configured gateway port.
    Port,
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Denial::Scheme => "scheme is not http",
            Denial::Credentials => "authority carries credentials",
            Denial::Authority => "authority is malformed",
            Denial::Host => "host is not the configured gateway host",
            Denial::Port => "port is not the configured gateway port",
        })
    }
}

/// Why a configured URL was refused. The messages never repeat the URL, so
/// they cannot leak credentials written into it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UrlError {
    /// Not a URL at all.
    Invalid,
    /// A scheme other than `http`.
    NotHttp,
    /// User name or password present.
    Credentials,
    /// A host other than the three loopback spellings.
    NotLoopback,
    /// A path, query or fragment after the origin.
    NotOrigin,
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UrlError::Invalid => write!(f, "{VAR} must be a valid local HTTP URL."),
            UrlError::NotHttp => write!(f, "{VAR} must use http:// for the local gateway."),
            UrlError::Credentials => write!(f, "{VAR} must not contain URL credentials."),
            UrlError::NotLoopback => {
                write!(f, "{VAR} must point to localhost, 127.0.0.1, or [::1].")
            }
            UrlError::NotOrigin => write!(
                f,
                "{VAR} must be the gateway origin only, for example {DEFAULT_GATEWAY_URL}."
            ),
        }
    }
}

impl std::error::Error for UrlError {}

/// Applies the rule to a configured value (`None` or blank means the
/// default) and returns the normalised origin.
pub fn parse_gateway_url(raw: Option<&str>) -> Result<GatewayOrigin, UrlError> {
    let text = raw.map(str::trim).filter(|t| !t.is_empty());
    let text = text.unwrap_or(DEFAULT_GATEWAY_URL);
    let url = Url::parse(text).map_err(|_| UrlError::Invalid)?;

    if url.scheme() != "http" {
        return Err(UrlError::NotHttp);
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(UrlError::Credentials);
    }
    let host = match url.host() {
        Some(Host::Domain("localhost")) => LoopbackHost::Localhost,
        Some(Host::Ipv4(ip)) if ip == Ipv4Addr::LOCALHOST => LoopbackHost::Ipv4,
        Some(Host::Ipv6(ip)) if ip == Ipv6Addr::LOCALHOST => LoopbackHost::Ipv6,
        _ => return Err(UrlError::NotLoopback),
    };
    // A WHATWG parser drops a bare `?` or `#`, so look at the raw text too.
    if url.path() != "/" || text.contains(['?', '#']) {
        return Err(UrlError::NotOrigin);
    }

    let port = url.port().unwrap_or(80);
    let normalized = url.as_str().trim_end_matches('/').to_owned();
    Ok(GatewayOrigin {
        host,
        port,
        normalized,
    })
}

/// Splits `host[:port]` (with `[v6]` hosts kept in brackets); the port
/// defaults to 80 and must be plain decimal digits.
fn split_authority(authority: &str) -> Option<(&str, u16)> {
    let (host, port) = if authority.starts_with('[') {
        let end = authority.find(']')? + 1;
        let rest = &authority[end..];
        let port = match rest {
            "" => None,
            _ => Some(rest.strip_prefix(':')?),
        };
        (&authority[..end], port)
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let port = match port {
        None => 80,
        Some(p) if !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()) => {
            p.parse().ok()?
        }
        Some(_) => return None,
    };
    (!host.is_empty()).then_some((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normalized(raw: &str) -> String {
        parse_gateway_url(Some(raw)).unwrap().as_str().to_owned()
    }

    #[test]
    fn default_and_blank_give_localhost_3210() {
        for raw in [None, Some(""), Some("   ")] {
            let origin = parse_gateway_url(raw).unwrap();
            assert_eq!(origin.as_str(), "http://localhost:3210");
            assert_eq!(origin.host(), LoopbackHost::Localhost);
        }
    }

    #[test]
    fn normalises_loopback_spellings() {
        assert_eq!(normalized("http://127.1:3210"), "http://127.0.0.1:3210");
        assert_eq!(
            normalized("http://0x7f.0.0.1:3210/"),
            "http://127.0.0.1:3210"
        );
        assert_eq!(normalized("http://2130706433:9"), "http://127.0.0.1:9");
        assert_eq!(
            normalized("http://[0:0:0:0:0:0:0:1]:3210"),
            "http://[::1]:3210"
        );
        assert_eq!(normalized("http://[::1]:3210/"), "http://[::1]:3210");
        assert_eq!(normalized("HTTP://LOCALHOST:3210"), "http://localhost:3210");
        assert_eq!(normalized(" http://localhost:80 "), "http://localhost");
    }

    #[test]
    fn refuses_everything_else() {
        let cases = [
            ("not a url", UrlError::Invalid),
            ("https://localhost:3210", UrlError::NotHttp),
            ("ftp://localhost", UrlError::NotHttp),
            ("http://user:pw@localhost:3210", UrlError::Credentials),
            ("http://user@127.0.0.1", UrlError::Credentials),
            ("http://127.0.0.2:3210", UrlError::NotLoopback),
            ("http://0.0.0.0:3210", UrlError::NotLoopback),
            ("http://[::]:3210", UrlError::NotLoopback),
            ("http://[::ffff:127.0.0.1]:3210", UrlError::NotLoopback),
            ("http://localhost.:3210", UrlError::NotLoopback),
            ("http://example.com", UrlError::NotLoopback),
            ("http://localhost.example.com:3210", UrlError::NotLoopback),
            ("http://localhost:3210/api", UrlError::NotOrigin),
            ("http://localhost:3210?", UrlError::NotOrigin),
            ("http://localhost:3210#", UrlError::NotOrigin),
            ("http://localhost:3210?#", UrlError::NotOrigin),
            ("http://localhost:3210/#", UrlError::NotOrigin),
            ("http://localhost:3210/?a=1", UrlError::NotOrigin),
        ];
        for (raw, want) in cases {
            assert_eq!(parse_gateway_url(Some(raw)), Err(want), "{raw}");
        }
    }

    #[test]
    fn messages_never_repeat_credentials() {
        let err = parse_gateway_url(Some("http://alice:hunter2@localhost")).unwrap_err();
        let text = err.to_string();
        assert!(
            !text.contains("hunter2") && !text.contains("alice"),
            "{text}"
        );
    }

    #[test]
    fn admits_only_the_exact_origin() {
        let origin = parse_gateway_url(Some("http://localhost:3210")).unwrap();
        assert_eq!(origin.admits(Some("http"), "localhost:3210"), Ok(()));
        assert_eq!(origin.admits(Some("http"), "LocalHost:3210"), Ok(()));
        assert_eq!(
            origin.admits(Some("https"), "localhost:3210"),
            Err(Denial::Scheme)
        );
        assert_eq!(origin.admits(None, "localhost:3210"), Err(Denial::Scheme));
        assert_eq!(
            origin.admits(Some("http"), "localhost:3211"),
            Err(Denial::Port)
        );
        assert_eq!(origin.admits(Some("http"), "localhost"), Err(Denial::Port));
        assert_eq!(
            origin.admits(Some("http"), "127.0.0.1:3210"),
            Err(Denial::Host)
        );
        assert_eq!(
            origin.admits(Some("http"), "u@localhost:3210"),
            Err(Denial::Credentials)
        );
        assert_eq!(
            origin.admits(Some("http"), "localhost:+3210"),
            Err(Denial::Authority)
        );
        assert_eq!(origin.admits(Some("http"), ":3210"), Err(Denial::Authority));

        let v6 = parse_gateway_url(Some("http://[::1]")).unwrap();
        assert_eq!(v6.authority(), "[::1]");
        assert_eq!(v6.admits(Some("http"), "[::1]"), Ok(()));
        assert_eq!(v6.admits(Some("http"), "[::1]:80"), Ok(()));
        assert_eq!(v6.admits(Some("http"), "[::]:80"), Err(Denial::Host));
        assert_eq!(v6.admits(Some("http"), "[::1]x"), Err(Denial::Authority));
    }

    #[test]
    fn addresses_are_loopback_only() {
        let origin = parse_gateway_url(None).unwrap();
        let addrs = origin.socket_addrs();
        assert_eq!(addrs.len(), 2);
        assert!(
            addrs
                .iter()
                .all(|a| a.ip().is_loopback() && a.port() == 3210)
        );
    }
}
