//! idpipe: a self-hosted identity provider core. A programmable login pipeline whose outcome is
//! issued as signed (optionally encrypted) SAML 2.0 responses and OIDC tokens.
//!
//! Data flows one way: request -> [`pipeline::Event`] -> [`pipeline::Executor`] (actions record
//! commands through their `api`) -> [`pipeline::Outcome`] -> issuers -> HTTP responses.

#![warn(missing_docs)]
#![deny(unsafe_code)]

pub mod actions;
pub mod config;
mod ffi;
pub mod kit;
pub mod login;
pub mod oidc;
pub mod pipeline;
pub mod rsa_sha256;
pub mod saml;
pub mod server;
pub mod store;
pub mod util;

pub use ffi::purge_freed_memory_at_once;
