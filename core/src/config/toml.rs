//! TOML configs (Codex, Grok): edited in place with `toml_edit`, so
//! comments, other tables and other servers stay byte for byte. The
//! selected server's table and its sub-tables are replaced by a fresh
//! `[mcp_servers.<name>]` with its `env` sub-table, at the end of the file.

use serde_json::{Map, Value};
use toml_edit::{Array, DocumentMut, Item, Table, value};

use super::RenderError;

/// Sets `<root_key>.<name>` to `entry`; blank text is an empty document.
pub fn render(
    existing: &str,
    root_key: &str,
    name: &str,
    entry: &Value,
) -> Result<String, RenderError> {
    let mut doc = parse(existing)?;
    let last = last_position(doc.as_table());
    let servers = doc
        .entry(root_key)
        .or_insert_with(|| {
            let mut table = Table::new();
            table.set_implicit(true);
            Item::Table(table)
        })
        .as_table_mut()
        .ok_or_else(|| {
            RenderError(format!(
                "The TOML config's {root_key} is not a table; the existing file was left unchanged"
            ))
        })?;
    servers.remove(name);

    // Comments after the last table stay last; no trailing blank lines.
    let trailing = doc.trailing().as_str().unwrap_or("").trim_end().to_owned();
    doc.set_trailing(trailing.clone());
    let nothing_before = doc.to_string().lines().all(|line| {
        let line = line.trim();
        line.is_empty() || line.starts_with('#')
    });

    let mut table = Table::new();
    let mut env = Table::new();
    let object = entry.as_object().cloned().unwrap_or_default();
    for (key, field) in &object {
        match (key.as_str(), field) {
            ("env", Value::Object(vars)) => {
                for (var, val) in vars {
                    env.insert(var, Item::Value(to_toml(val)));
                }
            }
            _ => {
                table.insert(key, Item::Value(to_toml(field)));
            }
        }
    }
    table.insert("enabled", value(true));
    // After every table already in the file, whatever their order, and
    // after one blank line.
    table.set_position(Some(last + 1));
    env.set_position(Some(last + 2));
    table
        .decor_mut()
        .set_prefix(if nothing_before { "" } else { "\n" });
    env.decor_mut().set_prefix("\n");
    let servers = doc
        .get_mut(root_key)
        .and_then(Item::as_table_mut)
        .expect("the servers table was made above");
    table.insert("env", Item::Table(env));
    servers.insert(name, Item::Table(table));

    let mut text = doc.to_string();
    text.truncate(text.trim_end().len());
    text.push('\n');

    // Parse what will be written: it must hold exactly the entry.
    let written = parse(&text).ok().and_then(|d| {
        let item = d.get(root_key)?.get(name)?;
        Some(to_json(item))
    });
    let mut expected = object;
    expected.insert("enabled".into(), Value::Bool(true));
    match written {
        Some(Value::Object(w)) if w == expected => Ok(text),
        _ => Err(RenderError(
            "Could not safely update TOML config; the existing file was left unchanged".into(),
        )),
    }
}

/// The largest document position of any table, at any depth.
fn last_position(table: &Table) -> isize {
    let mut last = table.position().unwrap_or(0);
    for (_, item) in table.iter() {
        let nested = match item {
            Item::Table(t) => last_position(t),
            Item::ArrayOfTables(tables) => tables.iter().map(last_position).max().unwrap_or(0),
            _ => 0,
        };
        last = last.max(nested);
    }
    last
}

/// Parses a TOML config; the error names the line only, never content.
pub fn parse(text: &str) -> Result<DocumentMut, RenderError> {
    text.parse::<DocumentMut>().map_err(|err| {
        let line = err
            .span()
            .map(|span| text[..span.start.min(text.len())].matches('\n').count() + 1);
        let at = line.map(|l| format!(" (line {l})")).unwrap_or_default();
        RenderError(format!(
            "Could not parse TOML config{at}; the existing file was left unchanged"
        ))
    })
}

/// A TOML item as JSON, for checks that compare it with an entry.
/// Dates become strings; nothing here is read as a date.
pub fn to_json(item: &Item) -> Value {
    match item {
        Item::None => Value::Null,
        Item::Value(v) => value_to_json(v),
        Item::Table(t) => {
            Value::Object(t.iter().map(|(k, v)| (k.to_owned(), to_json(v))).collect())
        }
        Item::ArrayOfTables(tables) => Value::Array(
            tables
                .iter()
                .map(|t| to_json(&Item::Table(t.clone())))
                .collect(),
        ),
    }
}

fn value_to_json(v: &toml_edit::Value) -> Value {
    use toml_edit::Value as T;
    match v {
        T::String(s) => Value::String(s.value().clone()),
        T::Integer(i) => Value::from(*i.value()),
        T::Float(f) => serde_json::Number::from_f64(*f.value()).map_or(Value::Null, Value::Number),
        T::Boolean(b) => Value::Bool(*b.value()),
        T::Datetime(d) => Value::String(d.value().to_string()),
        T::Array(a) => Value::Array(a.iter().map(value_to_json).collect()),
        T::InlineTable(t) => {
            let map: Map<String, Value> = t
                .iter()
                .map(|(k, v)| (k.to_owned(), value_to_json(v)))
                .collect();
            Value::Object(map)
        }
    }
}

fn to_toml(v: &Value) -> toml_edit::Value {
    match v {
        Value::Bool(b) => (*b).into(),
        Value::Number(n) => match n.as_i64() {
            Some(i) => i.into(),
            None => n.as_f64().unwrap_or_default().into(),
        },
        Value::String(s) => s.as_str().into(),
        Value::Array(items) => {
            toml_edit::Value::Array(items.iter().map(to_toml).collect::<Array>())
        }
        Value::Object(map) => {
            let mut table = toml_edit::InlineTable::new();
            for (k, v) in map {
                table.insert(k, to_toml(v));
            }
            toml_edit::Value::InlineTable(table)
        }
        // TOML has no null; entries never hold one.
        Value::Null => "".into(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn entry(token: &str) -> Value {
        json!({"command": "/opt/bin/aipermission-mcp", "args": ["serve"],
               "env": {"AIPERMISSION_API_URL": "http://localhost:3210",
                       "AIPERMISSION_API_TOKEN": token}})
    }

    fn read(text: &str) -> Value {
        to_json(&Item::Table(parse(text).unwrap().as_table().clone()))
    }

    #[test]
    fn a_new_file_gets_the_server_and_its_env_table() {
        let text = render("", "mcp_servers", "aipermission", &entry("t")).unwrap();
        assert_eq!(
            text,
            "[mcp_servers.aipermission]\ncommand = \"/opt/bin/aipermission-mcp\"\n\
             args = [\"serve\"]\nenabled = true\n\n[mcp_servers.aipermission.env]\n\
             AIPERMISSION_API_URL = \"http://localhost:3210\"\nAIPERMISSION_API_TOKEN = \"t\"\n"
        );
    }

    #[test]
    fn only_the_selected_server_is_replaced_and_everything_else_kept() {
        let existing = "# my settings\nmodel = \"o3\" # inline\n\n\
                        [mcp_servers.\"aipermission\"] # old\ncommand = \"npx\"\n\n\
                        [mcp_servers.aipermission.env]\nOLD = \"1\"\n\n\
                        [mcp_servers.other]\ncommand = \"other\"\nnote = '''\n[mcp_servers.x]\n'''\n\n\
                        [[profiles]]\nname = \"p\"\n\n[preferences]\n__proto__ = { polluted = true }\n\
                        constructor = \"c\"\n";
        let once = render(existing, "mcp_servers", "aipermission", &entry("one")).unwrap();
        let twice = render(&once, "mcp_servers", "aipermission", &entry("two")).unwrap();
        let value = read(&twice);
        assert_eq!(
            value["mcp_servers"]["aipermission"]["env"]["AIPERMISSION_API_TOKEN"],
            "two"
        );
        assert!(
            value["mcp_servers"]["aipermission"]["env"]
                .get("OLD")
                .is_none()
        );
        assert_eq!(value["mcp_servers"]["other"]["note"], "[mcp_servers.x]\n");
        assert_eq!(value["preferences"]["__proto__"], json!({"polluted": true}));
        assert_eq!(value["profiles"][0]["name"], "p");
        assert!(
            twice.starts_with("# my settings\nmodel = \"o3\" # inline\n"),
            "{twice}"
        );
        assert!(twice.contains("[mcp_servers.other]\ncommand = \"other\"\nnote = '''\n"));
        assert!(twice.contains("[[profiles]]\nname = \"p\"\n"));
        assert!(!twice.contains("one"), "the old token is gone");
        assert_eq!(
            twice.matches("[mcp_servers.aipermission]").count(),
            1,
            "{twice}"
        );
    }

    #[test]
    fn the_server_goes_after_every_table_whatever_their_order() {
        // Found by the config_render fuzz target: a table declared after a
        // nested one used to end up below ours.
        let existing = "model = \"o\"\n[mcp.sermers.x]\ncommand = \"o\"\n[mcp]\nn = 0\n";
        let once = render(existing, "mcp_servers", "aipermission", &entry("t")).unwrap();
        assert!(once.starts_with(existing), "{once}");
        assert!(once.ends_with("AIPERMISSION_API_TOKEN = \"t\"\n"), "{once}");
        let twice = render(&once, "mcp_servers", "aipermission", &entry("t")).unwrap();
        assert_eq!(twice, once);
    }

    #[test]
    fn keys_and_strings_are_quoted() {
        let text = render("", "mcp_servers", "my.server", &entry("a\"b\nc")).unwrap();
        assert!(text.contains("[mcp_servers.\"my.server\"]"), "{text}");
        assert_eq!(
            read(&text)["mcp_servers"]["my.server"]["env"]["AIPERMISSION_API_TOKEN"],
            "a\"b\nc"
        );
    }

    #[test]
    fn malformed_files_and_odd_roots_are_refused_without_quoting_them() {
        let err = render("a = \"SECRET\nb = [", "mcp_servers", "a", &entry("t")).unwrap_err();
        assert!(err.0.starts_with("Could not parse TOML config"), "{err}");
        assert!(!err.0.contains("SECRET"));
        let err = render("mcp_servers = 1", "mcp_servers", "a", &entry("t")).unwrap_err();
        assert!(err.0.contains("is not a table"), "{err}");
    }
}
