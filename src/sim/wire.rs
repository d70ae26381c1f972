//! The simulator's own wire types: the ArcGIS error envelope and the exact error texts of
//! `reference/arcgis-rest.md` §1. Deliberately not shared with `src/portal`, so that a client
//! bug cannot hide behind a struct both sides use.

use serde::Serialize;
use serde_json::{Value, json};

use crate::text::escape_html;

/// An ArcGIS error as it travels in `{"error":{...}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// `error.code` (400, 403, 498, 499, …); also the HTTP status under `--errors-as-status`.
    pub code: u16,
    /// `error.messageCode`, when the real portal is known to send one.
    pub message_code: Option<&'static str>,
    /// `error.message`.
    pub message: String,
    /// `error.details`.
    pub details: Vec<String>,
}

#[derive(Serialize)]
struct Envelope<'a> {
    error: Body<'a>,
}

#[derive(Serialize)]
struct Body<'a> {
    code: u16,
    #[serde(rename = "messageCode", skip_serializing_if = "Option::is_none")]
    message_code: Option<&'a str>,
    message: &'a str,
    details: &'a [String],
}

impl ApiError {
    /// An error with the given code and message and no details.
    pub fn new(code: u16, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message_code: None,
            message: message.into(),
            details: Vec::new(),
        }
    }

    /// Sets `messageCode`.
    pub fn with_code(mut self, message_code: &'static str) -> Self {
        self.message_code = Some(message_code);
        self
    }

    /// Appends one `details` string.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.details.push(detail.into());
        self
    }

    /// The `{"error":{...}}` document.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(Envelope {
            error: Body {
                code: self.code,
                message_code: self.message_code,
                message: &self.message,
                details: &self.details,
            },
        })
        .unwrap_or_else(|_| json!({"error": {"code": self.code}}))
    }

    /// 498: unknown or expired token.
    pub fn invalid_token() -> Self {
        ApiError::new(498, "Invalid token.")
    }

    /// 499: an operation that needs a token was called without one.
    pub fn token_required() -> Self {
        ApiError::new(499, "Token Required")
            .with_code("GWM_0003")
            .with_detail("Token Required")
    }

    /// 403: signed in, but not allowed to do this.
    pub fn forbidden() -> Self {
        ApiError::new(
            403,
            "You do not have permissions to access this resource or perform this operation.",
        )
    }

    /// generateToken / signin with bad credentials.
    pub fn bad_credentials() -> Self {
        ApiError::new(400, "Unable to generate token.").with_detail("Invalid username or password.")
    }

    /// A group id that does not exist or that the caller may not see.
    pub fn group_not_found() -> Self {
        ApiError::new(400, "Group does not exist or is inaccessible.")
    }

    /// A username that does not exist (messageCode from a third-party report, see module doc).
    pub fn user_not_found() -> Self {
        ApiError::new(400, "User does not exist or is inaccessible.").with_code("COM_0018")
    }

    /// An invitation id the invitee does not have (or that expired).
    pub fn invitation_not_found() -> Self {
        ApiError::bad_request(
            "Invitation does not exist or is inaccessible.",
            "The invitation may have expired, or been accepted or declined.",
        )
    }

    /// More than 25 names in one addUsers/removeUsers call.
    pub fn too_many_users() -> Self {
        ApiError::new(400, "Exceeded maximum number of users allowed per call.")
            .with_code("ORG_3100")
    }

    /// `--strict-chunks`: an addUsers call naming an account that does not exist fails as a
    /// whole. No public source shows the real reply; this is the most plausible one: code
    /// 400, the message and the details naming the user (see the module doc of `sim`).
    pub fn unknown_user_in_call(username: &str) -> Self {
        ApiError::new(
            400,
            format!(
                "Unable to add users to group: user '{username}' does not exist or is inaccessible."
            ),
        )
        .with_detail(format!(
            "User '{username}' does not exist or is inaccessible."
        ))
    }

    /// The caller already owns a group with this title (`verb`: "create" or "update").
    pub fn duplicate_title(verb: &str, title: &str) -> Self {
        ApiError::new(400, format!("Unable to {verb} group."))
            .with_code("COM_0044")
            .with_detail(format!(
                "You already have a group named '{title}'. Try a different name."
            ))
    }

    /// A parameter is missing or malformed.
    pub fn bad_request(message: impl Into<String>, detail: impl Into<String>) -> Self {
        ApiError::new(400, message).with_detail(detail)
    }

    /// A POST-only operation was called with GET (exact real text unknown).
    pub fn method_not_supported() -> Self {
        ApiError::new(405, "Method not supported.")
            .with_detail("This operation is only supported via POST.")
    }

    /// A path the simulator does not serve.
    pub fn not_found() -> Self {
        ApiError::new(404, "Resource does not exist or is inaccessible.")
    }

    /// The throttled reply of `--rate-limit` / `--max-in-flight` / `--cool-off`, with the
    /// `--throttle-status` code (429 or 403).
    pub fn throttled(code: u16) -> Self {
        ApiError::new(code, "Too many requests. Try again later.")
    }

    /// The JSON 500 of `--fail-rate`.
    pub fn internal() -> Self {
        ApiError::new(500, "An internal server error occurred.")
    }
}

/// Request parameters: the query string merged with a form-encoded body (the body wins).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(pub std::collections::HashMap<String, String>);

impl Params {
    /// Parses `query` and then `body` (both `application/x-www-form-urlencoded`).
    pub fn parse(query: Option<&str>, body: &[u8]) -> Params {
        let mut map = std::collections::HashMap::new();
        for (k, v) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            map.insert(k.into_owned(), v.into_owned());
        }
        for (k, v) in url::form_urlencoded::parse(body) {
            map.insert(k.into_owned(), v.into_owned());
        }
        Params(map)
    }

    /// The raw value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    /// The value of `key`, trimmed, if present and not empty.
    pub fn non_empty(&self, key: &str) -> Option<&str> {
        self.get(key).map(str::trim).filter(|v| !v.is_empty())
    }

    /// A boolean parameter (`true`/`false`, any case).
    pub fn flag(&self, key: &str) -> Option<bool> {
        match self.get(key)?.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Some(true),
            "false" | "0" | "no" | "" => Some(false),
            _ => None,
        }
    }

    /// A comma-separated list parameter, trimmed, empty items dropped.
    pub fn list(&self, key: &str) -> Vec<String> {
        self.get(key)
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    }
}

/// The HTML page a reverse proxy sends for 502/503 (`--fail-rate`).
pub fn gateway_page(status: u16) -> String {
    let reason = match status {
        502 => "Bad Gateway",
        503 => "Service Temporarily Unavailable",
        _ => "Error",
    };
    format!(
        "<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n\
         <center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n\
         </body>\r\n</html>\r\n"
    )
}

/// Wraps a JSON document in the HTML page `f=html` (or no `f`) gets.
pub fn html_page(title: &str, body: &Value) -> String {
    let pretty = serde_json::to_string_pretty(body).unwrap_or_default();
    format!(
        "<!DOCTYPE html>\n<html><head><title>{}</title></head>\n<body>\n<h2>{}</h2>\n<pre>{}</pre>\n</body></html>\n",
        escape_html(title),
        escape_html(title),
        escape_html(&pretty)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_match_the_reference() {
        assert_eq!(
            ApiError::token_required().to_json(),
            json!({"error":{"code":499,"messageCode":"GWM_0003","message":"Token Required","details":["Token Required"]}})
        );
        assert_eq!(
            ApiError::invalid_token().to_json(),
            json!({"error":{"code":498,"message":"Invalid token.","details":[]}})
        );
        assert_eq!(
            ApiError::duplicate_title("create", "Public Place Manager").to_json(),
            json!({"error":{"code":400,"messageCode":"COM_0044","message":"Unable to create group.","details":["You already have a group named 'Public Place Manager'. Try a different name."]}})
        );
        assert_eq!(
            ApiError::too_many_users().to_json(),
            json!({"error":{"code":400,"messageCode":"ORG_3100","message":"Exceeded maximum number of users allowed per call.","details":[]}})
        );
    }
}
