//! The operator skill: the bundled `SKILL.md` and the check every skill
//! text passes before it is installed (closed YAML frontmatter with the
//! exact name and a description, then instructions).

use yaml_rust2::{Yaml, YamlLoader};

/// The skill's required name, which is also its directory.
pub const SKILL_NAME: &str = "aipermission-operator";

/// The skill shipped with the bridge.
pub const BUNDLED: &str = include_str!("../../../skills/aipermission-operator/SKILL.md");

/// Checks a skill text and returns it with exactly one trailing newline
/// ensured. The error says which rule failed, never the text.
pub fn validate(text: &str) -> Result<String, String> {
    let invalid = |why: &str| format!("Invalid aipermission-operator skill: {why}.");
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text.split_inclusive('\n');
    let first = lines.next().unwrap_or("");
    if first.trim_end() != "---" {
        return Err(invalid("it must begin with closed YAML frontmatter (---)"));
    }
    let mut frontmatter = String::new();
    let mut closed = false;
    let mut offset = first.len();
    for line in lines.by_ref() {
        offset += line.len();
        if line.trim_end() == "---" {
            closed = true;
            break;
        }
        frontmatter.push_str(line);
    }
    if !closed {
        return Err(invalid("it must begin with closed YAML frontmatter (---)"));
    }
    let docs = YamlLoader::load_from_str(&frontmatter)
        .map_err(|_| invalid("its frontmatter is invalid YAML"))?;
    let meta = docs.first().cloned().unwrap_or(Yaml::Null);
    if meta["name"].as_str() != Some(SKILL_NAME) {
        return Err(invalid(
            "its frontmatter must have the exact skill name aipermission-operator",
        ));
    }
    let described = meta["description"].as_str().map(str::trim);
    if described.is_none_or(str::is_empty) {
        return Err(invalid("its frontmatter must include a description"));
    }
    if text[offset..].trim().is_empty() {
        return Err(invalid("it must include instructions after frontmatter"));
    }
    let mut out = text.to_owned();
    if !out.ends_with('\n') {
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contracts::CONNECTOR_STATUSES as STATUSES;

    #[test]
    fn the_bundled_skill_is_valid_and_names_itself() {
        let text = validate(BUNDLED).unwrap();
        assert_eq!(text, BUNDLED);
        assert!(text.contains("# AIPermission Operator"));
    }

    #[test]
    fn the_skills_terminal_statuses_are_the_contracts_minus_the_waiting_ones() {
        let section = BUNDLED
            .split("## Terminal statuses")
            .nth(1)
            .and_then(|rest| rest.split("\n## ").next())
            .unwrap();
        let listed: Vec<&str> = section
            .lines()
            .filter_map(|l| l.strip_prefix("- `")?.strip_suffix('`'))
            .collect();
        let expected: Vec<&str> = STATUSES
            .into_iter()
            .filter(|s| !["approval_pending", "running"].contains(s))
            .collect();
        assert_eq!(listed, expected);
    }

    #[test]
    fn broken_skills_say_which_rule_they_break() {
        let cases = [
            ("no frontmatter", "begin with closed YAML frontmatter"),
            (
                "---\nname: aipermission-operator\n",
                "closed YAML frontmatter",
            ),
            ("---\nname: [unclosed\n---\nbody", "invalid YAML"),
            (
                "---\nname: other\ndescription: d\n---\nbody",
                "exact skill name",
            ),
            (
                "---\nname: aipermission-operator\n---\nbody",
                "include a description",
            ),
            (
                "---\nname: aipermission-operator\ndescription: \" \"\n---\nbody",
                "description",
            ),
            (
                "---\nname: aipermission-operator\ndescription: d\n---\n \n",
                "instructions after",
            ),
        ];
        for (text, expected) in cases {
            let err = validate(text).unwrap_err();
            assert!(err.contains(expected), "{text:?}: {err}");
        }
        let ok = validate("---\nname: aipermission-operator\ndescription: d\n---\nbody").unwrap();
        assert!(ok.ends_with("body\n"));
    }
}
