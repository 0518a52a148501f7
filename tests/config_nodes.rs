//! Tenant settings for several nodes: the database URL and the trusted reverse proxies.

mod common;

fn demo_with(database: Option<&str>, server: &str) -> Result<idpipe::config::Tenant, idpipe::config::ConfigError> {
    let text = common::read("fixtures/tenant/demo.toml");
    let text: String = text
        .lines()
        .map(|l| match database {
            Some(d) if l.starts_with("database = ") => format!("database = \"{d}\"\n"),
            _ => format!("{l}\n"),
        })
        .collect();
    let file = common::root().join("fixtures/tenant/demo.toml");
    std::env::set_current_dir(common::root()).expect("cd");
    idpipe::config::load_str(&format!("{text}\n{server}"), &file.display().to_string())
}

#[test]
fn a_postgres_url_selects_postgres_and_a_path_stays_sqlite() {
    let t = demo_with(Some("postgres://idp:pw@db.internal/idpipe"), "").expect("loads");
    assert_eq!(t.database_url.as_deref(), Some("postgres://idp:pw@db.internal/idpipe"));
    let t = demo_with(Some("postgresql://db/idpipe"), "").expect("loads");
    assert!(t.database_url.is_some());
    for path in ["var/demo.sqlite", "postgres.sqlite", "./postgres://x"] {
        let t = demo_with(Some(path), "").expect("loads");
        assert_eq!(t.database_url, None, "{path} is a SQLite file");
    }
}

#[test]
fn trusted_proxies_are_addresses_or_ranges_and_nothing_else() {
    let t = demo_with(None, "[server]\ntrusted_proxies = [\"10.0.0.0/8\", \"192.0.2.7\", \"::1\"]\n").expect("loads");
    assert_eq!(t.trusted_proxies.len(), 3);
    assert!(demo_with(None, "").expect("loads").trusted_proxies.is_empty(), "none by default");
    for bad in [
        "\"*\"",
        "\"10.0.0.0/33\"",
        "\"proxy.internal\"",
        "\"\"",
        "\"10.0.0.1, 10.0.0.2\"",
        "42",
    ] {
        let r = demo_with(None, &format!("[server]\ntrusted_proxies = [{bad}]\n"));
        assert!(r.is_err(), "{bad} accepted");
    }
}
