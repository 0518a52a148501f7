//! The transitions of a login: start (SSO through the session, or the login page), run the
//! post-login pipeline, resume it after a redirect, and deliver what it ended with.

use serde_json::{Map, Value};

use super::answer::{Answer, Answered, CookieChange, PageError};
use super::records::{SessionCtx, Suspended};
use super::request::LoginRequest;
use super::session::hash_secret;
use super::states::{Authenticated, NewLogin, Redirected, StateError};
use super::watchdog::PipelineStop;
use super::{Io, LoginContext};
use crate::pipeline::executor::{Status, Suspension};
use crate::pipeline::outcome::{Failure, FailureKind};
use crate::pipeline::{Outcome, Resume, Trigger};
use crate::store::StoreError;

/// What a browser that presents another browser's login state is told.
pub const FOREIGN_BROWSER: &str =
    "This login was started in another browser (or its cookies were cleared). Go back to the application and start again.";

/// How a login starts.
#[derive(Debug)]
pub enum Start {
    /// A live session (and nothing forcing a new authentication): run the pipeline now.
    Session(Box<Authenticated>),
    /// The user must log in.
    NeedsPassword(Box<NewLogin>),
    /// The user must log in but must not be shown anything (`prompt=none`, `IsPassive`).
    Refused(Answered),
}

/// A login that cannot go on without the user (`login_required`, `interaction_required`): told to
/// the application like a validation error, with its OAuth code.
fn needs_user(code: &str, description: &str) -> Failure {
    Failure {
        kind: FailureKind::NeedsUser,
        code: code.into(),
        description: description.into(),
        action: None,
    }
}

fn log_trace(outcome: &Outcome) {
    for t in &outcome.trace {
        tracing::debug!(action = %t.action, duration_us = t.duration_us, commands = t.commands.len(), "action ran");
        // Seed 004's `w` warnings (e.g. a requested factor that is not set up) reach the log too.
        for w in &t.warnings {
            tracing::warn!(action = %t.action, warning = %w, "action warning");
        }
    }
    if let Some(f) = &outcome.failure {
        tracing::info!(code = %f.code, action = ?f.action, "login refused by the pipeline");
    }
}

impl Io {
    /// Decides how a login starts from the browser's session cookie.
    pub fn start(&self, login: NewLogin, session_cookie: Option<&str>) -> Result<Start, StoreError> {
        let request = &login.request;
        let now = self.now_ms();
        let max_age = request.max_age_ms();
        // The session, its user and the user's factors in one read.
        let session = self
            .session_login(session_cookie)?
            .filter(|_| !request.forces_authentication())
            // Too old for max_age: authenticate again (like prompt=login).
            .filter(|(s, ..)| max_age.is_none_or(|m| now - s.record.auth_time_ms() <= m));
        if let Some((session, user, factors)) = session {
            return match user {
                Some(mut user) => {
                    self.add_enrolled_factors(&mut user, factors)?;
                    Ok(Start::Session(Box::new(login.in_session(user, session))))
                }
                None => Ok(Start::Refused(
                    Answer::error(PageError::BadRequest, "invalid_session", "The session's user no longer exists.").into(),
                )),
            };
        }
        if request.is_passive() {
            let f = needs_user("login_required", "The user is not logged in.");
            return Ok(Start::Refused(self.failure(request, &f).into()));
        }
        Ok(Start::NeedsPassword(Box::new(login)))
    }
}

impl LoginContext {
    /// Runs the post-login pipeline for an authenticated user and delivers its end, in one
    /// task off the async workers under the watchdog.
    pub async fn run(&self, login: Authenticated) -> Answered {
        let request = login.request.clone();
        match self.pipeline(move |io| io.run(login)).await {
            Ok(answered) => answered,
            Err(e) => self.stopped(&request, &e).into(),
        }
    }

    /// [`Io::deliver`] on the blocking pool.
    pub(super) async fn deliver_off(&self, s: Suspended) -> Answered {
        self.blocking(move |io| io.deliver(s))
            .await
            .unwrap_or_else(|e| Answer::StoreFailure(e).into())
    }

    /// Resumes a pipeline suspended by a redirect (`/continue`): the state is consumed (single
    /// use), the pipeline continues with the returned parameters, and its end is delivered.
    pub async fn resume(&self, login: Redirected, params: Map<String, Value>) -> Answered {
        let key = login.key;
        let taken = self
            .blocking({
                let key = key.clone();
                move |io| io.take_suspended(&key)
            })
            .await
            .and_then(|r| r);
        let mut s = match taken {
            Ok(Some(s)) => s,
            Ok(None) => return StateError::Expired.into(),
            Err(e) => return Answer::StoreFailure(e).into(),
        };
        // Secrets are not stored with a suspended login; the actions get them again from the tenant.
        s.tx.event.secrets = self.tenant.secrets.clone();
        self.resume_with(s, Resume::Continue { state: key, params }).await
    }

    /// Resumes a suspended pipeline (secrets already restored) and delivers its end, in one
    /// task off the async workers under the watchdog.
    pub(super) async fn resume_with(&self, s: Suspended, how: Resume) -> Answered {
        let request = s.request.clone();
        match self.pipeline(move |io| io.resume_with(s, how)).await {
            Ok(answered) => answered,
            Err(e) => self.stopped(&request, &e).into(),
        }
    }

    /// A login whose pipeline gave no result: abandoned at an action's deadline (told to the
    /// application like any failed action), or a failed task.
    pub fn stopped(&self, request: &LoginRequest, e: &PipelineStop) -> Answer {
        match e {
            PipelineStop::Abandoned => {
                let f = Failure {
                    kind: FailureKind::Timeout,
                    code: "access_denied".into(),
                    description: crate::pipeline::executor::GENERIC_FAILURE.into(),
                    action: None,
                };
                self.failure(request, &f)
            }
            PipelineStop::Failed(reason) => {
                tracing::error!(error = %reason, "the pipeline task failed");
                Answer::error(PageError::Internal, "server_error", "The login could not be completed.")
            }
        }
    }
}

impl Io {
    /// Runs the post-login pipeline for an authenticated user and delivers its end (on the
    /// calling thread: the caller runs it under the watchdog).
    pub fn run(&self, login: Authenticated) -> Answered {
        let Authenticated {
            request,
            http,
            user,
            mut session,
            browser,
            remembered,
        } = login;
        // A browser remembered after MFA for this user (allowRememberBrowser).
        session.mfa_remembered = remembered.is_some_and(|t| self.mfa_keys.remembered(&t, &user.user_id, self.now_ms() / 1000));
        let ev = self.post_login_event(&request, http, user, &session.record);
        let tx = self.tenant.executor.start(Trigger::PostLogin, ev);
        self.deliver(Suspended {
            request,
            tx,
            session,
            browser,
        })
    }

    /// Resumes a suspended pipeline (secrets already restored) and delivers its end (on the
    /// calling thread, under the caller's watchdog).
    pub fn resume_with(&self, s: Suspended, how: Resume) -> Answered {
        let Suspended {
            request,
            tx,
            session,
            browser,
        } = s;
        match self.tenant.executor.resume(tx, how) {
            Ok(tx) => self.deliver(Suspended {
                request,
                tx,
                session,
                browser,
            }),
            Err(e) => Answer::Error {
                kind: PageError::BadRequest,
                code: "invalid_state",
                description: e.to_string(),
            }
            .into(),
        }
    }

    /// Delivers a pipeline that completed, failed or suspended: stores what it decided (unless
    /// the watchdog already answered the login without it) and answers.
    pub fn deliver(&self, s: Suspended) -> Answered {
        if !crate::pipeline::watch::claim_commit() {
            tracing::warn!("a pipeline ended after its login was answered without it: nothing it decided is stored");
            return Answer::error(PageError::Internal, "server_error", "The login was answered without this pipeline.").into();
        }
        let Suspended {
            request,
            mut tx,
            session,
            browser,
        } = s;
        log_trace(&tx.outcome);
        match tx.status() {
            // prompt=none / IsPassive: the user cannot be shown anything.
            Status::Suspended if request.is_passive() => {
                let f = needs_user(
                    "interaction_required",
                    "The login needs the user's interaction (an action redirected or asked for MFA).",
                );
                self.failure(&request, &f).into()
            }
            Status::Suspended => match tx.suspension.clone() {
                Some(Suspension::Redirect { url, .. }) => {
                    // The tenant's action secrets are never persisted: re-read on resume.
                    tx.event.secrets.clear();
                    let suspended = Suspended {
                        request,
                        tx,
                        session,
                        browser,
                    };
                    match self.put_suspended(suspended) {
                        Ok(()) => Answer::Redirect(url).into(),
                        Err(e) => Answer::StoreFailure(e).into(),
                    }
                }
                Some(Suspension::Mfa { requirement, .. }) => {
                    tx.event.secrets.clear();
                    let usable: Vec<String> = requirement.usable.iter().map(|f| f.factor_type.clone()).collect();
                    let login = Suspended {
                        request,
                        tx,
                        session,
                        browser,
                    };
                    let pending =
                        super::mfa::MfaPending::new(login, super::mfa::AfterMfa::Pipeline, requirement.mode, usable, requirement.picker);
                    match self.put_mfa(pending) {
                        Ok(k) => Answer::Redirect(format!("/u/mfa?state={k}")).into(),
                        Err(e) => Answer::StoreFailure(e).into(),
                    }
                }
                Some(Suspension::Prompt { prompt_id, .. }) if !self.tenant.prompts.contains_key(&prompt_id) => {
                    tracing::error!(prompt_id = %prompt_id, "an action rendered a prompt the tenant does not define");
                    let f = Failure {
                        kind: FailureKind::ActionError,
                        code: "access_denied".into(),
                        description: format!("The prompt '{prompt_id}' is not defined in the tenant's [[prompts]]."),
                        action: None,
                    };
                    self.failure(&request, &f).into()
                }
                Some(Suspension::Prompt { .. }) => {
                    tx.event.secrets.clear();
                    let s = Suspended {
                        request,
                        tx,
                        session,
                        browser,
                    };
                    match self.put_prompting(s) {
                        Ok(k) => Answer::Redirect(format!("/u/prompt?state={k}")).into(),
                        Err(e) => Answer::StoreFailure(e).into(),
                    }
                }
                None => Answer::error(PageError::Internal, "server_error", "The login is suspended without a reason.").into(),
            },
            Status::Failed => {
                let Some(f) = tx.outcome.failure.clone() else {
                    return Answer::error(PageError::Internal, "server_error", "The login failed.").into();
                };
                let mut session_cookie = None;
                if tx.outcome.session.revoke.is_some()
                    && let Some(c) = &session.cookie
                {
                    if let Err(e) = self.store.delete_session(&hash_secret(c)) {
                        return Answer::StoreFailure(e).into();
                    }
                    session_cookie = Some(CookieChange::Clear);
                }
                Answered {
                    answer: self.failure(&request, &f),
                    session_cookie,
                    remember_browser: None,
                }
            }
            // `api.multifactor.enable` asks for MFA at the end of the flow, unless an action's
            // challenge already completed one (challengeWith overrides it).
            Status::Completed
                if tx
                    .outcome
                    .multifactor
                    .as_ref()
                    .is_some_and(|m| m.provider != "none" && !(m.allow_remember_browser && session.mfa_remembered))
                    && tx.outcome.completed_mfa.is_empty() =>
            {
                if request.is_passive() {
                    let f = needs_user("interaction_required", "The login needs a second factor.");
                    return self.failure(&request, &f).into();
                }
                tx.event.secrets.clear();
                let login = Suspended {
                    request,
                    tx,
                    session,
                    browser,
                };
                match self.multifactor_step(login) {
                    Ok(Ok(pending)) => match self.put_mfa(pending) {
                        Ok(k) => Answer::Redirect(format!("/u/mfa?state={k}")).into(),
                        Err(e) => Answer::StoreFailure(e).into(),
                    },
                    Ok(Err(login)) => {
                        tracing::warn!("api.multifactor.enable: the tenant enables no factor");
                        let f = Failure {
                            kind: FailureKind::MfaUnavailable,
                            code: "mfar".into(),
                            description: crate::pipeline::api::MFAR_MESSAGE.into(),
                            action: None,
                        };
                        self.failure(&login.request, &f).into()
                    }
                    Err(e) => Answer::StoreFailure(e).into(),
                }
            }
            // A password reset whose actions all ran: on to the new password.
            Status::Completed if let LoginRequest::PasswordReset(r) = request => {
                self.reset_challenge_met(r, tx.outcome.result_url, browser)
            }
            Status::Completed => self.complete(request, tx, session),
        }
    }

    /// A completed pipeline: metadata changes applied once, the session committed, then the
    /// SAML Response or the authorization code.
    fn complete(&self, request: LoginRequest, tx: crate::pipeline::TransactionState, mut session: SessionCtx) -> Answered {
        let user_id = tx.event.user.user_id.clone();
        if let Err(e) = self.store.apply_metadata(&user_id, &tx.outcome) {
            return Answer::StoreFailure(e).into();
        }
        // SAML: the response first, so that the session records the NameID the SP received (a
        // LogoutRequest must name it). OIDC: the session first, the code then carries it.
        let (answer, cookie) = match &request {
            LoginRequest::Saml(s) => {
                let (answer, participant) = self.issue_saml(s, &tx.event, &tx.outcome, &session.record);
                if let Some(p) = participant {
                    // In place: an unchanged session is not written again (see `commit_session`).
                    let ps = &mut session.record.saml_participants;
                    match ps.iter_mut().find(|x| x.client_id == p.client_id) {
                        Some(x) => *x = p,
                        None => ps.push(p),
                    }
                }
                match self.commit_session(&mut session, &tx.event, &tx.outcome, request.client_id()) {
                    Ok(c) => (answer, c),
                    Err(e) => return Answer::StoreFailure(e).into(),
                }
            }
            LoginRequest::Oidc(o) => {
                let c = match self.commit_session(&mut session, &tx.event, &tx.outcome, request.client_id()) {
                    Ok(c) => c,
                    Err(e) => return Answer::StoreFailure(e).into(),
                };
                (self.issue_code(o, tx.event, tx.outcome, &session.record), c)
            }
            LoginRequest::PasswordReset(_) => {
                return Answer::error(PageError::Internal, "server_error", "A password reset cannot complete a login.").into();
            }
        };
        Answered {
            answer,
            session_cookie: Some(cookie),
            remember_browser: None,
        }
    }
}
