//! Parsing of the numeric environment settings the bridge reads at start.

/// Gateway request deadline when `AIPERMISSION_HTTP_TIMEOUT_MS` is unset or
/// empty: 95 s, a little above the gateway's own 90 s deadline for action
/// calls, so the gateway answers first when it can.
pub const DEFAULT_TIMEOUT_MS: u32 = 95_000;

/// Largest accepted deadline, 10 minutes: longer than any gateway route
/// waits, and the longest a client should be left without an answer.
pub const MAX_TIMEOUT_MS: u32 = 600_000;

/// The name of the timeout variable, for messages.
pub const TIMEOUT_VAR: &str = "AIPERMISSION_HTTP_TIMEOUT_MS";

/// Parses `AIPERMISSION_HTTP_TIMEOUT_MS` strictly: after trimming, empty
/// means the default; otherwise a positive base-10 integer with no sign,
/// leading zero, exponent or trailing text, at most [`MAX_TIMEOUT_MS`].
pub fn parse_timeout_ms(raw: Option<&str>) -> Result<u32, String> {
    let value = raw.map(str::trim).unwrap_or("");
    if value.is_empty() {
        return Ok(DEFAULT_TIMEOUT_MS);
    }
    let well_formed = value.bytes().all(|b| b.is_ascii_digit()) && !value.starts_with('0');
    if !well_formed {
        return Err(format!(
            "{TIMEOUT_VAR} must be a positive integer in milliseconds"
        ));
    }
    // Digits only, so the one way to fail is overflow: far above the cap.
    match value.parse::<u64>() {
        Ok(ms) if ms <= u64::from(MAX_TIMEOUT_MS) => Ok(ms as u32),
        _ => Err(format!(
            "{TIMEOUT_VAR} must not exceed {MAX_TIMEOUT_MS} milliseconds"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_documented_values() {
        assert_eq!(parse_timeout_ms(None), Ok(95_000));
        assert_eq!(parse_timeout_ms(Some("  ")), Ok(95_000));
        assert_eq!(parse_timeout_ms(Some("100")), Ok(100));
        assert_eq!(parse_timeout_ms(Some(" 600000 ")), Ok(600_000));
    }

    #[test]
    fn refuses_everything_else_naming_the_variable() {
        for bad in [
            "0",
            "1000junk",
            "1e3",
            "-1",
            "+5",
            "0100",
            "600001",
            "2147483648",
            "1.5",
        ] {
            let err = parse_timeout_ms(Some(bad)).unwrap_err();
            assert!(err.contains(TIMEOUT_VAR), "{bad}: {err}");
        }
        assert!(
            parse_timeout_ms(Some("600001"))
                .unwrap_err()
                .contains("must not exceed")
        );
        assert!(
            parse_timeout_ms(Some("99999999999999999999999"))
                .unwrap_err()
                .contains("exceed")
        );
    }
}
