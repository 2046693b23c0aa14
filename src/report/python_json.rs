//! `json.dumps` as Python writes it with default arguments (`", "` and `": "` separators,
//! insertion order, non-ASCII escaped): the text whose SHA-256 is the payload's `ContentHash`
//! (spec §5.4), so our hashes equal AWS's for the same content. The text can be had whole
//! ([`python_json_dumps`]) or only hashed as it is written ([`ContentHasher`]), which never
//! holds more than a small buffer of it.

use std::fmt::Write as _;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// Serialises a list of string maps exactly as Python's `json.dumps(content)` would.
///
/// ```
/// use patch_baseline::report::python_json_dumps;
/// let mut m = serde_json::Map::new();
/// m.insert("Id".into(), "caf\u{e9}".into());
/// assert_eq!(python_json_dumps(&[m]), r#"[{"Id": "caf\u00e9"}]"#);
/// ```
pub fn python_json_dumps(content: &[Map<String, Value>]) -> String {
    let mut out = Vec::with_capacity(content.len() * 256);
    write_content(&mut out, content);
    // Only ASCII is ever written.
    String::from_utf8(out).unwrap_or_default()
}

/// The lower-case hexadecimal SHA-256 of [`python_json_dumps`]`(content)`.
pub fn python_json_sha256(content: &[Map<String, Value>]) -> String {
    let mut sink = HashSink::new();
    write_content(&mut sink, content);
    sink.finish()
}

/// The SHA-256 of the `json.dumps` text of a list of string maps, fed one map at a time as
/// `(key, value)` pairs in order: the same digest as [`python_json_sha256`] of those maps,
/// without making them.
///
/// ```
/// use patch_baseline::report::{ContentHasher, python_json_sha256};
/// let mut m = serde_json::Map::new();
/// m.insert("Id".into(), "caf\u{e9}".into());
/// let mut hasher = ContentHasher::new();
/// hasher.push([("Id", "caf\u{e9}")]);
/// assert_eq!(hasher.finish(), python_json_sha256(&[m]));
/// ```
pub struct ContentHasher {
    sink: HashSink,
    maps: usize,
}

impl Default for ContentHasher {
    fn default() -> Self {
        Self::new()
    }
}

impl ContentHasher {
    /// A hasher of an empty list so far.
    pub fn new() -> Self {
        let mut sink = HashSink::new();
        sink.byte(b'[');
        Self { sink, maps: 0 }
    }

    /// Adds one map to the list.
    pub fn push<K: AsRef<str>, V: AsRef<str>>(&mut self, pairs: impl IntoIterator<Item = (K, V)>) {
        if self.maps > 0 {
            self.sink.bytes(b", ");
        }
        self.maps += 1;
        self.sink.byte(b'{');
        for (i, (key, value)) in pairs.into_iter().enumerate() {
            if i > 0 {
                self.sink.bytes(b", ");
            }
            write_string(&mut self.sink, key.as_ref());
            self.sink.bytes(b": ");
            write_string(&mut self.sink, value.as_ref());
        }
        self.sink.byte(b'}');
    }

    /// The digest of the list, in lower-case hexadecimal.
    pub fn finish(mut self) -> String {
        self.sink.byte(b']');
        self.sink.finish()
    }
}

/// Where the text goes: a whole buffer, or a hasher fed in blocks.
trait Sink {
    fn bytes(&mut self, bytes: &[u8]);
    fn byte(&mut self, byte: u8);
}

impl Sink for Vec<u8> {
    fn bytes(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
    fn byte(&mut self, byte: u8) {
        self.push(byte);
    }
}

/// The text's bytes are hashed whenever this many are buffered.
const HASH_BUFFER: usize = 64 * 1024;

struct HashSink {
    hasher: Sha256,
    buffer: Vec<u8>,
}

impl HashSink {
    fn new() -> Self {
        Self {
            hasher: Sha256::new(),
            buffer: Vec::with_capacity(HASH_BUFFER * 2),
        }
    }

    /// The digest in hex, after what is still buffered.
    fn finish(mut self) -> String {
        self.hasher.update(&self.buffer);
        let mut hex = String::with_capacity(64);
        for byte in self.hasher.finalize() {
            let _ = write!(hex, "{byte:02x}");
        }
        hex
    }
}

impl Sink for HashSink {
    fn bytes(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
        if self.buffer.len() >= HASH_BUFFER {
            self.hasher.update(&self.buffer);
            self.buffer.clear();
        }
    }
    fn byte(&mut self, byte: u8) {
        self.buffer.push(byte);
    }
}

fn write_content(out: &mut impl Sink, content: &[Map<String, Value>]) {
    out.byte(b'[');
    for (i, map) in content.iter().enumerate() {
        if i > 0 {
            out.bytes(b", ");
        }
        write_map(out, map);
    }
    out.byte(b']');
}

fn write_value(out: &mut impl Sink, value: &Value) {
    match value {
        Value::Null => out.bytes(b"null"),
        Value::Bool(b) => out.bytes(if *b { b"true" } else { b"false" }),
        Value::Number(n) => out.bytes(n.to_string().as_bytes()),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.byte(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.bytes(b", ");
                }
                write_value(out, item);
            }
            out.byte(b']');
        }
        Value::Object(map) => write_map(out, map),
    }
}

fn write_map(out: &mut impl Sink, map: &Map<String, Value>) {
    out.byte(b'{');
    for (i, (key, item)) in map.iter().enumerate() {
        if i > 0 {
            out.bytes(b", ");
        }
        write_string(out, key);
        out.bytes(b": ");
        write_value(out, item);
    }
    out.byte(b'}');
}

/// Whether a byte is written as itself: printable ASCII but `"` and `\`, as Python's
/// `ensure_ascii` escaping (`[^\ -~]` and the two) leaves it.
const PLAIN: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0x20;
    while byte <= 0x7e {
        table[byte] = byte != b'"' as usize && byte != b'\\' as usize;
        byte += 1;
    }
    table
};

/// A JSON string as Python writes it: printable ASCII as is (runs of it copied at once),
/// everything else escaped, non-ASCII as UTF-16 `\uXXXX` units.
fn write_string(out: &mut impl Sink, text: &str) {
    out.byte(b'"');
    let mut rest = text;
    loop {
        let plain = rest
            .bytes()
            .position(|b| !PLAIN[usize::from(b)])
            .unwrap_or(rest.len());
        out.bytes(&rest.as_bytes()[..plain]);
        rest = &rest[plain..];
        let Some(c) = rest.chars().next() else {
            break;
        };
        rest = &rest[c.len_utf8()..];
        match c {
            '"' => out.bytes(b"\\\""),
            '\\' => out.bytes(b"\\\\"),
            '\n' => out.bytes(b"\\n"),
            '\r' => out.bytes(b"\\r"),
            '\t' => out.bytes(b"\\t"),
            '\u{08}' => out.bytes(b"\\b"),
            '\u{0c}' => out.bytes(b"\\f"),
            c => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.bytes(format!("\\u{unit:04x}").as_bytes());
                }
            }
        }
    }
    out.byte(b'"');
}
