//! Splitting of the cache bodies (tab-separated fields, newline-terminated lines) by byte
//! search: the same pieces as `str::split('\t')` and `str::split_terminator('\n')`, found with
//! `memchr` instead of the generic character searcher, which spent more time per short field
//! than the decoding of it.

/// The pieces of `text` between `separator` bytes, as `text.split(separator as char)` gives
/// them (an empty text is one empty piece). `separator` must be ASCII.
#[derive(Debug, Clone)]
pub struct Fields<'a> {
    rest: Option<&'a str>,
    separator: u8,
}

impl<'a> Fields<'a> {
    /// The fields of `text` separated by `separator` (an ASCII byte).
    pub fn new(text: &'a str, separator: u8) -> Self {
        debug_assert!(separator.is_ascii());
        Fields {
            rest: Some(text),
            separator,
        }
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let rest = self.rest?;
        // An ASCII byte is always a character boundary.
        if let Some(at) = memchr::memchr(self.separator, rest.as_bytes()) {
            self.rest = rest.get(at + 1..);
            rest.get(..at)
        } else {
            self.rest = None;
            Some(rest)
        }
    }
}

/// The tab-separated fields of one cache line.
pub fn tabs(line: &str) -> Fields<'_> {
    Fields::new(line, b'\t')
}

/// The lines of `body`, each without its newline, as `body.split_terminator('\n')` gives them
/// (no empty last line after a final newline).
pub fn lines(body: &str) -> impl Iterator<Item = &str> {
    let whole = body.strip_suffix('\n').unwrap_or(body);
    let mut fields = Fields::new(whole, b'\n');
    if body.is_empty() {
        fields.rest = None;
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_pieces_as_the_standard_splitters() {
        for text in [
            "",
            "\t",
            "a",
            "a\tb",
            "a\t\tb\t",
            "\ta\tb",
            "é\tü\t€",
            "\n",
            "\n\n",
            "a\nb",
            "a\nb\n",
            "a\n\nb\n\n",
            "\na",
        ] {
            assert_eq!(
                tabs(text).collect::<Vec<_>>(),
                text.split('\t').collect::<Vec<_>>(),
                "{text:?}"
            );
            assert_eq!(
                lines(text).collect::<Vec<_>>(),
                text.split_terminator('\n').collect::<Vec<_>>(),
                "{text:?}"
            );
        }
    }
}
