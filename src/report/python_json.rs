//! `json.dumps` as Python writes it with default arguments (`", "` and `": "` separators,
//! insertion order, non-ASCII escaped): the text whose SHA-256 is the payload's `ContentHash`
//! (spec §5.4), so our hashes equal AWS's for the same content.

use std::fmt::Write as _;

use serde_json::{Map, Value};

/// Serialises a list of string maps exactly as Python's `json.dumps(content)` would.
///
/// ```
/// use patch_baseline::report::python_json_dumps;
/// let mut m = serde_json::Map::new();
/// m.insert("Id".into(), "caf\u{e9}".into());
/// assert_eq!(python_json_dumps(&[m]), r#"[{"Id": "caf\u00e9"}]"#);
/// ```
pub fn python_json_dumps(content: &[Map<String, Value>]) -> String {
    let mut out = String::with_capacity(content.len() * 256);
    out.push('[');
    for (i, map) in content.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_map(&mut out, map);
    }
    out.push(']');
    out
}

fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            let _ = write!(out, "{n}");
        }
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => write_map(out, map),
    }
}

fn write_map(out: &mut String, map: &Map<String, Value>) {
    out.push('{');
    for (i, (key, item)) in map.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_string(out, key);
        out.push_str(": ");
        write_value(out, item);
    }
    out.push('}');
}

fn write_string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}
