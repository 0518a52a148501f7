//! Small helpers shared by several modules.

/// Compares two secrets in time independent of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && openssl::memcmp::eq(a, b)
}

/// Repairs a PEM whose line breaks were lost (e.g. pasted into JSON without `\n`), the way the
/// hosted service accepts it: the base64 body is re-wrapped at 64 characters.
pub fn normalize_pem(pem: &str) -> String {
    let pem = pem.trim().replace("\\n", "\n").replace("\r\n", "\n");
    let Some(begin_end) = pem
        .find("-----BEGIN ")
        .and_then(|b| pem[b + 11..].find("-----").map(|e| b + 11 + e + 5))
    else {
        return pem;
    };
    let header = &pem[..begin_end];
    let Some(footer_start) = pem.rfind("-----END ") else {
        return pem;
    };
    if footer_start < begin_end {
        return pem;
    }
    let footer = &pem[footer_start..];
    let body: String = pem[begin_end..footer_start].chars().filter(|c| !c.is_whitespace()).collect();
    let mut out = String::with_capacity(pem.len() + 8);
    out.push_str(header.trim());
    out.push('\n');
    for chunk in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(footer.trim());
    out.push('\n');
    out
}

/// Whether a string contains only characters allowed in XML 1.0 documents.
pub fn is_xml_text(s: &str) -> bool {
    s.chars()
        .all(|c| matches!(c, '\u{9}' | '\u{A}' | '\u{D}' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}'))
}

/// `n` random bytes from OpenSSL's CSPRNG, hex-encoded.
pub fn random_hex(n: usize) -> String {
    let mut buf = vec![0u8; n];
    // rand_bytes only fails when the CSPRNG cannot be seeded; nothing sensible can go on then.
    openssl::rand::rand_bytes(&mut buf).expect("the OpenSSL CSPRNG is unavailable");
    hex::encode(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_without_newlines_is_rewrapped() {
        let body = "A".repeat(100);
        let flat = format!("-----BEGIN CERTIFICATE-----{body}-----END CERTIFICATE-----");
        let fixed = normalize_pem(&flat);
        let lines: Vec<&str> = fixed.lines().collect();
        assert_eq!(lines[0], "-----BEGIN CERTIFICATE-----");
        assert_eq!(lines[1].len(), 64);
        assert_eq!(lines[2].len(), 36);
        assert_eq!(lines[3], "-----END CERTIFICATE-----");
    }

    #[test]
    fn xml_text_rejects_control_characters() {
        assert!(is_xml_text("a\nb\té"));
        assert!(!is_xml_text("a\u{1}b"));
        assert!(!is_xml_text("\u{FFFE}"));
    }

    #[test]
    fn constant_time_eq_compares() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
