//! Load generator: full SAML SSO round trips against a running idpipe, from a second process.
//!
//! Each worker thread is one browser: it logs in once with the password, then loops for the
//! duration doing SP-initiated round trips (a fresh deflated AuthnRequest on the HTTP-Redirect
//! binding -> session lookup -> post-login pipeline with the tenant's JS actions -> signed
//! Response in the auto-POST form). With `--mode login` every round trip is a new browser: the
//! AuthnRequest, the login page, the password POST (argon2id) and the Response. With `--mode oidc`
//! each browser (logged in once) repeats OIDC round trips: `/authorize` with the session (code
//! flow, PKCE S256) -> the code on the redirect URI -> `/oauth/token` -> ID and access tokens.
//!
//! `cargo run --release --example sso_load -- --base http://127.0.0.1:3000 --client sp-basic
//!  --acs https://sp.example.com/acs --user jane.doe@example.com --password jane-demo-password
//!  --threads 4 --seconds 10 [--mode sso|login|oidc]`
//!
//! `--base http://127.0.0.1:3100,http://127.0.0.1:3101` spreads the requests over several nodes
//! (each request to the next node: a login page from one, the password to the other, a code
//! from one redeemed on the other).

use std::collections::HashMap;
use std::io::Write;
use std::time::{Duration, Instant};

use base64::Engine;

struct Args {
    /// The nodes (`--base A,B`): requests are spread over them in turn, as by a load balancer
    /// without sticky sessions.
    bases: Vec<String>,
    client: String,
    acs: String,
    user: String,
    password: String,
    threads: usize,
    seconds: u64,
    mode: String,
    oidc_client: String,
    redirect_uri: String,
    /// Print the throughput of each interval of this many seconds (0: only the total).
    interval: u64,
}

impl Args {
    /// The node for the `i`-th request.
    fn base(&self, i: u64) -> &str {
        &self.bases[(i % self.bases.len().max(1) as u64) as usize]
    }
}

fn args() -> Args {
    let mut m: HashMap<String, String> = HashMap::new();
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        if let Some(k) = k.strip_prefix("--") {
            m.insert(k.to_string(), it.next().unwrap_or_default());
        }
    }
    let get = |k: &str, d: &str| m.get(k).cloned().unwrap_or_else(|| d.to_string());
    Args {
        bases: get("base", "http://127.0.0.1:3000")
            .split(',')
            .map(|b| b.trim().trim_end_matches('/').to_string())
            .filter(|b| !b.is_empty())
            .collect(),
        client: get("client", "sp-basic"),
        acs: get("acs", "https://sp.example.com/acs"),
        user: get("user", "jane.doe@example.com"),
        password: get("password", "jane-demo-password"),
        threads: get("threads", "4").parse().unwrap_or(4),
        seconds: get("seconds", "10").parse().unwrap_or(10),
        mode: get("mode", "sso"),
        oidc_client: get("oidc-client", "demo-app"),
        redirect_uri: get("redirect-uri", "http://127.0.0.1:8080/callback"),
        interval: get("interval", "0").parse().unwrap_or(0),
    }
}

struct Browser {
    agent: ureq::Agent,
    cookies: HashMap<String, String>,
}

struct Page {
    status: u16,
    location: Option<String>,
    body: String,
}

impl Browser {
    fn new() -> Self {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .build()
            .into();
        Browser {
            agent,
            cookies: HashMap::new(),
        }
    }

    fn cookie(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    fn finish(&mut self, r: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Result<Page, String> {
        let mut r = r.map_err(|e| e.to_string())?;
        for v in r.headers().get_all("set-cookie") {
            if let Some((k, rest)) = v.to_str().unwrap_or_default().split_once('=') {
                let val = rest.split(';').next().unwrap_or_default();
                self.cookies.insert(k.to_string(), val.to_string());
            }
        }
        Ok(Page {
            status: r.status().as_u16(),
            location: r.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_string),
            body: r.body_mut().read_to_string().map_err(|e| e.to_string())?,
        })
    }

    fn get(&mut self, url: &str) -> Result<Page, String> {
        let r = self.agent.get(url).header("cookie", &self.cookie()).call();
        self.finish(r)
    }

    fn post(&mut self, url: &str, form: &[(&str, &str)]) -> Result<Page, String> {
        let r = self
            .agent
            .post(url)
            .header("cookie", &self.cookie())
            .send_form(form.iter().copied());
        self.finish(r)
    }
}

fn field(body: &str, name: &str) -> Option<String> {
    let needle = format!("name=\"{name}\" value=\"");
    let s = body.find(&needle)? + needle.len();
    let e = body[s..].find('"')? + s;
    Some(body[s..e].to_string())
}

fn authn_request_query(a: &Args, n: u64, thread: usize) -> String {
    let xml = format!(
        "<samlp:AuthnRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" \
ID=\"_load_{thread}_{n}_{}\" Version=\"2.0\" IssueInstant=\"{}\" AssertionConsumerServiceURL=\"{}\"><saml:Issuer>https://sp.example.com/metadata</saml:Issuer></samlp:AuthnRequest>",
        std::process::id(),
        chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ"),
        a.acs
    );
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    let _ = enc.write_all(xml.as_bytes());
    let b64 = base64::engine::general_purpose::STANDARD.encode(enc.finish().unwrap_or_default());
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("SAMLRequest", &b64)
        .append_pair("RelayState", "load")
        .finish()
}

/// One SP-initiated round trip; logs in when the session is missing. Ok(true) = a Response.
fn round_trip(a: &Args, b: &mut Browser, n: u64, thread: usize) -> Result<bool, String> {
    // Request k of round trip n goes to node n + k (the next request, the next node).
    let node = |k: u64| a.base(n.wrapping_add(thread as u64).wrapping_add(k));
    let sso = format!("{}/samlp/{}?{}", node(0), a.client, authn_request_query(a, n, thread));
    let mut page = b.get(&sso)?;
    if page.status == 302 {
        let loc = page.location.clone().unwrap_or_default();
        let login = b.get(&format!("{}{loc}", node(1)))?;
        let (state, csrf) = (field(&login.body, "state"), field(&login.body, "_csrf"));
        let (Some(state), Some(csrf)) = (state, csrf) else {
            return Err(format!("no login form ({})", login.status));
        };
        page = b.post(
            &format!("{}/u/login", node(2)),
            &[
                ("state", &state),
                ("_csrf", &csrf),
                ("username", &a.user),
                ("password", &a.password),
            ],
        )?;
    }
    Ok(page.status == 200 && page.body.contains("name=\"SAMLResponse\""))
}

/// PKCE: a fixed verifier and its S256 challenge (the server checks the pair per code).
const VERIFIER: &str = "load-test-verifier-0123456789-0123456789-0123456789";

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// One OIDC round trip with the browser's session: authorize -> code -> tokens. Ok(true) = tokens.
fn oidc_round_trip(a: &Args, b: &mut Browser, n: u64, thread: usize) -> Result<bool, String> {
    let node = |k: u64| a.base(n.wrapping_add(thread as u64).wrapping_add(k));
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(openssl::sha::sha256(VERIFIER.as_bytes()));
    let url = format!(
        "{}/authorize?client_id={}&response_type=code&redirect_uri={}&scope=openid%20profile&state=s{n}&nonce=n{n}&code_challenge={challenge}&code_challenge_method=S256",
        node(0),
        enc(&a.oidc_client),
        enc(&a.redirect_uri)
    );
    let page = b.get(&url)?;
    let loc = page.location.unwrap_or_default();
    let Some(code) = url::Url::parse(&loc)
        .ok()
        .and_then(|u| u.query_pairs().find(|(k, _)| k == "code").map(|(_, v)| v.to_string()))
    else {
        return Err(format!("no code ({} {loc})", page.status));
    };
    let tokens = b.post(
        &format!("{}/oauth/token", node(1)),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &a.redirect_uri),
            ("client_id", &a.oidc_client),
            ("code_verifier", VERIFIER),
        ],
    )?;
    Ok(tokens.status == 200 && tokens.body.contains("\"id_token\""))
}

fn main() {
    let a = args();
    let deadline = Instant::now() + Duration::from_secs(a.seconds);
    let finished = std::sync::atomic::AtomicU64::new(0);
    let results: Vec<(Vec<Duration>, u64)> = std::thread::scope(|s| {
        if a.interval > 0 {
            // The soak view: throughput per interval, with the total so far (e.g. codes issued).
            let finished = &finished;
            s.spawn(move || {
                let mut last = 0;
                let mut t = 0;
                while Instant::now() + Duration::from_secs(a.interval) <= deadline + Duration::from_millis(500) {
                    std::thread::sleep(Duration::from_secs(a.interval));
                    t += a.interval;
                    let now = finished.load(std::sync::atomic::Ordering::Relaxed);
                    println!(
                        "interval t={t}s total={now} throughput={:.0}/s",
                        (now - last) as f64 / a.interval as f64
                    );
                    last = now;
                }
            });
        }
        let handles: Vec<_> = (0..a.threads)
            .map(|t| {
                let a = &a;
                let finished = &finished;
                s.spawn(move || {
                    let mut b = Browser::new();
                    if a.mode == "sso" || a.mode == "oidc" {
                        // Warm-up login (not measured): the session both protocols use.
                        let _ = round_trip(a, &mut b, u64::MAX, t);
                    }
                    let (mut lat, mut errors, mut n) = (Vec::new(), 0u64, 0u64);
                    while Instant::now() < deadline {
                        if a.mode == "login" {
                            b = Browser::new();
                        }
                        let start = Instant::now();
                        let done = if a.mode == "oidc" {
                            oidc_round_trip(a, &mut b, n, t)
                        } else {
                            round_trip(a, &mut b, n, t)
                        };
                        match done {
                            Ok(true) => {
                                lat.push(start.elapsed());
                                finished.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            }
                            Ok(false) | Err(_) => errors += 1,
                        }
                        n += 1;
                    }
                    (lat, errors)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_default()).collect()
    });
    let mut all: Vec<Duration> = results.iter().flat_map(|(l, _)| l.iter().copied()).collect();
    let errors: u64 = results.iter().map(|(_, e)| e).sum();
    all.sort();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    println!(
        "mode={} threads={} seconds={} round_trips={} errors={} throughput={:.0}/s p50={:.2}ms p99={:.2}ms max={:.2}ms",
        a.mode,
        a.threads,
        a.seconds,
        all.len(),
        errors,
        all.len() as f64 / a.seconds as f64,
        pct(0.50).as_secs_f64() * 1000.0,
        pct(0.99).as_secs_f64() * 1000.0,
        all.last().copied().unwrap_or_default().as_secs_f64() * 1000.0,
    );
}
