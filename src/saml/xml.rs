//! A minimal XML writer that emits elements directly in exclusive-C14N form.
//!
//! Why our own writer and not a canonicalizer: we control every element we emit, so we write
//! attributes in canonical order, namespace declarations only where exclusive C14N renders them,
//! start/end tag pairs for empty elements, and C14N escaping. The bytes of a signed element are
//! then exactly what a verifier's canonicalizer produces (proved against libxml2 in the tests),
//! and we digest them without re-parsing. `canonical == false` adds the few declarations that a
//! document needs but exclusive C14N drops (`xmlns:xs`, used only inside `xsi:type` values).

/// The writer.
pub(crate) struct XmlWriter {
    pub(crate) out: String,
    /// Whether to emit the exclusive-C14N form (true) or the document form (false).
    pub(crate) canonical: bool,
}

impl XmlWriter {
    pub(crate) fn new(canonical: bool) -> Self {
        XmlWriter {
            out: String::with_capacity(4096),
            canonical,
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

/// C14N text escaping: `&`, `<`, `>` and CR.
pub(crate) fn escape_text(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

/// C14N attribute escaping: `&`, `<`, `"`, TAB, LF, CR.
pub(crate) fn escape_attr(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#x9;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

/// HTML escaping for the auto-POST form (`& < > " '`).
pub(crate) fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_follows_c14n() {
        let mut w = XmlWriter::new(true);
        w.leaf("a", &[("b", "x\"<&\t\n\r>")], "<&>\r\"'");
        assert_eq!(w.out, "<a b=\"x&quot;&lt;&amp;&#x9;&#xA;&#xD;>\">&lt;&amp;&gt;&#xD;\"'</a>");
    }
}
