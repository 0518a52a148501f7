//! The demo apps `make run` serves (fixtures/tenant/demo_apps.py: an Authlib relying party and
//! a python3-saml SP) against a running idpipe: a first login ends on a page of validated claims.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::idp::*;
use common::root;
use serde_json::json;

struct Kill(std::process::Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_demo_apps_show_validated_oidc_claims_and_saml_attributes() {
    let port = free_port();
    let app = format!("http://127.0.0.1:{port}");
    let dir = tempfile::tempdir().expect("tmp");
    let settings = dir.path().join("demo-sp.json");
    std::fs::write(&settings, format!("{{\"audience\": \"{app}/saml/metadata\"}}")).expect("settings");
    let extra = format!(
        r#"[[saml_sps]]
client_id = "demo-sp"
name = "Demo SAML app"
callbacks = ["{app}/saml/acs"]
settings = "{}"

[[oidc_clients]]
client_id = "demo-app"
name = "Demo App"
redirect_uris = ["{app}/callback"]
"#,
        settings.display()
    );
    let idp = Idp::start(&extra);
    let mut child = Command::new("python3")
        .arg(root().join("fixtures/tenant/demo_apps.py"))
        .args([idp.base.as_str(), &port.to_string(), "demo-app", "demo-sp"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("demo apps start");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("ready line");
    let _apps = Kill(child);
    assert_eq!(line.trim(), "ready");
    let out = idp.python("demo_drive.py", json!({"app_base": app}));
    let oidc = &out["oidc"];
    assert_eq!(oidc["validated"], "OpenID Connect: tokens validated", "{out}\n{}", idp.log());
    assert_eq!(oidc["sub"], "auth0|5f7c8ec7c33c6c004bbafe82");
    assert_eq!(oidc["actions_section"], true, "{out}");
    assert_eq!(oidc["roles_shown"], true);
    let saml = &out["saml"];
    assert_eq!(saml["validated"], "SAML: assertion validated", "{out}");
    assert_eq!(saml["nameid"], "auth0|5f7c8ec7c33c6c004bbafe82");
    assert_eq!(saml["email_attribute"], true);
    assert_eq!(out["saml_replay_status"], 400, "{out}");
}
