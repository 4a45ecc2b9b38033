//! The egress rule from outside: which configured URLs reach the gateway,
//! which are refused with nothing sent (decoy listeners must accept no
//! connection), and that proxies and redirects lead nowhere else. Every
//! address used is on loopback.

use std::net::SocketAddr;

use aipermission_testkit::client::{McpSession, is_error, text_json};
use aipermission_testkit::{Decoy, Fault, StandIn};
use serde_json::json;

use crate::support::{TOKEN, binary, gateway};

async fn list_targets(url: &str, extra: &[(&str, &str)]) -> (bool, serde_json::Value) {
    let mut vars = vec![
        ("AIPERMISSION_API_URL", url),
        ("AIPERMISSION_API_TOKEN", TOKEN),
    ];
    vars.extend_from_slice(extra);
    let session = McpSession::start(binary(), &vars).await.unwrap();
    let result = session
        .call("list_connector_targets", json!({}))
        .await
        .unwrap();
    let stderr = session.finish().await.unwrap();
    assert!(!stderr.contains(TOKEN));
    (is_error(&result), text_json(&result))
}

#[tokio::test]
async fn normalised_loopback_spellings_reach_the_gateway() {
    let gateway = gateway().await;
    let port = gateway.addr().port();
    for url in [
        format!("http://127.0.0.1:{port}"),
        format!("http://127.1:{port}"),
        format!("http://0x7f.0.0.1:{port}/"),
        format!("http://2130706433:{port}"),
        format!(" http://localhost:{port} "),
        format!("HTTP://LOCALHOST:{port}"),
    ] {
        let (failed, body) = list_targets(&url, &[]).await;
        assert!(!failed, "{url}: {body}");
        assert_eq!(body.as_array().map(Vec::len), Some(3), "{url}");
    }
    assert_eq!(gateway.seen().len(), 6);
}

#[tokio::test]
async fn the_ipv6_loopback_origin_works_when_the_machine_has_one() {
    let Ok(gateway) = StandIn::start_on("[::1]:0".parse().unwrap(), TOKEN).await else {
        eprintln!("no IPv6 loopback here: nothing to check");
        return;
    };
    let port = gateway.addr().port();
    for url in [
        format!("http://[::1]:{port}"),
        format!("http://[0:0:0:0:0:0:0:1]:{port}/"),
    ] {
        let (failed, body) = list_targets(&url, &[]).await;
        assert!(!failed, "{url}: {body}");
    }
    assert_eq!(gateway.seen().len(), 2);
}

#[tokio::test]
async fn refused_urls_send_nothing_anywhere() {
    let decoy = Decoy::bind("127.0.0.1").await.unwrap();
    let p = decoy.port();
    // Another loopback address: Linux routes all of 127.0.0.0/8 locally.
    let other = Decoy::bind_addr(SocketAddr::from(([127, 0, 0, 2], 0)))
        .await
        .unwrap();
    let q = other.port();
    let refused = [
        format!("http://0.0.0.0:{p}"),
        format!("http://[::]:{p}"),
        format!("http://[::ffff:127.0.0.1]:{p}"),
        format!("http://127.0.0.2:{q}"),
        format!("http://user:hunter2@127.0.0.1:{p}"),
        format!("https://127.0.0.1:{p}"),
        format!("http://127.0.0.1:{p}?"),
        format!("http://127.0.0.1:{p}#"),
        format!("http://127.0.0.1:{p}?#"),
        format!("http://127.0.0.1:{p}/#"),
        format!("http://127.0.0.1:{p}/api"),
        format!("http://gateway.invalid:{p}"),
        format!("http://localhost.:{p}"),
        "not a url".to_owned(),
    ];
    for url in &refused {
        let (failed, body) = list_targets(url, &[]).await;
        assert!(failed, "{url} was accepted");
        assert_eq!(
            body,
            json!({
                "status": "error",
                "error": "Invalid local gateway URL configuration; update AIPERMISSION_API_URL."
            }),
            "{url}"
        );
    }
    assert_eq!(decoy.accepted(), 0, "a refused URL led to a connection");
    assert_eq!(other.accepted(), 0, "a refused URL led to a connection");
}

#[tokio::test]
async fn proxy_variables_are_ignored() {
    let gateway = gateway().await;
    let proxy = Decoy::bind("127.0.0.1").await.unwrap();
    let proxy_url = format!("http://127.0.0.1:{}", proxy.port());
    let vars: Vec<(&str, &str)> = [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ]
    .into_iter()
    .map(|name| (name, proxy_url.as_str()))
    .collect();
    let (failed, body) = list_targets(&gateway.url(), &vars).await;
    assert!(!failed, "{body}");
    assert_eq!(gateway.seen().len(), 1);
    assert_eq!(proxy.accepted(), 0, "the proxy saw the request");
}

#[tokio::test]
async fn redirects_are_returned_as_errors_and_never_followed() {
    let gateway = gateway().await;
    let elsewhere = Decoy::bind("127.0.0.1").await.unwrap();
    let location = format!(
        "http://127.0.0.1:{}/api/mcp/connector-targets",
        elsewhere.port()
    );
    gateway.set_fault(Some(Fault::Redirect(location)));
    let (failed, body) = list_targets(&gateway.url(), &[]).await;
    assert!(failed);
    assert_eq!(body["error"], "AIPermission API request failed with 302");
    assert_eq!(gateway.seen().len(), 1);
    assert_eq!(elsewhere.accepted(), 0, "the redirect was followed");
}
