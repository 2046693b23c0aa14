//! A minimal, allocation-free reader of deb822 control data (dpkg status, Packages, Release):
//! paragraphs separated by blank lines, `Field: value` lines, continuation lines starting with
//! a space or tab.

/// Iterates the paragraphs of a deb822 text, with the 1-based line each starts on.
pub struct Paragraphs<'a> {
    text: &'a [u8],
    position: usize,
    line: usize,
}

impl<'a> Paragraphs<'a> {
    /// Starts at the beginning of `text`.
    pub fn new(text: &'a [u8]) -> Self {
        Self {
            text,
            position: 0,
            line: 1,
        }
    }
}

impl<'a> Iterator for Paragraphs<'a> {
    type Item = (usize, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        // Skip blank lines between paragraphs.
        while self.position < self.text.len() {
            let rest = &self.text[self.position..];
            let end = memchr::memchr(b'\n', rest).map_or(rest.len(), |i| i + 1);
            if rest[..end].iter().all(u8::is_ascii_whitespace) {
                self.position += end;
                self.line += 1;
            } else {
                break;
            }
        }
        if self.position >= self.text.len() {
            return None;
        }
        let start = self.position;
        let first_line = self.line;
        let rest = &self.text[start..];
        let mut offset = 0;
        loop {
            match memchr::memchr(b'\n', &rest[offset..]) {
                None => {
                    offset = rest.len();
                    break;
                }
                Some(i) => {
                    offset += i + 1;
                    self.line += 1;
                    if rest.get(offset) == Some(&b'\n') || offset >= rest.len() {
                        break;
                    }
                }
            }
        }
        self.position = start + offset;
        Some((first_line, &rest[..offset]))
    }
}

/// The value of `name` in a paragraph (first line only, trimmed), if present and UTF-8.
pub fn field_value<'a>(paragraph: &'a [u8], name: &str) -> Option<&'a str> {
    let name = name.as_bytes();
    let mut rest = paragraph;
    while !rest.is_empty() {
        let end = memchr::memchr(b'\n', rest).unwrap_or(rest.len());
        let line = &rest[..end];
        if line.len() > name.len()
            && line[name.len()] == b':'
            && line[..name.len()].eq_ignore_ascii_case(name)
        {
            return std::str::from_utf8(&line[name.len() + 1..])
                .ok()
                .map(str::trim);
        }
        rest = rest.get(end + 1..).unwrap_or(&[]);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paragraphs_and_fields() {
        let text = b"\n\nPackage: a\nDescription: x\n more\nVersion: 1\n\n\nPackage: b\nVersion: 2";
        let paragraphs: Vec<_> = Paragraphs::new(text).collect();
        assert_eq!(paragraphs.len(), 2);
        assert_eq!(paragraphs[0].0, 3);
        assert_eq!(field_value(paragraphs[0].1, "version"), Some("1"));
        assert_eq!(field_value(paragraphs[1].1, "Version"), Some("2"));
        assert_eq!(paragraphs[1].0, 9);
        assert_eq!(field_value(paragraphs[1].1, "Architecture"), None);
    }
}
