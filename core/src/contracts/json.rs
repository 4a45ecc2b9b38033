//! Small strict readers over `serde_json::Value` for the contracts: each
//! returns a [`Violation`] naming the field's path and the broken rule.

use serde_json::{Map, Value};

use super::Violation;

/// Largest integer JSON carries exactly (2^53 - 1).
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

pub type Checked<T> = Result<T, Violation>;

pub fn violation(path: &str, rule: &'static str) -> Violation {
    Violation {
        path: path.to_owned(),
        rule,
    }
}

/// An object at `path`, read strictly: any key outside `allowed` fails.
pub struct Strict<'a> {
    map: &'a Map<String, Value>,
    path: String,
}

impl<'a> Strict<'a> {
    pub fn new(value: &'a Value, path: &str, allowed: &[&str]) -> Checked<Strict<'a>> {
        let map = value
            .as_object()
            .ok_or_else(|| violation(path, "must be an object"))?;
        if let Some(key) = map.keys().find(|key| !allowed.contains(&key.as_str())) {
            // The key is the gateway's, not a secret: keys are field names.
            return Err(Violation {
                path: format!("{path}.{key}"),
                rule: "is not a field of this contract",
            });
        }
        Ok(Strict {
            map,
            path: path.to_owned(),
        })
    }

    pub fn path(&self, key: &str) -> String {
        format!("{}.{key}", self.path)
    }

    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key)
    }

    pub fn has(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    pub fn required(&self, key: &str) -> Checked<&'a Value> {
        self.get(key)
            .ok_or_else(|| violation(&self.path(key), "is required"))
    }

    pub fn string(&self, key: &str) -> Checked<&'a str> {
        let value = self.required(key)?;
        value
            .as_str()
            .ok_or_else(|| violation(&self.path(key), "must be a string"))
    }

    pub fn non_empty_string(&self, key: &str) -> Checked<&'a str> {
        let value = self.string(key)?;
        if value.is_empty() {
            return Err(violation(&self.path(key), "must not be empty"));
        }
        Ok(value)
    }

    pub fn optional_string(&self, key: &str) -> Checked<Option<&'a str>> {
        match self.get(key) {
            None => Ok(None),
            Some(_) => self.string(key).map(Some),
        }
    }

    pub fn optional_bool(&self, key: &str) -> Checked<Option<bool>> {
        match self.get(key) {
            None => Ok(None),
            Some(value) => value
                .as_bool()
                .map(Some)
                .ok_or_else(|| violation(&self.path(key), "must be a boolean")),
        }
    }

    /// An integer within `min..=max`; `7.0` counts as 7.
    pub fn integer(&self, key: &str, min: u64, max: u64) -> Checked<u64> {
        let value = self.required(key)?;
        integer(value, &self.path(key), min, max)
    }

    pub fn optional_integer(&self, key: &str, min: u64, max: u64) -> Checked<Option<u64>> {
        match self.get(key) {
            None => Ok(None),
            Some(_) => self.integer(key, min, max).map(Some),
        }
    }

    pub fn optional_strings(&self, key: &str) -> Checked<()> {
        match self.get(key) {
            None => Ok(()),
            Some(value) => strings(value, &self.path(key)),
        }
    }

    /// A value that must be present and equal to `literal`.
    pub fn literal(&self, key: &str, literal: &Value) -> Checked<()> {
        if self.required(key)? != literal {
            return Err(violation(&self.path(key), "has the wrong value"));
        }
        Ok(())
    }

    /// A string that must be one of `allowed`.
    pub fn one_of(&self, key: &str, allowed: &[&str]) -> Checked<&'a str> {
        let value = self.string(key)?;
        if !allowed.contains(&value) {
            return Err(violation(&self.path(key), "is not one of the known values"));
        }
        Ok(value)
    }
}

/// A JSON integer (or a float with no fraction) within `min..=max`.
pub fn integer(value: &Value, path: &str, min: u64, max: u64) -> Checked<u64> {
    let number = match value {
        Value::Number(n) => match (n.as_u64(), n.as_f64()) {
            (Some(n), _) => Some(n),
            (None, Some(f)) if f.fract() == 0.0 && f >= 0.0 && f <= MAX_SAFE_INTEGER as f64 => {
                Some(f as u64)
            }
            _ => None,
        },
        _ => None,
    };
    number
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| violation(path, "must be an integer in range"))
}

/// An array whose every element is a string.
pub fn strings(value: &Value, path: &str) -> Checked<()> {
    let items = value
        .as_array()
        .ok_or_else(|| violation(path, "must be an array"))?;
    if items.iter().all(Value::is_string) {
        Ok(())
    } else {
        Err(violation(path, "must hold only strings"))
    }
}

/// An array, each element checked by `each` with its indexed path.
pub fn array<'a>(
    value: &'a Value,
    path: &str,
    mut each: impl FnMut(&'a Value, &str) -> Checked<()>,
) -> Checked<()> {
    let items = value
        .as_array()
        .ok_or_else(|| violation(path, "must be an array"))?;
    for (index, item) in items.iter().enumerate() {
        each(item, &format!("{path}[{index}]"))?;
    }
    Ok(())
}
