//! How the client proves who it is. Secrets are [`SecretString`]s: their `Debug` output is
//! redacted and the text is reached only through `expose_secret()`, which this module's users call
//! in exactly two places (the `generateToken` form and the `X-Esri-Authorization` header).

use secrecy::SecretString;

/// The caller's credentials.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// An API key or a ready token (e.g. from a SAML/MFA sign-in). Sent as is; it cannot be
    /// renewed, so a 498 on it is an authentication failure ("get a new one").
    Token(SecretString),
    /// A built-in account: the client signs in with `generateToken` and renews the token itself.
    Password {
        /// The portal username (case-sensitive for `generateToken`).
        username: String,
        /// The password.
        password: SecretString,
    },
}

impl Credentials {
    /// The username when it is known up front (password sign-in); `None` for a token.
    pub fn username(&self) -> Option<&str> {
        match self {
            Credentials::Token(_) => None,
            Credentials::Password { username, .. } => Some(username),
        }
    }

    /// Whether the client can get a new token by itself.
    pub fn is_renewable(&self) -> bool {
        matches!(self, Credentials::Password { .. })
    }
}
