//! Per-cell validation rules (product spec §2.2). Each check takes the cell (already trimmed)
//! and the column name as written in the header, and returns the normalised value or a reason
//! that names the column — the reason goes verbatim into the results file.

use std::borrow::Cow;

use super::model::{Access, MembershipAccess, Role, SortField, SortOrder};

/// The reason for a row whose bytes are not valid UTF-8.
pub const NOT_UTF8: &str = "not valid UTF-8 (try --encoding windows-1252)";

/// Longest accepted username, in characters.
pub const MAX_USERNAME_CHARS: usize = 128;
/// Longest accepted group title, in characters (the documented snippet limit; the portal's own
/// title limit is unverified, so this is a safe bound).
pub const MAX_TITLE_CHARS: usize = 250;
/// Longest accepted snippet, in characters (the documented portal limit).
pub const MAX_SNIPPET_CHARS: usize = 250;

/// `username`: non-empty, no whitespace, no control characters, no `,` (it would smuggle a
/// second user into addUsers' comma-separated `users`), at most 128 characters.
pub fn username(column: &str, value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err(format!("{column} is empty"));
    }
    if has_control(value) {
        return Err(format!("{column} contains a control character"));
    }
    let chars = char_count(value);
    if chars > MAX_USERNAME_CHARS {
        return Err(format!(
            "{column} is {chars} characters long; at most {MAX_USERNAME_CHARS} are allowed"
        ));
    }
    if value.chars().any(char::is_whitespace) {
        return Err(format!("{column} '{value}' contains whitespace"));
    }
    if value.contains(',') {
        return Err(format!(
            "{column} '{value}' contains a comma, which usernames cannot contain"
        ));
    }
    Ok(())
}

/// Whether a username cell looks like an e-mail address (`local@domain.tld`) rather than a
/// portal username (one `@`, text before it, a dotted domain after it, no whitespace):
/// `--match-by auto` resolves such cells through the directory, `validate` warns (§2.4).
pub fn looks_like_email(value: &str) -> bool {
    match value.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !value.chars().any(char::is_whitespace)
                && !domain.contains('@')
                && domain.split_once('.').is_some_and(|(host, tld)| {
                    !host.is_empty() && !tld.is_empty() && !tld.ends_with('.')
                })
        }
        None => false,
    }
}

/// A group title: non-empty, no control characters, at most 250 characters. Returns the title
/// with inner whitespace runs collapsed to one space (the form compared and sent).
pub fn group_title(column: &str, value: &str) -> Result<String, String> {
    if value.is_empty() {
        return Err(format!("{column} is empty"));
    }
    if has_control(value) {
        return Err(format!(
            "{column} contains a control character (a line break or a tab?)"
        ));
    }
    let collapsed = collapse_whitespace(value);
    let chars = collapsed.chars().count();
    if chars > MAX_TITLE_CHARS {
        return Err(format!(
            "{column} is {chars} characters long; at most {MAX_TITLE_CHARS} are allowed"
        ));
    }
    Ok(collapsed)
}

/// Whether `value` holds a control character (a byte test for ASCII, the common case).
fn has_control(value: &str) -> bool {
    if value.is_ascii() {
        value.bytes().any(|b| b.is_ascii_control())
    } else {
        value.chars().any(char::is_control)
    }
}

/// Characters in `value` (byte length for ASCII, the common case).
fn char_count(value: &str) -> usize {
    if value.is_ascii() {
        value.len()
    } else {
        value.chars().count()
    }
}

/// Collapse inner whitespace runs to one space (input already trimmed). Allocates once.
pub(crate) fn collapse_whitespace(value: &str) -> String {
    // Fast path: ASCII whose only whitespace is single spaces.
    if value.is_ascii()
        && !value.bytes().any(|b| b.is_ascii_whitespace() && b != b' ')
        && !value.contains("  ")
    {
        return value.to_owned();
    }
    let mut out = String::with_capacity(value.len());
    for word in value.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// `group_id`: exactly 32 hexadecimal digits; returned lower-cased.
pub fn group_id(column: &str, value: &str) -> Result<String, String> {
    if value.len() == 32 && value.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(value.to_ascii_lowercase())
    } else {
        Err(format!(
            "{column} '{}' is not a group id (32 hexadecimal characters)",
            excerpt(value)
        ))
    }
}

/// `role`: empty → member; `member`, `admin`, `manager`, `group_admin` (case-insensitive).
pub fn role(column: &str, value: &str) -> Result<Role, String> {
    if value.is_empty() || value.eq_ignore_ascii_case("member") {
        Ok(Role::Member)
    } else if ["admin", "manager", "group_admin"]
        .iter()
        .any(|a| value.eq_ignore_ascii_case(a))
    {
        Ok(Role::Admin)
    } else {
        Err(format!(
            "{column} '{}' is not one of member, admin (or manager)",
            excerpt(value)
        ))
    }
}

/// `access`: `private`, `org` or `public`.
pub fn access(column: &str, value: &str) -> Result<Access, String> {
    enumeration(
        column,
        value,
        &[
            ("private", Access::Private),
            ("org", Access::Org),
            ("public", Access::Public),
        ],
    )
}

/// `sort_field`: `title`, `owner`, `avgrating`, `numviews`, `created` or `modified`.
pub fn sort_field(column: &str, value: &str) -> Result<SortField, String> {
    enumeration(
        column,
        value,
        &[
            ("title", SortField::Title),
            ("owner", SortField::Owner),
            ("avgrating", SortField::AvgRating),
            ("numviews", SortField::NumViews),
            ("created", SortField::Created),
            ("modified", SortField::Modified),
        ],
    )
}

/// `sort_order`: `asc` or `desc`.
pub fn sort_order(column: &str, value: &str) -> Result<SortOrder, String> {
    enumeration(
        column,
        value,
        &[("asc", SortOrder::Asc), ("desc", SortOrder::Desc)],
    )
}

/// `membership_access`: `org`, `collaboration` or `none`.
pub fn membership_access(column: &str, value: &str) -> Result<MembershipAccess, String> {
    enumeration(
        column,
        value,
        &[
            ("org", MembershipAccess::Org),
            ("collaboration", MembershipAccess::Collaboration),
            ("none", MembershipAccess::None),
        ],
    )
}

/// A boolean: `true|false|yes|no|1|0`, case-insensitive.
pub fn boolean(column: &str, value: &str) -> Result<bool, String> {
    if ["true", "yes", "1"]
        .iter()
        .any(|t| value.eq_ignore_ascii_case(t))
    {
        Ok(true)
    } else if ["false", "no", "0"]
        .iter()
        .any(|t| value.eq_ignore_ascii_case(t))
    {
        Ok(false)
    } else {
        Err(format!(
            "{column} '{}' is not one of true, false, yes, no, 1, 0",
            excerpt(value)
        ))
    }
}

/// `snippet`: at most 250 characters.
pub fn snippet(column: &str, value: &str) -> Result<(), String> {
    let chars = value.chars().count();
    if chars > MAX_SNIPPET_CHARS {
        return Err(format!(
            "{column} is {chars} characters long; at most {MAX_SNIPPET_CHARS} are allowed"
        ));
    }
    Ok(())
}

/// `tags`: comma-separated; each tag trimmed, empty ones dropped. `None` when nothing is left.
/// Borrows when the value is already in that form (the common case; no allocation per row).
pub fn tags(value: &str) -> Option<Cow<'_, str>> {
    let tidy = !value.is_empty()
        && value
            .split(',')
            .all(|t| !t.is_empty() && t.trim().len() == t.len());
    if tidy {
        return Some(Cow::Borrowed(value));
    }
    let mut out = String::with_capacity(value.len());
    for tag in value.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        if !out.is_empty() {
            out.push(',');
        }
        out.push_str(tag);
    }
    (!out.is_empty()).then_some(Cow::Owned(out))
}

fn enumeration<T: Copy>(column: &str, value: &str, allowed: &[(&str, T)]) -> Result<T, String> {
    allowed
        .iter()
        .find(|(name, _)| value.eq_ignore_ascii_case(name))
        .map(|(_, v)| *v)
        .ok_or_else(|| {
            let names: Vec<&str> = allowed.iter().map(|(n, _)| *n).collect();
            format!(
                "{column} '{}' is not one of {}",
                excerpt(value),
                names.join(", ")
            )
        })
}

/// A value quoted in a reason: control characters replaced, long values shortened.
fn excerpt(value: &str) -> String {
    let cleaned: String = value
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .take(41)
        .collect();
    if cleaned.chars().count() > 40 {
        format!("{}…", cleaned.chars().take(40).collect::<String>())
    } else {
        cleaned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn username_rules() {
        assert!(username("username", "jsmith_esri").is_ok());
        assert!(username("username", "j.smith@example.com").is_ok());
        assert_eq!(username("User Name", "").unwrap_err(), "User Name is empty");
        assert!(
            username("username", "john smith")
                .unwrap_err()
                .contains("whitespace")
        );
        assert!(
            username("username", "john\u{a0}smith")
                .unwrap_err()
                .contains("whitespace")
        );
        assert!(
            username("username", "a\u{7}b")
                .unwrap_err()
                .contains("control")
        );
        assert!(username("username", "a,b").unwrap_err().contains("comma"));
        assert!(username("username", &"x".repeat(128)).is_ok());
        assert!(
            username("username", &"x".repeat(129))
                .unwrap_err()
                .contains("129 characters")
        );
        // Characters, not bytes.
        assert!(username("username", &"é".repeat(128)).is_ok());
    }

    #[test]
    fn e_mail_lookalikes() {
        for yes in ["amy@example.edu", "a.b+c@mail.example.co.uk", "x@y.z"] {
            assert!(looks_like_email(yes), "{yes}");
        }
        for no in [
            "amy",
            "amy@",
            "@example.edu",
            "amy@localhost",
            "amy@.edu",
            "a b@x.org",
            "amy_esri",
            "amy@uni.",
            "a@b@c.d",
        ] {
            assert!(!looks_like_email(no), "{no}");
        }
    }

    #[test]
    fn title_rules() {
        assert_eq!(
            group_title("group", "GIS  101\u{a0} Fall").unwrap(),
            "GIS 101 Fall"
        );
        assert_eq!(group_title("group", "").unwrap_err(), "group is empty");
        assert!(
            group_title("group", "a\nb")
                .unwrap_err()
                .contains("control")
        );
        assert!(
            group_title("group", "a\tb")
                .unwrap_err()
                .contains("control")
        );
        assert!(group_title("group", &"t".repeat(250)).is_ok());
        assert!(
            group_title("group", &"t".repeat(251))
                .unwrap_err()
                .contains("251")
        );
    }

    #[test]
    fn group_id_rules() {
        let id = "0123456789ABCDEF0123456789abcdef";
        assert_eq!(group_id("group_id", id).unwrap(), id.to_lowercase());
        assert!(
            group_id("group_id", "0123")
                .unwrap_err()
                .contains("not a group id")
        );
        assert!(group_id("group_id", &"g".repeat(32)).is_err());
    }

    #[test]
    fn role_rules() {
        assert_eq!(role("role", ""), Ok(Role::Member));
        assert_eq!(role("role", "MEMBER"), Ok(Role::Member));
        assert_eq!(role("role", "Admin"), Ok(Role::Admin));
        assert_eq!(role("role", "manager"), Ok(Role::Admin));
        assert_eq!(role("role", "Group_Admin"), Ok(Role::Admin));
        assert_eq!(
            role("Role", "owner").unwrap_err(),
            "Role 'owner' is not one of member, admin (or manager)"
        );
    }

    #[test]
    fn enumeration_rules() {
        assert_eq!(access("access", "ORG"), Ok(Access::Org));
        assert_eq!(access("access", "Public"), Ok(Access::Public));
        assert_eq!(
            access("access", "secret").unwrap_err(),
            "access 'secret' is not one of private, org, public"
        );
        assert_eq!(
            sort_field("sort_field", "AvgRating"),
            Ok(SortField::AvgRating)
        );
        assert!(sort_field("sort_field", "rating").is_err());
        assert_eq!(sort_order("sort_order", "DESC"), Ok(SortOrder::Desc));
        assert!(sort_order("sort_order", "down").is_err());
        assert_eq!(
            membership_access("m", "Collaboration"),
            Ok(MembershipAccess::Collaboration)
        );
        assert!(membership_access("m", "all").is_err());
    }

    #[test]
    fn boolean_rules() {
        for t in ["true", "TRUE", "yes", "Yes", "1"] {
            assert_eq!(boolean("b", t), Ok(true), "{t}");
        }
        for f in ["false", "No", "0"] {
            assert_eq!(boolean("b", f), Ok(false), "{f}");
        }
        assert!(
            boolean("auto_join", "y")
                .unwrap_err()
                .starts_with("auto_join 'y'")
        );
    }

    #[test]
    fn snippet_and_tags() {
        assert!(snippet("snippet", &"s".repeat(250)).is_ok());
        assert!(snippet("snippet", &"s".repeat(251)).is_err());
        assert_eq!(
            tags(" gis, course ,,2024 ").as_deref(),
            Some("gis,course,2024")
        );
        assert!(matches!(
            tags("gis,course"),
            Some(Cow::Borrowed("gis,course"))
        ));
        assert_eq!(tags(" , "), None);
    }

    #[test]
    fn excerpts_are_short_and_printable() {
        let long = "x".repeat(100);
        let reason = access("access", &long).unwrap_err();
        assert!(reason.len() < 100, "{reason}");
        assert!(
            !access("access", "a\u{1b}[31m")
                .unwrap_err()
                .contains('\u{1b}')
        );
    }
}
