//! Where a call's configuration comes from. Our host passes the origin it
//! pinned and the token's state in the call context and adds the token
//! itself, giving the component no environment at all. Another host
//! grants `AIPERMISSION_API_URL`, `AIPERMISSION_API_TOKEN` and
//! `AIPERMISSION_HTTP_TIMEOUT_MS` instead; the component then sends the
//! token itself. Either way the URL rule is applied here again before
//! anything is sent, so no host can point the component elsewhere.

use aipermission_core::origin::{self, GatewayOrigin};
use aipermission_core::settings::{TIMEOUT_VAR, parse_timeout_ms};

use crate::exports::aipermission::bridge::tools::{CallContext, TokenState};

const URL_VAR: &str = "AIPERMISSION_API_URL";
const TOKEN_VAR: &str = "AIPERMISSION_API_TOKEN";

/// What one call runs with.
pub struct Settings {
    /// None when the configured URL breaks the rule.
    pub origin: Option<GatewayOrigin>,
    pub token: Token,
    /// The deadline, or why the configured one is refused.
    pub timeout_ms: Result<u32, String>,
}

/// The token as the component knows it. No variant's `Debug` exists, so
/// it cannot be logged by accident.
pub enum Token {
    Missing,
    /// Set, but not usable as an HTTP header value.
    Invalid,
    /// The host holds the token and adds the header itself.
    Host,
    /// `Bearer <token>`, to be sent as the `Authorization` header.
    Bearer(String),
}

impl Settings {
    /// The settings our host passes with a call. A token in the
    /// environment, which only another host can grant, is sent as well:
    /// a host that passes a context of its own may not add the header.
    pub fn from_context(context: &CallContext) -> Settings {
        let origin = context
            .gateway_origin
            .as_deref()
            .and_then(|raw| origin::parse_gateway_url(Some(raw)).ok());
        let token = match (&context.token, env_token(&Environment::granted())) {
            (TokenState::Missing, _) => Token::Missing,
            (TokenState::Invalid, _) | (_, Token::Invalid) => Token::Invalid,
            (TokenState::Present, Token::Bearer(value)) => Token::Bearer(value),
            (TokenState::Present, _) => Token::Host,
        };
        Settings {
            origin,
            token,
            timeout_ms: parse_timeout_ms(Some(&context.timeout_ms.to_string())),
        }
    }

    /// The settings from the environment the host granted, read as our
    /// host reads its own: a blank URL means the default, a blank token
    /// is missing, a timeout that is not a whole number of milliseconds
    /// in range fails every call with a message naming the variable.
    pub fn from_environment() -> Settings {
        let env = Environment::granted();
        Settings {
            origin: origin::parse_gateway_url(env.var(URL_VAR)).ok(),
            token: env_token(&env),
            timeout_ms: parse_timeout_ms(env.var(TIMEOUT_VAR)),
        }
    }
}

/// The token of the environment, if one was granted.
fn env_token(env: &Environment) -> Token {
    match env.var(TOKEN_VAR) {
        None => Token::Missing,
        Some(token) if token.trim().is_empty() => Token::Missing,
        // The bytes an HTTP field value may hold: visible ASCII, space and
        // tab. Anything else could split or smuggle a header.
        Some(token)
            if token
                .bytes()
                .all(|b| b == b'\t' || (b' '..=b'~').contains(&b)) =>
        {
            Token::Bearer(format!("Bearer {token}"))
        }
        Some(_) => Token::Invalid,
    }
}

/// The environment the host granted, read once per call. Our host grants
/// none, so every lookup there is `None`.
struct Environment(Vec<(String, String)>);

impl Environment {
    fn granted() -> Environment {
        Environment(wasip2::cli::environment::get_environment())
    }

    fn var(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}
