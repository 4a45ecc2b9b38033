//! The loopback URL rule: never panics; whatever it accepts is a loopback
//! origin that passes the rule again unchanged; and the host's request
//! check admits only the configured host and port.
#![no_main]

use aipermission_core::origin::parse_gateway_url;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(origin) = parse_gateway_url(Some(text)) {
        let again = parse_gateway_url(Some(origin.as_str())).expect("a normalised origin passes");
        assert_eq!(again, origin);
        assert!(!text.contains(['?', '#']));
        assert!(origin.admits(Some("http"), &origin.authority()).is_ok());
        assert!(
            origin
                .socket_addrs()
                .iter()
                .all(|addr| addr.ip().is_loopback())
        );
    }

    let default = parse_gateway_url(None).expect("the default origin passes");
    if default.admits(Some("http"), text).is_ok() {
        let lower = text.to_ascii_lowercase();
        let port = lower
            .strip_prefix("localhost:")
            .expect("only localhost is admitted");
        assert_eq!(port.parse::<u16>().ok(), Some(3210));
    }
});
