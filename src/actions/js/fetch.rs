//! The host `fetch` for actions: a subset (method, headers, body; status, text, json), only to
//! hosts the tenant allows, with a timeout bounded by the action's deadline.

use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

/// Headers an action may not set: `Host` (it would reach another virtual host behind an
/// allowed address), the hop-by-hop and framing headers the client owns, and proxy headers.
/// Like the browsers' forbidden request headers, they are refused rather than dropped, so that
/// the action's author sees why.
const FORBIDDEN_HEADERS: [&str; 12] = [
    "host",
    "connection",
    "keep-alive",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "expect",
    "http2-settings",
    "forwarded",
    "via",
];

fn is_forbidden_header(name: &str) -> bool {
    let n = name.trim().to_ascii_lowercase();
    FORBIDDEN_HEADERS.contains(&n.as_str()) || n.starts_with("proxy-") || n.starts_with("x-forwarded-")
}

/// What `fetch` may reach.
#[derive(Debug, Clone, Default)]
pub struct FetchPolicy {
    /// Allowed hosts (`host` or `host:port`); empty: fetch is disabled.
    pub allowed_hosts: Vec<String>,
    /// Longest time one request may take.
    pub timeout: Option<Duration>,
    /// Largest response body read, in bytes (default 1 MiB).
    pub max_body: Option<u64>,
}

impl FetchPolicy {
    fn allows(&self, url: &url::Url) -> bool {
        let host = url.host_str().unwrap_or_default();
        let with_port = url.port().map(|p| format!("{host}:{p}"));
        self.allowed_hosts.iter().any(|h| h == host || Some(h) == with_port.as_ref())
    }

    /// Checks a request before it is started: the URL, the allowed hosts, the headers.
    pub fn check(&self, raw_url: &str, init: &Value) -> Result<url::Url, String> {
        let url = url::Url::parse(raw_url).map_err(|e| format!("invalid URL '{raw_url}': {e}"))?;
        if url.scheme() != "http" && url.scheme() != "https" {
            return Err(format!("only http: and https: URLs can be fetched, not {}", url.scheme()));
        }
        if !self.allows(&url) {
            return Err(format!(
                "host '{}' is not in the tenant's allowed fetch hosts",
                url.host_str().unwrap_or_default()
            ));
        }
        if let Some(h) = init.get("headers").and_then(Value::as_object)
            && let Some(k) = h.keys().find(|k| is_forbidden_header(k))
        {
            return Err(format!("the header '{k}' cannot be set by an action"));
        }
        Ok(url)
    }

    /// Performs the request; the answer is `{status, statusText, url, headers, body}`.
    pub fn fetch(&self, raw_url: &str, init: &Value, deadline: Instant) -> Result<Value, String> {
        let url = self.check(raw_url, init)?;
        let left = deadline.saturating_duration_since(Instant::now());
        let timeout = self.timeout.map_or(left, |t| t.min(left));
        if timeout.is_zero() {
            return Err("no time left before the action's deadline".into());
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            .build()
            .into();
        let method = init.get("method").and_then(Value::as_str).unwrap_or("GET").to_ascii_uppercase();
        let mut builder = ureq::http::Request::builder().method(method.as_str()).uri(url.as_str());
        if let Some(h) = init.get("headers").and_then(Value::as_object) {
            for (k, v) in h {
                if is_forbidden_header(k) {
                    return Err(format!("the header '{k}' cannot be set by an action"));
                }
                builder = builder.header(k.as_str(), v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()));
            }
        }
        let body = init.get("body").and_then(Value::as_str).unwrap_or_default().to_string();
        let request = builder.body(body).map_err(|e| e.to_string())?;
        let mut response = agent.run(request).map_err(|e| e.to_string())?;
        let status = response.status();
        let mut headers = Map::new();
        for (k, v) in response.headers() {
            headers.insert(k.as_str().to_ascii_lowercase(), Value::from(v.to_str().unwrap_or_default()));
        }
        let text = response
            .body_mut()
            .with_config()
            .limit(self.max_body.unwrap_or(1024 * 1024))
            .read_to_string()
            .map_err(|e| e.to_string())?;
        Ok(json!({
            "status": status.as_u16(),
            "statusText": status.canonical_reason().unwrap_or_default(),
            "url": url.as_str(),
            "headers": headers,
            "body": text,
        }))
    }
}
