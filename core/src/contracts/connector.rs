//! Contracts of the connector routes: targets, help, action catalogs and
//! recorded action requests.

use serde_json::Value;

use super::json::{Checked, MAX_SAFE_INTEGER, Strict, array, violation};

/// Statuses of a connector action request.
pub const STATUSES: [&str; 10] = [
    "completed",
    "failed",
    "canceled",
    "running",
    "approval_pending",
    "blocked",
    "stale",
    "declined",
    "error",
    "outcome_unknown",
];

/// Retry classes of an action.
const RETRY_CLASSES: [&str; 4] = ["read_only", "idempotent", "conditional", "non_idempotent"];

/// Largest encoded action input the gateway accepts: 24 MiB.
pub const MAX_ACTION_INPUT_BYTES: u64 = 25_165_824;

/// Longest retry delay an answer may ask for: an hour.
pub const MAX_RETRY_AFTER_SECONDS: u64 = 3600;

/// Key names that target metadata must never carry, after normalisation.
const SECRET_NAMES: [&str; 8] = [
    "credential",
    "password",
    "passphrase",
    "private_key",
    "secret",
    "token",
    "api_key",
    "access_key",
];

pub fn targets(value: &Value) -> Checked<()> {
    array(value, "$", |target, path| {
        let t = Strict::new(
            target,
            path,
            &[
                "target_ref",
                "project_id",
                "project_name",
                "project_slug",
                "target_id",
                "target_name",
                "connector_kind",
                "profile_id",
                "profile_label",
                "profile_kind",
                "metadata",
                "actions",
                "hints",
            ],
        )?;
        let names = ["target_ref", "project_name", "project_slug", "target_name"];
        for key in names
            .into_iter()
            .chain(["connector_kind", "profile_label", "profile_kind"])
        {
            t.string(key)?;
        }
        for key in ["project_id", "target_id", "profile_id"] {
            t.integer(key, 1, MAX_SAFE_INTEGER)?;
        }
        if let Some(metadata) = t.get("metadata") {
            if !metadata.is_object() {
                return Err(violation(&t.path("metadata"), "must be an object"));
            }
            no_secret_keys(metadata, &t.path("metadata"))?;
        }
        array(
            t.required("actions")?,
            &t.path("actions"),
            |action, path| {
                let a = Strict::new(action, path, &["name", "execution_rule", "expires_at"])?;
                a.string("name")?;
                a.string("execution_rule")?;
                a.optional_string("expires_at")?;
                Ok(())
            },
        )?;
        t.optional_strings("hints")
    })
}

pub fn help(value: &Value) -> Checked<()> {
    let h = Strict::new(
        value,
        "$",
        &[
            "title",
            "summary",
            "usage",
            "warnings",
            "connector",
            "connector_id",
        ],
    )?;
    for key in ["title", "summary", "connector", "connector_id"] {
        h.string(key)?;
    }
    h.optional_strings("usage")?;
    h.optional_strings("warnings")
}

pub fn actions(value: &Value) -> Checked<()> {
    let list = Strict::new(value, "$", &["items"])?;
    array(list.required("items")?, "$.items", definition)
}

fn definition(value: &Value, path: &str) -> Checked<()> {
    let d = Strict::new(
        value,
        path,
        &[
            "name",
            "label",
            "description",
            "category",
            "risk",
            "input_schema",
            "sensitive_input_fields",
            "output_hint",
            "retry_policy",
            "max_input_bytes",
        ],
    )?;
    for key in ["name", "label", "description", "risk"] {
        d.string(key)?;
    }
    d.optional_string("category")?;
    d.optional_strings("sensitive_input_fields")?;

    let schema = Strict::new(
        d.required("input_schema")?,
        &d.path("input_schema"),
        &["fields"],
    )?;
    array(schema.required("fields")?, &schema.path("fields"), field)?;

    if let Some(hint) = d.get("output_hint") {
        let h = Strict::new(
            hint,
            &d.path("output_hint"),
            &[
                "format",
                "sensitive_fields",
                "temporary_capability_fields",
                "max_rows",
                "max_bytes",
            ],
        )?;
        h.optional_string("format")?;
        h.optional_strings("sensitive_fields")?;
        h.optional_strings("temporary_capability_fields")?;
        h.optional_integer("max_rows", 0, MAX_SAFE_INTEGER)?;
        h.optional_integer("max_bytes", 0, MAX_SAFE_INTEGER)?;
    }
    retry_policy(d.required("retry_policy")?, &d.path("retry_policy"))?;
    d.integer("max_input_bytes", 1, MAX_ACTION_INPUT_BYTES)?;
    Ok(())
}

fn field(value: &Value, path: &str) -> Checked<()> {
    let f = Strict::new(
        value,
        path,
        &[
            "name",
            "label",
            "type",
            "required",
            "preserve_whitespace",
            "secret",
            "description",
            "default",
            "options",
        ],
    )?;
    for key in ["name", "label", "type"] {
        f.string(key)?;
    }
    for key in ["required", "preserve_whitespace", "secret"] {
        f.optional_bool(key)?;
    }
    f.optional_string("description")?;
    if let Some(options) = f.get("options") {
        array(options, &f.path("options"), |option, path| {
            let o = Strict::new(option, path, &["value", "label"])?;
            o.string("value")?;
            o.string("label")?;
            Ok(())
        })?;
    }
    Ok(())
}

fn retry_policy(value: &Value, path: &str) -> Checked<()> {
    let r = Strict::new(value, path, &["class", "precondition_fields", "guidance"])?;
    r.one_of("class", &RETRY_CLASSES)?;
    r.optional_strings("precondition_fields")?;
    r.string("guidance")?;
    Ok(())
}

/// A call answer: the `stopped` shape, or a recorded request for the
/// requested target and action.
pub fn call(value: &Value, target_ref: &str, action_name: &str) -> Checked<()> {
    if value.get("status").and_then(Value::as_str) == Some("stopped") {
        return stopped(value);
    }
    let r = recorded(value)?;
    if r.string("action_name")? != action_name {
        return Err(violation("$.action_name", "is not the requested action"));
    }
    // A withheld answer may blank the target; it is then not compared.
    let withheld = r.optional_bool("output_withheld")? == Some(true);
    let blanked =
        withheld && r.string("target_ref")?.is_empty() && r.string("connector_kind")?.is_empty();
    if !blanked && r.string("target_ref")? != target_ref {
        return Err(violation("$.target_ref", "is not the requested target"));
    }
    Ok(())
}

/// A read answer: the recorded request with the requested id.
pub fn read(value: &Value, request_id: u64) -> Checked<()> {
    let r = recorded(value)?;
    if r.integer("request_id", 1, MAX_SAFE_INTEGER)? != request_id {
        return Err(violation("$.request_id", "is not the requested request"));
    }
    Ok(())
}

/// `{"status": "stopped", "error": "..."}`: the gateway's MCP runtime is
/// stopped and no request was recorded.
pub fn stopped(value: &Value) -> Checked<()> {
    let s = Strict::new(value, "$", &["status", "error"])?;
    s.literal("status", &Value::from("stopped"))?;
    s.non_empty_string("error")?;
    Ok(())
}

fn recorded(value: &Value) -> Checked<Strict<'_>> {
    let r = Strict::new(
        value,
        "$",
        &[
            "status",
            "request_id",
            "target_ref",
            "target_name",
            "connector_kind",
            "profile_label",
            "action_name",
            "input",
            "output",
            "display_text",
            "error",
            "retry_policy",
            "retry_after_seconds",
            "assistant_hint",
            "output_withheld",
            "replayed",
        ],
    )?;
    r.one_of("status", &STATUSES)?;
    r.integer("request_id", 1, MAX_SAFE_INTEGER)?;
    for key in ["target_ref", "connector_kind", "action_name"] {
        r.string(key)?;
    }
    for key in [
        "target_name",
        "profile_label",
        "display_text",
        "error",
        "assistant_hint",
    ] {
        r.optional_string(key)?;
    }
    if let Some(input) = r.get("input")
        && !input.is_object()
    {
        return Err(violation("$.input", "must be an object"));
    }
    retry_policy(r.required("retry_policy")?, "$.retry_policy")?;
    r.optional_integer("retry_after_seconds", 0, MAX_RETRY_AFTER_SECONDS)?;
    r.optional_bool("replayed")?;

    if r.optional_bool("output_withheld")? == Some(true) {
        for key in ["input", "output", "display_text", "error"] {
            if r.has(key) {
                return Err(violation(
                    &r.path(key),
                    "must be absent when output is withheld",
                ));
            }
        }
    } else {
        for key in ["target_ref", "connector_kind", "action_name"] {
            r.non_empty_string(key)?;
        }
    }
    Ok(r)
}

/// Rejects metadata whose keys, at any depth, name a secret.
fn no_secret_keys(value: &Value, path: &str) -> Checked<()> {
    match value {
        Value::Object(map) => {
            for (key, nested) in map {
                if names_a_secret(key) {
                    return Err(violation(path, "holds a key that names a secret"));
                }
                no_secret_keys(nested, &format!("{path}.{key}"))?;
            }
            Ok(())
        }
        Value::Array(items) => items.iter().try_for_each(|item| no_secret_keys(item, path)),
        _ => Ok(()),
    }
}

/// Whether a key, normalised to snake case (`privateKey`, `private-key`
/// and ` Private_Key ` all become `private_key`), contains one of the
/// secret names as a run of whole segments.
pub fn names_a_secret(key: &str) -> bool {
    let mut normalised = String::new();
    let mut previous: Option<char> = None;
    for c in key.trim().chars() {
        if c.is_ascii_alphanumeric() {
            let boundary = c.is_ascii_uppercase()
                && previous.is_some_and(|p| p.is_ascii_lowercase() || p.is_ascii_digit());
            if boundary {
                normalised.push('_');
            }
            normalised.push(c.to_ascii_lowercase());
        } else if !normalised.ends_with('_') {
            normalised.push('_');
        }
        previous = Some(c);
    }
    let segments: Vec<&str> = normalised.split('_').filter(|s| !s.is_empty()).collect();
    SECRET_NAMES.iter().any(|name| {
        let wanted: Vec<&str> = name.split('_').collect();
        segments
            .windows(wanted.len())
            .any(|window| window == wanted.as_slice())
    })
}
