//! The stand-in's Project Vault routes: one project, two items, Vault
//! actions that wait for approval (`generate_item`) or run at once
//! (`restart_session_with_environment`), polling and cancelling. Like the
//! real gateway, no answer ever carries a secret value.

use std::collections::HashMap;

use http::HeaderMap;
use serde_json::{Map, Value, json};

/// One recorded Vault action request.
struct Request {
    id: u64,
    action: String,
    input: Value,
    reason: String,
    status: &'static str,
    output: Option<Value>,
}

#[derive(Default)]
pub struct Vault {
    requests: Vec<Request>,
    /// Idempotency key → (identity, request id).
    keys: HashMap<String, (String, u64)>,
}

/// The one sample project, under every spelling the gateway accepts.
const PROJECT_REFS: [&str; 4] = ["lab", "slug:lab", "id:1", "1"];

impl Vault {
    pub fn route(
        &mut self,
        method: &str,
        route: &str,
        query: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> (u16, Value) {
        let requests = route.strip_prefix("/api/mcp/vault-action-requests/");
        match (method, route, requests) {
            ("GET", "/api/mcp/vault-items", _) => items(query),
            ("POST", "/api/mcp/vault-actions/call", _) => self.call(headers, body),
            ("GET", _, Some(id)) => match self.find(id) {
                Some(request) => (200, view(request)),
                None => not_found(),
            },
            ("POST", _, Some(rest)) => {
                match rest.strip_suffix("/cancel").map(|id| self.find_mut(id)) {
                    Some(Some(request)) if request.status == "approval_pending" => {
                        request.status = "canceled";
                        (200, view(request))
                    }
                    Some(Some(_)) => (
                        409,
                        json!({"error": "Vault action request is no longer pending"}),
                    ),
                    Some(None) => not_found(),
                    None => (404, json!({"error": "not found"})),
                }
            }
            _ => (404, json!({"error": "not found"})),
        }
    }

    /// Runs a pending request: it completes with its (value-free) output.
    pub fn approve(&mut self, id: u64) -> bool {
        match self.requests.iter_mut().find(|r| r.id == id) {
            Some(request) if request.status == "approval_pending" => {
                request.run();
                true
            }
            _ => false,
        }
    }

    fn call(&mut self, headers: &HeaderMap, body: &[u8]) -> (u16, Value) {
        let known = [
            "project_ref",
            "action_name",
            "input",
            "reason",
            "idempotency_key",
        ];
        let Some(fields) = super::strict_body(headers, body, &known) else {
            return (400, json!({"error": "invalid json body"}));
        };
        let text = |key: &str| {
            fields
                .get(key)
                .and_then(Value::as_str)
                .map(str::trim)
                .unwrap_or("")
        };
        let (project, action, reason, key) = (
            text("project_ref"),
            text("action_name"),
            text("reason"),
            text("idempotency_key"),
        );
        if project.is_empty() || key.is_empty() {
            return (
                400,
                json!({"error": "project_ref and idempotency_key are required"}),
            );
        }
        if reason.is_empty() {
            return (400, json!({"error": "reason is required"}));
        }
        if !PROJECT_REFS.contains(&project) {
            return (404, json!({"error": "project not found"}));
        }
        let input = fields
            .get("input")
            .cloned()
            .unwrap_or(Value::Object(Map::new()));

        let identity = json!([project, action, input, reason]).to_string();
        if let Some((known, id)) = self.keys.get(key) {
            if *known != identity {
                return (
                    409,
                    json!({"error": "Vault action idempotency key was already used"}),
                );
            }
            let id = *id;
            return (
                200,
                view(self.requests.iter().find(|r| r.id == id).expect("keyed")),
            );
        }
        let mut request = Request {
            id: self.requests.len() as u64 + 1,
            action: action.to_owned(),
            input,
            reason: reason.to_owned(),
            status: "approval_pending",
            output: None,
        };
        match action {
            "generate_item" => {}
            "restart_session_with_environment" => request.run(),
            _ => return (400, json!({"error": "unsupported Vault action"})),
        }
        self.keys.insert(key.to_owned(), (identity, request.id));
        let answer = view(&request);
        self.requests.push(request);
        (200, answer)
    }

    fn find(&self, id: &str) -> Option<&Request> {
        let id: u64 = id.parse().ok()?;
        self.requests.iter().find(|r| r.id == id)
    }

    fn find_mut(&mut self, id: &str) -> Option<&mut Request> {
        let id: u64 = id.parse().ok()?;
        self.requests.iter_mut().find(|r| r.id == id)
    }
}

impl Request {
    fn run(&mut self) {
        self.status = "completed";
        self.output = Some(match self.action.as_str() {
            "generate_item" => json!({
                "item": {
                    "vault_ref": "vault:3", "item_id": 3, "project_id": 1,
                    "name": self.input.get("name").cloned().unwrap_or(Value::from("item")),
                    "secret_type": "generic_secret", "status": "active", "expires_at": "",
                    "value_version": 1, "metadata_revision": 1
                },
                "secret_returned": false
            }),
            _ => json!({
                "session_id": 12, "session_generation": 2, "runtime_id": 1, "status": "running",
                "environment_names": ["DATABASE_URL"], "expires_at": "2030-01-01T00:00:00Z"
            }),
        });
    }
}

fn view(request: &Request) -> Value {
    let mut view = json!({
        "request_id": request.id,
        "status": request.status,
        "project_ref": "lab",
        "action_name": request.action,
        "input": request.input,
        "reason": request.reason,
        "created_at": "2026-12-01T10:00:00Z",
        "expires_at": "2026-12-01T10:15:00Z",
        "secret_values_returned": false,
    });
    if let Some(output) = &request.output {
        view["output"] = output.clone();
    }
    if request.status == "approval_pending" {
        view["retry_after_seconds"] = 3.into();
        view["assistant_hint"] =
            "Wait for the operator, then poll get_vault_action_request.".into();
    }
    view
}

fn items(query: &str) -> (u16, Value) {
    let project = url::form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == "project_ref")
        .map(|(_, value)| value.trim().to_owned());
    if project
        .as_deref()
        .is_some_and(|p| !PROJECT_REFS.contains(&p))
    {
        return (404, json!({"error": "project not found"}));
    }
    let item = |id: u64, name: &str, kind: &str| {
        json!({
            "vault_ref": format!("vault:{id}"), "item_id": id, "project_ref": "lab",
            "source_project_id": 1, "name": name, "secret_type": kind, "status": "active",
            "value_version": 1, "metadata_revision": 2
        })
    };
    let items = vec![
        item(1, "DATABASE_URL", "connection_string"),
        item(2, "DEPLOY_KEY", "ssh_key"),
    ];
    (
        200,
        json!({"items": items, "count": 2, "truncated": false, "secret_values_returned": false}),
    )
}

fn not_found() -> (u16, Value) {
    (404, json!({"error": "Vault action request not found"}))
}
