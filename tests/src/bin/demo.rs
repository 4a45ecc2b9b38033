//! `just demo`: the bridge's main job on a stand-in gateway, step by step.
//!
//! Starts the stand-in AIPermission gateway with three sample targets,
//! starts the given `aipermission-mcp` binary under an MCP client, and
//! walks one round of discovery, a call that waits for the operator, the
//! operator's approval and the poll that shows the result.
//!
//! Usage: demo <path to aipermission-mcp>

use std::path::PathBuf;

use aipermission_testkit::StandIn;
use aipermission_testkit::client::{McpSession, is_error, text_json};
use anyhow::{Context, Result, bail, ensure};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<()> {
    let binary: PathBuf = std::env::args_os()
        .nth(1)
        .context("usage: demo <path to aipermission-mcp>")?
        .into();
    // A fresh token for this run; like any token, it is never printed.
    let token = format!("aip_demo_{}_{}", std::process::id(), nanos());

    let gateway = StandIn::start(&token).await?;
    println!("1. Stand-in gateway listening on {}", gateway.url());
    let url = gateway.url();
    let session = McpSession::start(
        &binary,
        &[
            ("AIPERMISSION_API_URL", &url),
            ("AIPERMISSION_API_TOKEN", &token),
        ],
    )
    .await?;
    let tools = session.client.list_all_tools().await?;
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_ref()).collect();
    println!(
        "2. Started {} under an MCP client; tools: {}",
        binary.display(),
        names.join(", ")
    );

    let targets = step(&session, "list_connector_targets", json!({})).await?;
    println!("3. list_connector_targets:");
    for target in targets.as_array().context("targets are a list")? {
        let actions: Vec<String> = target["actions"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| {
                format!(
                    "{} ({})",
                    a["name"].as_str().unwrap_or("?"),
                    a["execution_rule"].as_str().unwrap_or("?")
                )
            })
            .collect();
        println!(
            "     {}  {}  {}",
            target["target_ref"].as_str().unwrap_or("?"),
            target["target_name"].as_str().unwrap_or("?"),
            actions.join(", ")
        );
    }

    let help = step(
        &session,
        "get_connector_help",
        json!({"target_ref": "ssh:4:2"}),
    )
    .await?;
    println!(
        "4. get_connector_help ssh:4:2: {}: {}",
        help["title"].as_str().unwrap_or("?"),
        help["summary"].as_str().unwrap_or("?")
    );
    let actions = step(
        &session,
        "get_connector_actions",
        json!({"target_ref": "ssh:4:2"}),
    )
    .await?;
    let first = &actions["items"][0];
    println!(
        "5. get_connector_actions ssh:4:2: {} ({}, retry class {})",
        first["name"].as_str().unwrap_or("?"),
        first["risk"].as_str().unwrap_or("?"),
        first["retry_policy"]["class"].as_str().unwrap_or("?")
    );

    let call = step(
        &session,
        "call_connector_action",
        json!({
            "target_ref": "ssh:4:2", "action_name": "exec", "input": {"command": "uptime"},
            "reason": "Check the load before a deploy.", "idempotency_key": "demo-uptime-1"
        }),
    )
    .await?;
    let id = call["request_id"]
        .as_u64()
        .context("the call was recorded")?;
    ensure!(
        call["status"] == "approval_pending",
        "expected approval_pending, got {}",
        call["status"]
    );
    println!(
        "6. call_connector_action exec `uptime`: {} (request {id}); hint: {}",
        call["status"].as_str().unwrap_or("?"),
        call["assistant_hint"].as_str().unwrap_or("")
    );

    ensure!(gateway.approve(id), "the request was not pending");
    println!("7. The operator approves request {id} in the gateway");

    let done = step(
        &session,
        "get_connector_action_request",
        json!({"request_id": id}),
    )
    .await?;
    ensure!(
        done["status"] == "completed",
        "expected completed, got {}",
        done["status"]
    );
    println!(
        "8. get_connector_action_request {id}: {}, output: {}",
        done["status"].as_str().unwrap_or("?"),
        done["display_text"].as_str().unwrap_or("").trim()
    );

    let seen = gateway.seen();
    let bearer = format!("Bearer {token}");
    ensure!(
        seen.iter()
            .all(|s| s.header("authorization") == Some(bearer.as_str())),
        "a request lacked the token"
    );
    println!(
        "9. The gateway received {} requests, each with the bearer token the bridge added;",
        seen.len()
    );
    println!("   the sandboxed component never held it.");

    let stderr = session.finish().await?;
    if !stderr.is_empty() {
        bail!("the server wrote to stderr:\n{stderr}");
    }
    println!("Done.");
    Ok(())
}

/// Calls a tool, fails on an error result, and returns its JSON.
async fn step(session: &McpSession, tool: &str, arguments: Value) -> Result<Value> {
    let result = session.call(tool, arguments).await?;
    let value = text_json(&result);
    if is_error(&result) {
        bail!("{tool} failed: {value}");
    }
    Ok(value)
}

fn nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}
