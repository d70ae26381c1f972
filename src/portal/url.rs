//! The portal URL as users paste it, normalised once.
//!
//! Users copy portal addresses from browsers, documentation and other tools, so every common form
//! is accepted (`https://www.arcgis.com`, `https://org.maps.arcgis.com`, `https://host/portal`,
//! each with or without `/sharing/rest`, `/home/...`, a trailing `/`, a query or a fragment) and
//! reduced to the portal's base URL. The REST root is always `<base>/sharing/rest/`.
//!
//! Plain `http://` is refused unless the host is loopback: tokens and passwords travel in every
//! request, and a simulator on 127.0.0.1 is the only legitimate plain-HTTP portal.

use std::fmt;
use std::net::IpAddr;

use url::{Host, Url};

/// A validated portal URL: its base (for logs) and its REST root (for requests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortalUrl {
    /// `scheme://host[:port][/webadaptor]`, no trailing slash.
    base: Url,
    /// `<base>/sharing/rest/` (with the trailing slash, so `join` appends endpoints).
    rest_root: Url,
    loopback: bool,
}

/// Why a portal URL was refused. Every message says what to do instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortalUrlError {
    /// Not a URL at all.
    #[error(
        "'{input}' is not a valid portal URL ({reason}); use a URL such as https://www.arcgis.com, https://myorg.maps.arcgis.com or https://host/portal"
    )]
    Invalid {
        /// What was given.
        input: String,
        /// What the URL parser said.
        reason: String,
    },
    /// A scheme other than http/https.
    #[error("unsupported scheme '{scheme}' in the portal URL; use https://")]
    UnsupportedScheme {
        /// The scheme that was given.
        scheme: String,
    },
    /// `http://` to a host that is not loopback.
    #[error(
        "plain http:// is refused for {host} because credentials would travel unencrypted; use https://{host} (http:// is accepted only for loopback hosts such as 127.0.0.1 or localhost)"
    )]
    InsecureHttp {
        /// The host that was given.
        host: String,
    },
    /// `https://user:password@host`: credentials in the URL would end up in logs.
    #[error(
        "the portal URL must not contain a username or password: remove the user:password part, and give the username with --username and the password with ARCGIS_PASSWORD, --password-file or --password-stdin"
    )]
    CredentialsInUrl,
}

impl PortalUrl {
    /// Parses and normalises a portal URL (see the module doc for the accepted forms).
    ///
    /// A missing scheme means `https://`.
    pub fn parse(input: &str) -> Result<PortalUrl, PortalUrlError> {
        let trimmed = input.trim();
        let with_scheme = if trimmed.contains("://") {
            trimmed.to_owned()
        } else {
            format!("https://{trimmed}")
        };
        let invalid = |reason: String| PortalUrlError::Invalid {
            input: redact(trimmed),
            reason,
        };
        let mut url = Url::parse(&with_scheme).map_err(|e| invalid(e.to_string()))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(PortalUrlError::CredentialsInUrl);
        }
        let host = match url.host() {
            Some(host) => host.to_owned(),
            None => return Err(invalid("no host name".to_owned())),
        };
        let loopback = is_loopback_host(&host);
        match url.scheme() {
            "https" => {}
            "http" if loopback => {}
            "http" => {
                return Err(PortalUrlError::InsecureHttp {
                    host: url.host_str().unwrap_or_default().to_owned(),
                });
            }
            other => {
                return Err(PortalUrlError::UnsupportedScheme {
                    scheme: other.to_owned(),
                });
            }
        }
        url.set_query(None);
        url.set_fragment(None);

        // Keep the path up to (not including) a `sharing` or `home` segment: that removes
        // `/sharing/rest[/anything]` and the portal's web pages (`/home/index.html`), and keeps a
        // web-adaptor prefix such as `/portal`.
        let segments: Vec<String> = url
            .path_segments()
            .map(|s| s.filter(|s| !s.is_empty()).map(str::to_owned).collect())
            .unwrap_or_default();
        let keep: Vec<&str> = segments
            .iter()
            .take_while(|s| {
                let s = s.to_ascii_lowercase();
                s != "sharing" && s != "home"
            })
            .map(String::as_str)
            .collect();
        let mut base = url.clone();
        base.set_path(&keep.join("/"));
        let mut rest_root = base.clone();
        {
            let mut path = rest_root
                .path_segments_mut()
                .map_err(|()| invalid("the URL cannot have a path".to_owned()))?;
            path.pop_if_empty().extend(["sharing", "rest", ""]);
        }
        Ok(PortalUrl {
            base,
            rest_root,
            loopback,
        })
    }

    /// The REST root, `…/sharing/rest/` (trailing slash included).
    pub fn rest_root(&self) -> &Url {
        &self.rest_root
    }

    /// Whether the host is loopback (127.0.0.0/8, ::1, localhost): such portals are never
    /// reached through a proxy and may use plain HTTP.
    pub fn is_loopback(&self) -> bool {
        self.loopback
    }
}

impl fmt::Display for PortalUrl {
    /// The portal's base URL without a trailing slash, e.g. `https://host/portal`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.base.as_str().trim_end_matches('/'))
    }
}

impl std::str::FromStr for PortalUrl {
    type Err = PortalUrlError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PortalUrl::parse(s)
    }
}

/// `input` with any `user:password@` part replaced by `***@`, for messages, logs and the
/// summary. Everything up to the last `@` of the authority goes: a password may hold `/`, `?` or
/// `#` unencoded, so the authority cannot be trusted to end at the first of them, and a portal
/// URL never needs an `@` anywhere else.
pub fn redact(input: &str) -> String {
    let start = input.find("://").map_or(0, |i| i + 3);
    match input[start..].rfind('@') {
        Some(at) => format!("{}***{}", &input[..start], &input[start + at..]),
        None => input.to_owned(),
    }
}

pub(super) fn is_loopback_host(host: &Host<String>) -> bool {
    match host {
        Host::Ipv4(ip) => IpAddr::V4(*ip).is_loopback(),
        Host::Ipv6(ip) => IpAddr::V6(*ip).is_loopback(),
        Host::Domain(name) => name.eq_ignore_ascii_case("localhost"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(input: &str) -> String {
        PortalUrl::parse(input).unwrap().rest_root().to_string()
    }

    fn shown(input: &str) -> String {
        PortalUrl::parse(input).unwrap().to_string()
    }

    #[test]
    fn arcgis_online_forms() {
        for input in [
            "https://www.arcgis.com",
            "https://www.arcgis.com/",
            "https://www.arcgis.com/sharing/rest",
            "https://www.arcgis.com/sharing/rest/",
            "https://www.arcgis.com/sharing",
            "https://www.arcgis.com/home/index.html",
            "https://www.arcgis.com/sharing/rest/portals/self?f=json",
            "  https://WWW.ArcGIS.com//  ",
            "www.arcgis.com",
        ] {
            assert_eq!(
                root(input),
                "https://www.arcgis.com/sharing/rest/",
                "{input}"
            );
            assert_eq!(shown(input), "https://www.arcgis.com", "{input}");
        }
    }

    #[test]
    fn organization_url() {
        assert_eq!(
            root("https://myorg.maps.arcgis.com/"),
            "https://myorg.maps.arcgis.com/sharing/rest/"
        );
        assert_eq!(
            root("https://myorg.maps.arcgis.com/home/organization.html#settings"),
            "https://myorg.maps.arcgis.com/sharing/rest/"
        );
    }

    #[test]
    fn enterprise_web_adaptor_forms() {
        for input in [
            "https://gis.example.org/portal",
            "https://gis.example.org/portal/",
            "https://gis.example.org/portal/sharing/rest",
            "https://gis.example.org/portal/sharing/rest/",
            "https://gis.example.org/portal/home/",
        ] {
            assert_eq!(
                root(input),
                "https://gis.example.org/portal/sharing/rest/",
                "{input}"
            );
            assert_eq!(shown(input), "https://gis.example.org/portal", "{input}");
        }
        assert_eq!(
            root("https://gis.example.org:7443/arcgis/sharing/rest"),
            "https://gis.example.org:7443/arcgis/sharing/rest/"
        );
    }

    #[test]
    fn loopback_http_is_allowed() {
        let url = PortalUrl::parse("http://127.0.0.1:1234").unwrap();
        assert!(url.is_loopback());
        assert_eq!(
            url.rest_root().as_str(),
            "http://127.0.0.1:1234/sharing/rest/"
        );
        assert_eq!(url.to_string(), "http://127.0.0.1:1234");
        for input in [
            "http://127.0.0.2:8080/arcgis/sharing/rest/",
            "http://localhost:9000",
            "http://[::1]:9000/",
        ] {
            assert!(PortalUrl::parse(input).unwrap().is_loopback(), "{input}");
        }
        assert!(
            !PortalUrl::parse("https://www.arcgis.com")
                .unwrap()
                .is_loopback()
        );
    }

    #[test]
    fn plain_http_elsewhere_is_refused_with_advice() {
        let err = PortalUrl::parse("http://example.com").unwrap_err();
        assert!(matches!(err, PortalUrlError::InsecureHttp { .. }));
        let text = err.to_string();
        assert!(text.contains("https://example.com"), "{text}");
        assert!(PortalUrl::parse("http://10.0.0.1/portal").is_err());
        assert!(PortalUrl::parse("http://localhost.example.com").is_err());
    }

    #[test]
    fn redaction_removes_the_user_info_however_it_is_written() {
        for (input, shown) in [
            (
                "https://svc:SECRET@org.maps.arcgis.com",
                "https://***@org.maps.arcgis.com",
            ),
            (
                "svc:SECRET@org.maps.arcgis.com/x",
                "***@org.maps.arcgis.com/x",
            ),
            (
                "https://svc:SE/C@R#ET@host/portal",
                "https://***@host/portal",
            ),
            ("https://host/portal", "https://host/portal"),
        ] {
            assert_eq!(redact(input), shown, "{input}");
        }
    }

    #[test]
    fn other_mistakes_are_refused() {
        assert!(matches!(
            PortalUrl::parse("ftp://www.arcgis.com"),
            Err(PortalUrlError::UnsupportedScheme { .. })
        ));
        let err = PortalUrl::parse("https://admin:secret@www.arcgis.com").unwrap_err();
        assert_eq!(err, PortalUrlError::CredentialsInUrl);
        assert!(!err.to_string().contains("secret"));
        let err = PortalUrl::parse("https://svc:SECRET@").unwrap_err();
        assert!(!err.to_string().contains("SECRET"), "{err}");
        assert!(matches!(
            PortalUrl::parse("https://"),
            Err(PortalUrlError::Invalid { .. })
        ));
        assert!(matches!(
            PortalUrl::parse(""),
            Err(PortalUrlError::Invalid { .. })
        ));
    }
}
