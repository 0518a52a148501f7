//! The command line's shape (clap).

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "idpipe",
    version,
    about = "A programmable identity provider core: login pipeline -> SAML and OIDC"
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Runs a trigger's pipeline on an event and prints the outcome (with the trace) as JSON.
    Run {
        /// Trigger name (post-login, post-challenge, password-reset-post-challenge).
        #[arg(long, default_value = "post-login")]
        trigger: String,
        /// The event JSON.
        #[arg(long)]
        event: PathBuf,
        /// Action scripts, run in this order.
        #[arg(long = "action")]
        actions: Vec<PathBuf>,
        /// Action secrets (`event.secrets`), as KEY=VALUE.
        #[arg(long = "secret")]
        secrets: Vec<String>,
    },
    /// Manages users in the SQLite store.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Runs the IdP server with a tenant configuration.
    Serve {
        /// The tenant TOML file.
        #[arg(long, default_value = "fixtures/tenant/demo.toml")]
        config: PathBuf,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:3000")]
        listen: std::net::SocketAddr,
        /// Overrides the tenant's `database` file.
        #[arg(long)]
        db: Option<PathBuf>,
    },
    /// Creates or migrates the tenant's database, then exits (what `serve` does at start-up;
    /// for deployments that migrate before rolling out nodes).
    Migrate {
        /// The tenant TOML file.
        #[arg(long, default_value = "fixtures/tenant/demo.toml")]
        config: PathBuf,
        /// Overrides the tenant's `database` file.
        #[arg(long)]
        db: Option<PathBuf>,
    },
    /// Test kits for the SPs and apps that trust idpipe: valid and deliberately broken fixtures
    /// with a manifest of the verdict each must get.
    Kit {
        #[command(subcommand)]
        command: KitCommand,
    },
    /// Action scripts' npm dependencies.
    Actions {
        #[command(subcommand)]
        command: ActionsCommand,
    },
    /// Service providers.
    Sp {
        #[command(subcommand)]
        command: SpCommand,
    },
    /// SAML dry runs.
    Saml {
        #[command(subcommand)]
        command: SamlCommand,
    },
    /// OIDC dry runs.
    Oidc {
        #[command(subcommand)]
        command: OidcCommand,
    },
}

#[derive(Subcommand)]
pub(crate) enum UserCommand {
    /// Adds a user; the password is read from the first line of stdin (never from arguments).
    Add {
        /// The SQLite database file (created and migrated if needed).
        #[arg(long, default_value = "idpipe.sqlite")]
        db: PathBuf,
        /// Login name.
        #[arg(long)]
        username: String,
        /// An `event.user` JSON profile (user_id, email, name, metadata, ...).
        #[arg(long)]
        profile: Option<PathBuf>,
    },
    /// Prints the argon2id hash of the password on the first line of stdin, for `password_hash`
    /// in a tenant's users.
    Hash,
    /// A user's second factors: `list` them, or `reset` them all (a user who lost a device
    /// enrols again at the next login that asks for MFA).
    Mfa {
        /// `list` or `reset`.
        #[arg(value_parser = ["list", "reset"])]
        what: String,
        /// The SQLite database file.
        #[arg(long, default_value = "idpipe.sqlite")]
        db: PathBuf,
        /// Login name.
        #[arg(long)]
        username: String,
    },
}

#[derive(Subcommand)]
pub(crate) enum OidcCommand {
    /// Prints the tokens a login of USER into CLIENT would get, as JSON.
    Tokens {
        /// An `event.user` JSON object.
        #[arg(long)]
        user: PathBuf,
        /// An `event.client` JSON object ({client_id, name, metadata}).
        #[arg(long)]
        client: PathBuf,
        /// API identifier (access-token audience).
        #[arg(long)]
        audience: Option<String>,
        /// Requested scopes.
        #[arg(long, default_value = "openid profile email")]
        scope: String,
        /// Nonce of the authorization request.
        #[arg(long)]
        nonce: Option<String>,
        /// Signing key PEM (default: certs/idp-test.key, a TEST-ONLY key).
        #[arg(long)]
        key: Option<PathBuf>,
        /// Tenant base URL (the `iss`, with a trailing slash).
        #[arg(long, default_value = "http://127.0.0.1:3000/")]
        issuer: String,
        /// Action scripts run on the post-login trigger first.
        #[arg(long = "action")]
        actions: Vec<PathBuf>,
        /// Action secrets, as KEY=VALUE.
        #[arg(long = "secret")]
        secrets: Vec<String>,
    },
    /// Prints the JWKS that verifies the tokens.
    Jwks {
        /// Signing key PEM (default: certs/idp-test.key).
        #[arg(long)]
        key: Option<PathBuf>,
        /// A next key to publish ahead of a rotation.
        #[arg(long)]
        next_key: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
pub(crate) enum SpCommand {
    /// Reads an SP's metadata: writes its add-on settings JSON and prints the tenant entry
    /// (`[[saml_sps]]` with callbacks and ACS indexes) to add to the tenant file.
    Import {
        /// The SP's metadata XML.
        #[arg(long)]
        metadata: PathBuf,
        /// The client id to give it (`/samlp/{client_id}`).
        #[arg(long)]
        client_id: String,
        /// Display name (default: the entity ID).
        #[arg(long)]
        name: Option<String>,
        /// Where to write the add-on settings JSON.
        #[arg(long)]
        settings_out: PathBuf,
    },
}

#[derive(Subcommand)]
pub(crate) enum SamlCommand {
    /// Prints the SAML Response XML for a user and an SP.
    Response {
        /// An `event.user` JSON object.
        #[arg(long)]
        user: PathBuf,
        /// The SP's add-on settings JSON.
        #[arg(long)]
        settings: PathBuf,
        /// An AuthnRequest XML (SP-initiated); absent: IdP-initiated.
        #[arg(long)]
        request: Option<PathBuf>,
        /// The ACS URL (default: the request's AssertionConsumerServiceURL).
        #[arg(long)]
        acs: Option<String>,
        /// RelayState to carry.
        #[arg(long)]
        relay_state: Option<String>,
        /// Signing certificate PEM (default: certs/idp-test.crt, a TEST-ONLY key).
        #[arg(long, requires = "key")]
        cert: Option<PathBuf>,
        /// Signing key PEM (default: certs/idp-test.key, a TEST-ONLY key).
        #[arg(long, requires = "cert")]
        key: Option<PathBuf>,
        /// The time to issue at (RFC 3339); default now.
        #[arg(long)]
        now: Option<String>,
        /// Tenant name (default issuer urn:<tenant>).
        #[arg(long, default_value = "idpipe")]
        tenant: String,
        /// The SP's client id (audience of last resort).
        #[arg(long, default_value = "cli")]
        client_id: String,
        /// Action scripts run on the post-login trigger first.
        #[arg(long = "action")]
        actions: Vec<PathBuf>,
        /// Action secrets, as KEY=VALUE.
        #[arg(long = "secret")]
        secrets: Vec<String>,
    },
    /// Prints the IdP metadata for an SP.
    Metadata {
        /// The SP's add-on settings JSON.
        #[arg(long)]
        settings: PathBuf,
        /// Signing certificate PEM (default: certs/idp-test.crt).
        #[arg(long, requires = "key")]
        cert: Option<PathBuf>,
        /// Signing key PEM (default: certs/idp-test.key).
        #[arg(long, requires = "cert")]
        key: Option<PathBuf>,
        /// Tenant name.
        #[arg(long, default_value = "idpipe")]
        tenant: String,
        /// Base URL of the IdP.
        #[arg(long, default_value = "http://127.0.0.1:3000")]
        base_url: String,
        /// The SP's client id.
        #[arg(long, default_value = "cli")]
        client_id: String,
    },
}

/// `idpipe actions ...`.
#[derive(Debug, Subcommand)]
pub enum ActionsCommand {
    /// Installs the npm modules the tenant file's `[action_dependencies]` declare, from the npm
    /// registry (`IDPIPE_NPM_REGISTRY` overrides it) into `action_modules`, with a lock file:
    /// versions already locked are installed exactly, integrity checked. Native addons are
    /// refused.
    Install {
        /// The tenant TOML file.
        #[arg(long, default_value = "fixtures/tenant/demo.toml")]
        config: PathBuf,
    },
}

/// `idpipe kit ...`.
#[derive(Debug, Subcommand)]
pub enum KitCommand {
    /// SAML Responses for an SP, valid and broken (expired, not yet valid, wrong audience,
    /// destination, InResponseTo or issuer, unsigned, another key, a modified attribute, a
    /// duplicate assertion, SHA-1, a non-Success status, a comment in the NameID), each as XML and
    /// as the base64 form value, with manifest.json.
    Saml {
        /// The SP's settings JSON (as in the tenant file).
        #[arg(long)]
        sp: PathBuf,
        /// The user: an `event.user` JSON object (default: a kit user).
        #[arg(long)]
        user: Option<PathBuf>,
        /// The SP's ACS URL (default: the settings' `recipient` or `destination`).
        #[arg(long)]
        acs: Option<String>,
        /// Tenant name (the default issuer `urn:<tenant>`).
        #[arg(long, default_value = "idpipe")]
        tenant: String,
        /// Overrides the SP settings' audience.
        #[arg(long)]
        audience: Option<String>,
        /// Issue time (RFC 3339; default: now).
        #[arg(long)]
        now: Option<String>,
        /// Seed of the request ID the responses answer.
        #[arg(long, default_value = "idpipe-kit")]
        seed: String,
        /// Signing certificate PEM (default: certs/idp-test.crt, TEST-ONLY).
        #[arg(long)]
        cert: Option<PathBuf>,
        /// Signing key PEM (default: certs/idp-test.key, TEST-ONLY).
        #[arg(long)]
        key: Option<PathBuf>,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
    },
    /// ID and access tokens, the JWKS that verifies them, and broken variants (expired, nbf in
    /// the future, wrong aud, iss or nonce, alg none, HS256 with the public key, unknown or
    /// retired kid, another key's signature, wrong typ, modified payload), with manifest.json.
    Oidc {
        /// The app: a JSON object with `client_id`.
        #[arg(long)]
        client: PathBuf,
        /// The user: an `event.user` JSON object (default: a kit user).
        #[arg(long)]
        user: Option<PathBuf>,
        /// The issuer the app expects.
        #[arg(long, default_value = "http://127.0.0.1:3000/")]
        issuer: String,
        /// The API the access tokens are for.
        #[arg(long, default_value = "https://api.example.com")]
        audience: String,
        /// Issue time, Unix seconds (default: now): fixed, the files are reproducible.
        #[arg(long)]
        now: Option<i64>,
        /// Seed of token ids and the nonce.
        #[arg(long, default_value = "idpipe-kit")]
        seed: String,
        /// Signing key PEM (default: certs/idp-test.key, a TEST-ONLY key).
        #[arg(long)]
        key: Option<PathBuf>,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
    },
}
