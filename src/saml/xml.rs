//! A minimal XML writer that emits elements directly in exclusive-C14N form.
//!
//! Why our own writer and not a canonicalizer: we control every element we emit, so we write
//! attributes in canonical order, namespace declarations only where exclusive C14N renders them,
//! start/end tag pairs for empty elements, and C14N escaping. The bytes of a signed element are
//! then exactly what a verifier's canonicalizer produces (proved against libxml2 in the tests),
//! and we digest them without re-parsing. The document form is the canonical form with the
//! Signature (and `xmlns:xs`, which C14N drops) spliced in at recorded offsets.

/// The writer.
pub(crate) struct XmlWriter {
    pub(crate) out: String,
}

impl XmlWriter {
    pub(crate) fn new() -> Self {
        XmlWriter {
            out: String::with_capacity(8192),
        }
    }

    /// `<name a="v" ...>`; attributes must already be in canonical order (namespace
    /// declarations first, by prefix; then attributes by namespace URI and local name).
    pub(crate) fn open(&mut self, name: &str, attrs: &[(&str, &str)]) {
        self.out.push('<');
        self.out.push_str(name);
        for (k, v) in attrs {
            self.out.push(' ');
            self.out.push_str(k);
            self.out.push_str("=\"");
            escape_attr(&mut self.out, v);
            self.out.push('"');
        }
        self.out.push('>');
    }

    pub(crate) fn close(&mut self, name: &str) {
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
    }

    pub(crate) fn text(&mut self, text: &str) {
        escape_text(&mut self.out, text);
    }

    /// An element with text content (or empty: C14N writes start and end tags).
    pub(crate) fn leaf(&mut self, name: &str, attrs: &[(&str, &str)], text: &str) {
        self.open(name, attrs);
        self.text(text);
        self.close(name);
    }

    /// Appends already-formed XML.
    pub(crate) fn raw(&mut self, xml: &str) {
        self.out.push_str(xml);
    }
}

/// Copies `s` into `out`, replacing the ASCII bytes `escape` maps, in bulk slices (hot path).
/// Generic over the mapping so that each use is compiled with its own match inlined (a function
/// pointer cost an indirect call per byte of a 10 KB SAMLResponse).
#[inline]
fn escape_into<F: Fn(u8) -> Option<&'static str>>(out: &mut String, s: &str, escape: F) {
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if let Some(rep) = escape(b) {
            // Why slicing is safe: `b` is ASCII, so i is a char boundary.
            out.push_str(&s[start..i]);
            out.push_str(rep);
            start = i + 1;
        }
    }
    out.push_str(&s[start..]);
}

/// C14N text escaping: `&`, `<`, `>` and CR.
pub(crate) fn escape_text(out: &mut String, s: &str) {
    escape_into(out, s, |b| match b {
        b'&' => Some("&amp;"),
        b'<' => Some("&lt;"),
        b'>' => Some("&gt;"),
        b'\r' => Some("&#xD;"),
        _ => None,
    });
}

/// C14N attribute escaping: `&`, `<`, `"`, TAB, LF, CR.
pub(crate) fn escape_attr(out: &mut String, s: &str) {
    escape_into(out, s, |b| match b {
        b'&' => Some("&amp;"),
        b'<' => Some("&lt;"),
        b'"' => Some("&quot;"),
        b'\t' => Some("&#x9;"),
        b'\n' => Some("&#xA;"),
        b'\r' => Some("&#xD;"),
        _ => None,
    });
}

/// HTML escaping for the auto-POST form (`& < > " '`).
pub(crate) fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    escape_into(&mut out, s, |b| match b {
        b'&' => Some("&amp;"),
        b'<' => Some("&lt;"),
        b'>' => Some("&gt;"),
        b'"' => Some("&#34;"),
        b'\'' => Some("&#39;"),
        _ => None,
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_follows_c14n() {
        let mut w = XmlWriter::new();
        w.leaf("a", &[("b", "x\"<&\t\n\r>")], "<&>\r\"'");
        assert_eq!(w.out, "<a b=\"x&quot;&lt;&amp;&#x9;&#xA;&#xD;>\">&lt;&amp;&gt;&#xD;\"'</a>");
    }

    #[test]
    fn html_escaping_replaces_the_five_characters_and_keeps_the_rest() {
        assert_eq!(escape_html("a&b<c>d\"e'f+/=é"), "a&amp;b&lt;c&gt;d&#34;e&#39;f+/=é");
        assert_eq!(escape_html(""), "");
    }
}
