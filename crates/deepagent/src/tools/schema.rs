//! A light check of tool arguments against their JSON schema, so a model
//! that forgets a required field or sends the wrong type hears exactly
//! which, before the tool runs.

use serde_json::Value;

/// Checks `args` against an object schema: required properties present,
/// property types and enums respected (one level deep, plus array items).
/// Returns the problem in words.
///
/// ```
/// use deepagent::validate_args;
/// use serde_json::json;
/// let schema = json!({"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]});
/// assert!(validate_args(&schema, &json!({"path": "/a"})).is_ok());
/// assert_eq!(validate_args(&schema, &json!({})).unwrap_err(), "missing required argument `path`");
/// ```
pub fn validate_args(schema: &Value, args: &Value) -> Result<(), String> {
    let Some(obj) = args.as_object() else {
        return Err(format!(
            "arguments must be a JSON object, got {}",
            type_name(args)
        ));
    };
    if let Some(required) = schema.get("required").and_then(Value::as_array) {
        for r in required.iter().filter_map(Value::as_str) {
            if obj.get(r).is_none_or(Value::is_null) {
                return Err(format!("missing required argument `{r}`"));
            }
        }
    }
    let Some(props) = schema.get("properties").and_then(Value::as_object) else {
        return Ok(());
    };
    for (name, value) in obj {
        match props.get(name) {
            Some(sub) => check_value(sub, value).map_err(|p| format!("argument `{name}` {p}"))?,
            None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                let known: Vec<&str> = props.keys().map(String::as_str).collect();
                return Err(format!(
                    "unknown argument `{name}` (expected: {})",
                    known.join(", ")
                ));
            }
            None => {}
        }
    }
    Ok(())
}

fn check_value(schema: &Value, value: &Value) -> Result<(), String> {
    if value.is_null() {
        return Ok(());
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array) {
        if !options.contains(value) {
            let names: Vec<String> = options.iter().map(Value::to_string).collect();
            return Err(format!("must be one of {}, got {value}", names.join(", ")));
        }
    }
    let expected: Vec<&str> = match schema.get("type") {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => return Ok(()),
    };
    if !expected.iter().any(|t| matches_type(t, value)) {
        return Err(format!(
            "must be {}, got {}",
            expected.join(" or "),
            type_name(value)
        ));
    }
    if let (Some(items), Some(arr)) = (schema.get("items"), value.as_array()) {
        for (i, item) in arr.iter().enumerate() {
            if item.is_object() && items.get("properties").is_some() {
                validate_args(items, item).map_err(|p| format!("item {i}: {p}"))?;
            } else {
                check_value(items, item).map_err(|p| format!("item {i} {p}"))?;
            }
        }
    }
    Ok(())
}

fn matches_type(ty: &str, v: &Value) -> bool {
    match ty {
        "string" => v.is_string(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "array" => v.is_array(),
        "object" => v.is_object(),
        "null" => v.is_null(),
        _ => true,
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a number",
        Value::Number(_) => "an integer",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({"type": "object", "properties": {
            "path": {"type": "string"},
            "limit": {"type": "integer"},
            "mode": {"type": "string", "enum": ["a", "b"]},
            "items": {"type": "array", "items": {"type": "object",
                "properties": {"x": {"type": "string"}}, "required": ["x"]}}
        }, "required": ["path"]})
    }

    #[test]
    fn names_the_wrong_type() {
        let err = validate_args(&schema(), &json!({"path": 3})).unwrap_err();
        assert_eq!(err, "argument `path` must be string, got an integer");
    }

    #[test]
    fn checks_enums_and_array_items() {
        let err = validate_args(&schema(), &json!({"path": "/", "mode": "c"})).unwrap_err();
        assert!(err.contains("must be one of \"a\", \"b\""), "{err}");
        let err = validate_args(&schema(), &json!({"path": "/", "items": [{}]})).unwrap_err();
        assert_eq!(
            err,
            "argument `items` item 0: missing required argument `x`"
        );
    }

    #[test]
    fn refuses_non_objects_and_accepts_nulls_for_optionals() {
        assert!(validate_args(&schema(), &json!([1])).is_err());
        assert!(validate_args(&schema(), &json!({"path": "/", "limit": null})).is_ok());
    }
}
