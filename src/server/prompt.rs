//! `/u/prompt`: a custom prompt (`api.prompt.render`) between two actions. GET shows it;
//! POST checks the CSRF token bound to the prompt, validates the fields against the tenant's
//! definition (the form again with the messages when wrong) and resumes the action's continue
//! handler with `event.prompt = {id, fields}`.

use std::collections::HashMap;

use axum::Form;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use serde_json::Value;

use super::login::{csrf_for, csrf_ok};
use super::pages::{esc, layout};
use super::{AppState, BrowserBinding, WebError, WebResult, flow, pages};
use crate::login::prompt::{FieldKind, Rendered};
use crate::login::{StateError, records::Suspended};
use crate::pipeline::state::Suspension;

/// The prompt id and render options a suspended login waits on.
fn asked(s: &Suspended) -> Result<(String, Value), WebError> {
    match &s.tx.suspension {
        Some(Suspension::Prompt { prompt_id, options, .. }) => Ok((prompt_id.clone(), options.clone())),
        _ => Err(StateError::Expired.into()),
    }
}

fn field_html(r: &Rendered<'_>) -> String {
    let mut out = String::new();
    for f in &r.def.fields {
        let value = r.values.get(&f.name).map(String::as_str).unwrap_or_default();
        let id = format!("f-{}", f.name);
        let err_id = format!("{id}-error");
        let error = r.errors.get(&f.name);
        let described = if error.is_some() {
            format!(" aria-invalid=\"true\" aria-describedby=\"{}\"", esc(&err_id))
        } else {
            String::new()
        };
        let required = if f.required { " required" } else { "" };
        match f.kind {
            FieldKind::Hidden => continue,
            FieldKind::Checkbox => out.push_str(&format!(
                "<label><input type=\"checkbox\" id=\"{id}\" name=\"{name}\" value=\"on\"{checked}{required}{described}> {label}</label>",
                id = esc(&id),
                name = esc(&f.name),
                checked = if value == "true" || value == "on" { " checked" } else { "" },
                label = esc(&f.label),
            )),
            FieldKind::Select => {
                let options: String = f
                    .options
                    .iter()
                    .map(|o| {
                        format!(
                            "<option value=\"{v}\"{sel}>{v}</option>",
                            v = esc(o),
                            sel = if o == value { " selected" } else { "" }
                        )
                    })
                    .collect();
                out.push_str(&format!(
                    "<label for=\"{id}\">{label}</label><select id=\"{id}\" name=\"{name}\"{required}{described}><option value=\"\"></option>{options}</select>",
                    id = esc(&id),
                    name = esc(&f.name),
                    label = esc(&f.label),
                ));
            }
            kind => out.push_str(&format!(
                "<label for=\"{id}\">{label}</label><input type=\"{t}\" id=\"{id}\" name=\"{name}\" value=\"{v}\" maxlength=\"{max}\"{required}{described}>",
                id = esc(&id),
                name = esc(&f.name),
                label = esc(&f.label),
                t = kind.input_type(),
                v = esc(value),
                max = f.max_length,
            )),
        }
        if let Some(e) = error {
            out.push_str(&format!("<p class=\"error\" id=\"{}\">{}</p>", esc(&err_id), esc(e)));
        }
    }
    out
}

fn page(r: &Rendered<'_>, k: &str, csrf: &str) -> String {
    let alert = if r.errors.is_empty() {
        String::new()
    } else {
        "<p class=\"error\" role=\"alert\" id=\"error\">Some fields need your attention.</p>".to_string()
    };
    layout(
        &r.title,
        &format!(
            "<h1>{title}</h1><p id=\"text\">{text}</p>{alert}<form method=\"post\" action=\"/u/prompt\" id=\"prompt\" data-prompt=\"{id}\">\
<input type=\"hidden\" name=\"state\" value=\"{k}\"><input type=\"hidden\" name=\"_csrf\" value=\"{csrf}\">{fields}\
<button type=\"submit\">{submit}</button></form>",
            title = esc(&r.title),
            text = esc(&r.text),
            id = esc(&r.def.id),
            k = esc(k),
            csrf = esc(csrf),
            fields = field_html(r),
            submit = esc(&r.def.submit),
        ),
    )
}

/// The tenant, prompt id and render options of the prompt `k` shows to the presenting browser.
async fn shown_prompt(
    state: &AppState,
    k: &str,
    presented: Option<String>,
) -> Result<(std::sync::Arc<crate::config::Tenant>, String, Value), WebError> {
    let tenant = state.login().tenant.clone();
    let lookup = k.to_string();
    let s = state
        .login()
        .blocking(move |io| io.prompting(&lookup, presented.as_deref()))
        .await??;
    let (id, options) = asked(&s)?;
    Ok((tenant, id, options))
}

/// `GET /u/prompt?state=`.
pub async fn prompt_page(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<HashMap<String, String>>) -> WebResult {
    let k = WebError::state_key(&q)?;
    let presented = BrowserBinding::presented_hash(&headers);
    let (csrf, set) = csrf_for(&state, &headers, &format!("prompt:{k}"));
    let (tenant, id, options) = shown_prompt(&state, &k, presented).await?;
    let def = tenant.prompts.get(&id).ok_or_else(|| WebError::from(StateError::Expired))?;
    let mut r = pages::html(StatusCode::OK, &page(&def.render(&options), &k, &csrf));
    if let Some(c) = set {
        r.headers_mut().append(header::SET_COOKIE, c);
    }
    Ok(r)
}

/// `POST /u/prompt`.
pub async fn prompt_submit(State(state): State<AppState>, headers: HeaderMap, Form(f): Form<HashMap<String, String>>) -> WebResult {
    let k = WebError::state_key(&f)?;
    let csrf = f.get("_csrf").cloned().unwrap_or_default();
    if !csrf_ok(&state, &headers, &format!("prompt:{k}"), &csrf) {
        return Err(WebError::invalid_csrf());
    }
    let presented = BrowserBinding::presented_hash(&headers);
    let (tenant, id, options) = shown_prompt(&state, &k, presented).await?;
    let def = tenant.prompts.get(&id).ok_or_else(|| WebError::from(StateError::Expired))?;
    let fields = match def.check(&options, &f) {
        Ok(fields) => fields,
        Err(shown) => {
            tracing::info!(prompt_id = %id, fields = ?shown.errors.keys().collect::<Vec<_>>(), "prompt submission refused");
            return Ok(pages::html(StatusCode::BAD_REQUEST, &page(&shown, &k, &csrf)));
        }
    };
    // Single use: of two submissions, one resumes the login.
    let taken = state.login().blocking(move |io| io.take_prompting(&k)).await??;
    let answered = state.login().prompt_submitted(taken, fields).await;
    flow::respond_to_form(&state, answered, &BrowserBinding::of(&headers))
}
