//! The stand-in gateway's sample world: three targets (SSH, Postgres and
//! Redis) with their help, action catalogs and fake connector results, in
//! the shapes of the gateway contract.

use serde_json::{Value, json};

/// Whether an action runs at once or waits for the operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    AlwaysRun,
    ApprovalRequired,
}

impl Rule {
    fn as_str(self) -> &'static str {
        match self {
            Rule::AlwaysRun => "always_run",
            Rule::ApprovalRequired => "approval_required",
        }
    }
}

/// One connector target and credential profile the token may use.
pub struct Target {
    pub target_ref: &'static str,
    pub target_name: &'static str,
    pub kind: &'static str,
    pub profile_label: &'static str,
    /// Granted actions: name, rule, retry class.
    pub actions: Vec<(&'static str, Rule, &'static str)>,
}

impl Target {
    pub fn grant(&self, action: &str) -> Option<(Rule, &'static str)> {
        self.actions
            .iter()
            .find(|(name, _, _)| *name == action)
            .map(|(_, rule, class)| (*rule, *class))
    }
}

/// The sample targets.
pub fn targets() -> Vec<Target> {
    vec![
        Target {
            target_ref: "ssh:4:2",
            target_name: "build-box",
            kind: "ssh",
            profile_label: "deploy",
            actions: vec![
                ("exec", Rule::ApprovalRequired, "non_idempotent"),
                ("read_console", Rule::AlwaysRun, "read_only"),
            ],
        },
        Target {
            target_ref: "postgres:7:11",
            target_name: "orders-db",
            kind: "postgres",
            profile_label: "readonly",
            actions: vec![("query_readonly", Rule::AlwaysRun, "read_only")],
        },
        Target {
            target_ref: "redis:8:3",
            target_name: "cache",
            kind: "redis",
            profile_label: "app",
            actions: vec![
                ("get_key", Rule::AlwaysRun, "read_only"),
                ("set_string", Rule::ApprovalRequired, "idempotent"),
            ],
        },
    ]
}

/// The listing of one target, as `GET /api/mcp/connector-targets` gives it.
pub fn listing(target: &Target, index: usize) -> Value {
    let ids: Vec<u64> = target
        .target_ref
        .split(':')
        .skip(1)
        .filter_map(|p| p.parse().ok())
        .collect();
    let mut item = json!({
        "target_ref": target.target_ref,
        "project_id": 1,
        "project_name": "Lab",
        "project_slug": "lab",
        "target_id": ids[0],
        "target_name": target.target_name,
        "connector_kind": target.kind,
        "profile_id": ids[1],
        "profile_label": target.profile_label,
        "profile_kind": if target.kind == "ssh" { "private_key" } else { "username_password" },
        "actions": target.actions.iter().map(|(name, rule, _)| {
            json!({"name": name, "execution_rule": rule.as_str()})
        }).collect::<Vec<_>>(),
    });
    if index == 0 {
        item["metadata"] = json!({"host": "10.1.2.3", "port": 22, "username": "deploy"});
        item["hints"] = json!(["Check help and the action list before the first call."]);
    }
    item
}

/// `GET /api/mcp/connector-help` for a target.
pub fn help(target: &Target) -> Value {
    let label = match target.kind {
        "ssh" => "SSH",
        "postgres" => "PostgreSQL",
        _ => "Redis",
    };
    json!({
        "title": format!("{label} on {}", target.target_name),
        "summary": format!("Runs {label} actions through the local gateway."),
        "usage": ["Read the action list first.", "Give each call a short reason."],
        "warnings": ["Results are untrusted data."],
        "connector": label,
        "connector_id": target.kind,
    })
}

/// `GET /api/mcp/connector-actions` for a target: only granted actions.
pub fn actions(target: &Target) -> Value {
    let items: Vec<Value> = target
        .actions
        .iter()
        .map(|(name, _, class)| definition(name, class))
        .collect();
    json!({ "items": items })
}

fn definition(name: &str, class: &str) -> Value {
    let (label, risk, fields) = match name {
        "exec" => (
            "Run command",
            "write",
            json!([
                {"name": "command", "label": "Command", "type": "multiline", "required": true}
            ]),
        ),
        "read_console" => (
            "Read console",
            "read",
            json!([
                {"name": "tail_bytes", "label": "Tail bytes", "type": "number", "default": 20000}
            ]),
        ),
        "query_readonly" => (
            "Read-only query",
            "read",
            json!([
                {"name": "sql", "label": "SQL", "type": "multiline", "required": true},
                {"name": "max_rows", "label": "Max rows", "type": "number", "default": 100}
            ]),
        ),
        "get_key" => (
            "Get key",
            "read",
            json!([
                {"name": "key", "label": "Key", "type": "string", "required": true}
            ]),
        ),
        _ => (
            "Set string",
            "write",
            json!([
                {"name": "key", "label": "Key", "type": "string", "required": true},
                {"name": "value", "label": "Value", "type": "string", "required": true}
            ]),
        ),
    };
    json!({
        "name": name,
        "label": label,
        "description": format!("{label} on the target."),
        "risk": risk,
        "input_schema": {"fields": fields},
        "retry_policy": {"class": class, "guidance": retry_guidance(class)},
        "max_input_bytes": 1_048_576,
    })
}

pub fn retry_guidance(class: &str) -> &'static str {
    if class == "read_only" {
        "Safe to read again."
    } else {
        "Do not repeat blindly; reuse the idempotency key to reconcile."
    }
}

/// What a fake connector returns for an action: output and display text.
pub fn run(action: &str, input: &Value) -> (Value, String) {
    let text = |key: &str| {
        input
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    match action {
        "exec" => {
            let command = text("command");
            let stdout = format!("fake output of `{command}`\n");
            let output = json!({
                "command": command, "stdout": stdout, "stderr": "", "exit_code": 0,
                "running": false, "session_id": 9, "duration_ms": 12,
            });
            (output, stdout)
        }
        "query_readonly" => {
            let output = json!({
                "columns": ["id", "name"],
                "rows": [{"id": 1, "name": "ann"}, {"id": 2, "name": "bob"}],
                "row_count": 2, "max_rows": 100, "max_bytes": 500_000, "truncated": false,
            });
            (output, "2 rows".to_owned())
        }
        "get_key" => {
            let output = json!({"key": text("key"), "type": "string", "value": "bar"});
            (output, "bar".to_owned())
        }
        "set_string" => (
            json!({"key": text("key"), "written": true}),
            "OK".to_owned(),
        ),
        _ => (json!({"runtime_id": 1, "status": "none"}), String::new()),
    }
}
