//! The three environment variables `serve` reads, checked once at start:
//! the gateway URL (a refused URL fails every call, as the Node bridge
//! does), the token (kept only as a sensitive header value) and the HTTP
//! timeout (an invalid value stops the server before it starts).

use std::ffi::OsString;

use aipermission_core::origin::{self, GatewayOrigin, UrlError};
use aipermission_core::settings::{TIMEOUT_VAR, parse_timeout_ms};
use anyhow::{Result, bail};
use http::HeaderValue;

/// What `serve` runs with.
pub struct Settings {
    pub origin: Result<GatewayOrigin, UrlError>,
    pub token: Token,
    pub timeout_ms: u32,
}

/// The bearer token as the host holds it. `Debug` never shows it.
pub enum Token {
    Missing,
    /// Set, but not usable in an HTTP header (for example, it holds a
    /// newline).
    Invalid,
    /// `Bearer <token>`, marked sensitive.
    Present(HeaderValue),
}

impl Settings {
    /// Reads the settings from the process environment.
    pub fn from_env() -> Result<Settings> {
        Settings::from_vars(|name| std::env::var_os(name))
    }

    /// Reads the settings through `var`, which looks a variable up.
    pub fn from_vars(var: impl Fn(&str) -> Option<OsString>) -> Result<Settings> {
        let timeout = var(TIMEOUT_VAR);
        let timeout_ms = match timeout.as_ref().map(|t| t.to_str()) {
            None => parse_timeout_ms(None),
            Some(Some(text)) => parse_timeout_ms(Some(text)),
            Some(None) => Err(format!(
                "{TIMEOUT_VAR} must be a positive integer in milliseconds"
            )),
        };
        let timeout_ms = match timeout_ms {
            Ok(ms) => ms,
            Err(message) => bail!(message),
        };

        let origin = match var("AIPERMISSION_API_URL") {
            None => origin::parse_gateway_url(None),
            Some(raw) => match raw.to_str() {
                Some(text) => origin::parse_gateway_url(Some(text)),
                None => Err(UrlError::Invalid),
            },
        };

        let token = match var("AIPERMISSION_API_TOKEN") {
            None => Token::Missing,
            Some(raw) if raw.to_str().is_some_and(|t| t.trim().is_empty()) => Token::Missing,
            Some(raw) => match raw.to_str().map(bearer) {
                Some(Some(value)) => Token::Present(value),
                _ => Token::Invalid,
            },
        };

        Ok(Settings {
            origin,
            token,
            timeout_ms,
        })
    }
}

/// `Bearer <token>` as a header value, if the token can be one.
fn bearer(token: &str) -> Option<HeaderValue> {
    let mut value = HeaderValue::from_str(&format!("Bearer {token}")).ok()?;
    value.set_sensitive(true);
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings> {
        Settings::from_vars(|name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| OsString::from(v))
        })
    }

    #[test]
    fn defaults() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.origin.unwrap().as_str(), "http://localhost:3210");
        assert!(matches!(s.token, Token::Missing));
        assert_eq!(s.timeout_ms, 95_000);
    }

    #[test]
    fn a_blank_token_is_missing() {
        for blank in ["", "   ", "\t"] {
            let s = settings(&[("AIPERMISSION_API_TOKEN", blank)]).unwrap();
            assert!(matches!(s.token, Token::Missing), "{blank:?}");
        }
    }

    #[test]
    fn tokens_that_cannot_be_a_header_are_invalid() {
        let s = settings(&[("AIPERMISSION_API_TOKEN", "abc\ndef")]).unwrap();
        assert!(matches!(s.token, Token::Invalid));
        let s = settings(&[("AIPERMISSION_API_TOKEN", "aip_ok")]).unwrap();
        let Token::Present(value) = s.token else {
            panic!("token should be usable")
        };
        assert!(value.is_sensitive());
        assert!(!format!("{value:?}").contains("aip_ok"));
    }

    #[test]
    fn a_bad_timeout_stops_the_start_and_a_bad_url_does_not() {
        let err = settings(&[("AIPERMISSION_HTTP_TIMEOUT_MS", "1e3")])
            .err()
            .unwrap();
        assert!(err.to_string().contains("AIPERMISSION_HTTP_TIMEOUT_MS"));
        let s = settings(&[("AIPERMISSION_API_URL", "http://example.com")]).unwrap();
        assert!(s.origin.is_err());
    }
}
