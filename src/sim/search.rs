//! The search language of `community/groups` (and `community/users`), as fuzzy as the real one.
//!
//! Supported: `field:value`, `field:"a phrase"`, bare words, `AND` (also implicit between
//! terms, which is how the Python client appends ` accountid:<id>`), `OR` between adjacent
//! terms, `NOT`/`-` before a term, `*` (everything); parentheses are ignored.
//!
//! Keyword fields (`id`, `owner`, `orgid`/`accountid`, `access`, `username`, `email`,
//! `idpusername`) match exactly,
//! case-insensitively. Text fields (`title`, `tags`, `description`, `snippet`, `fullname`, and
//! bare words over all of them) match *fuzzily*: a document matches when it shares at least
//! one word with the term. That is the behaviour the real portal shows and the reason
//! `title:"Foo Bar"` also returns "Bar Charts" — clients must compare titles themselves.

/// Something searchable: a group or a user, seen through its fields.
pub trait Doc {
    /// The value of a keyword field, compared exactly (case-insensitively).
    fn keyword(&self, field: &str) -> Option<&str>;
    /// The text of a text field, matched word by word.
    fn text(&self, field: &str) -> Option<String>;
    /// The text bare words are matched against.
    fn all_text(&self) -> String;
}

/// A parsed query: a conjunction of disjunctions of (possibly negated) terms.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Query {
    clauses: Vec<Vec<Term>>,
}

/// How a text term compares: word overlap (`q`) or whole-value equality (`filter`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Mode {
    #[default]
    Fuzzy,
    Exact,
}

#[derive(Debug, Clone, PartialEq)]
struct Term {
    field: Option<String>,
    value: String,
    negated: bool,
    mode: Mode,
}

const KEYWORD_FIELDS: [&str; 8] = [
    "id",
    "owner",
    "orgid",
    "accountid",
    "access",
    "username",
    "email",
    "idpusername",
];

/// Lower-cased words of `s` (runs of letters and digits).
pub fn words(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

enum Token {
    Term(Option<String>, String),
    And,
    Or,
    Not,
}

fn tokenize(q: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut chars = q.chars().peekable();
    loop {
        while chars
            .peek()
            .is_some_and(|c| c.is_whitespace() || *c == '(' || *c == ')')
        {
            chars.next();
        }
        let Some(&first) = chars.peek() else { break };
        if first == '-' {
            chars.next();
            tokens.push(Token::Not);
            continue;
        }
        // Read `[field:]value`, where value may be quoted.
        let mut raw = String::new();
        let mut field = None;
        let mut quoted = false;
        while let Some(&c) = chars.peek() {
            if c == '"' {
                chars.next();
                quoted = true;
                for c in chars.by_ref() {
                    if c == '"' {
                        break;
                    }
                    raw.push(c);
                }
                break;
            }
            if c.is_whitespace() || c == '(' || c == ')' {
                break;
            }
            chars.next();
            if c == ':' && field.is_none() && !raw.is_empty() {
                field = Some(std::mem::take(&mut raw).to_ascii_lowercase());
                continue;
            }
            raw.push(c);
        }
        match (field.is_none() && !quoted, raw.as_str()) {
            (true, "AND") | (true, "&&") => tokens.push(Token::And),
            (true, "OR") | (true, "||") => tokens.push(Token::Or),
            (true, "NOT") => tokens.push(Token::Not),
            _ => tokens.push(Token::Term(field, raw)),
        }
    }
    tokens
}

impl Query {
    /// Parses `q`; an empty query (or `*`) matches everything.
    pub fn parse(q: &str) -> Query {
        Query::parse_with(q, Mode::Fuzzy)
    }

    /// Parses the structured `filter` parameter: same syntax, but text fields must equal the
    /// value (case-insensitively) instead of sharing a word with it.
    pub fn parse_exact(filter: &str) -> Query {
        Query::parse_with(filter, Mode::Exact)
    }

    fn parse_with(q: &str, mode: Mode) -> Query {
        let mut clauses: Vec<Vec<Term>> = Vec::new();
        let mut join_or = false;
        let mut negate = false;
        for token in tokenize(q) {
            match token {
                Token::And => join_or = false,
                Token::Or => join_or = true,
                Token::Not => negate = !negate,
                Token::Term(field, value) => {
                    let all = field.is_none() && value == "*";
                    let term = Term {
                        field,
                        value,
                        negated: negate,
                        mode,
                    };
                    negate = false;
                    if all {
                        join_or = false;
                        continue;
                    }
                    match clauses.last_mut() {
                        Some(last) if join_or => last.push(term),
                        _ => clauses.push(vec![term]),
                    }
                    join_or = false;
                }
            }
        }
        Query { clauses }
    }

    /// Relevance of `doc`, or `None` when it does not match. Higher is better: one point per
    /// shared word, a bonus when a text field equals or contains the whole phrase.
    pub fn score(&self, doc: &impl Doc) -> Option<u32> {
        let mut total = 0;
        for clause in &self.clauses {
            let best = clause.iter().filter_map(|t| t.score(doc)).max()?;
            total += best;
        }
        Some(total)
    }
}

impl Term {
    fn score(&self, doc: &impl Doc) -> Option<u32> {
        let hit = self.raw_score(doc);
        match (self.negated, hit) {
            (false, hit) => hit,
            (true, Some(_)) => None,
            (true, None) => Some(0),
        }
    }

    fn raw_score(&self, doc: &impl Doc) -> Option<u32> {
        let field = self.field.as_deref();
        if let Some(f) = field.filter(|f| KEYWORD_FIELDS.contains(f)) {
            let f = if f == "accountid" { "orgid" } else { f };
            let value = doc.keyword(f)?;
            return if self.value.ends_with('*') {
                let prefix = self.value.trim_end_matches('*').to_lowercase();
                value.to_lowercase().starts_with(&prefix).then_some(1)
            } else {
                value.eq_ignore_ascii_case(&self.value).then_some(1)
            };
        }
        let text = match field {
            Some(f) => doc.text(f)?,
            None => doc.all_text(),
        };
        if self.mode == Mode::Exact {
            return text
                .trim()
                .eq_ignore_ascii_case(self.value.trim())
                .then_some(1);
        }
        let wanted = words(&self.value);
        if wanted.is_empty() {
            return Some(0);
        }
        let have = words(&text);
        let shared = wanted.iter().filter(|w| have.contains(w)).count() as u32;
        if shared == 0 {
            return None;
        }
        let phrase = self.value.trim().to_lowercase();
        let text = text.trim().to_lowercase();
        let bonus = if text == phrase {
            100
        } else if text.contains(&phrase) {
            10
        } else {
            0
        };
        Some(shared + bonus)
    }
}

/// Which page of a result list to return: `start` is 1-based, `num` capped at 100.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// 1-based index of the first result.
    pub start: usize,
    /// Results per page, at most 100.
    pub num: usize,
}

impl Page {
    /// From the raw `start`/`num` parameters (defaults 1 and `default_num`).
    pub fn from_params(start: Option<&str>, num: Option<&str>, default_num: usize) -> Page {
        let start = start
            .and_then(|s| s.trim().parse::<i64>().ok())
            .filter(|s| *s >= 1)
            .unwrap_or(1) as usize;
        let num = num
            .and_then(|s| s.trim().parse::<i64>().ok())
            .map_or(default_num, |n| n.clamp(0, 100) as usize);
        Page { start, num }
    }

    /// The index range of this page in a list of `total`, and the `nextStart` (-1 at the end).
    pub fn window(&self, total: usize) -> (std::ops::Range<usize>, i64) {
        let from = (self.start - 1).min(total);
        let to = (from + self.num).min(total);
        let next = if to < total && self.num > 0 {
            to as i64 + 1
        } else {
            -1
        };
        (from..to, next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct G {
        title: &'static str,
        owner: &'static str,
    }

    impl Doc for G {
        fn keyword(&self, field: &str) -> Option<&str> {
            match field {
                "owner" => Some(self.owner),
                "orgid" => Some("ORG1"),
                _ => None,
            }
        }
        fn text(&self, field: &str) -> Option<String> {
            (field == "title").then(|| self.title.to_owned())
        }
        fn all_text(&self) -> String {
            format!("{} {}", self.title, self.owner)
        }
    }

    fn g(title: &'static str) -> G {
        G {
            title,
            owner: "admin",
        }
    }

    #[test]
    fn title_is_fuzzy_and_exact_ranks_first() {
        let q = Query::parse(r#"title:"Field Crew" accountid:ORG1"#);
        let exact = q.score(&g("Field Crew")).unwrap();
        let similar = q.score(&g("Crew Room")).unwrap();
        assert!(exact > similar);
        assert_eq!(q.score(&g("Office")), None);
        assert_eq!(Query::parse("title:x accountid:OTHER").score(&g("x")), None);
    }

    #[test]
    fn operators() {
        assert!(Query::parse("").score(&g("a")).is_some());
        assert!(Query::parse("*").score(&g("a")).is_some());
        assert!(
            Query::parse("owner:ADMIN AND title:a")
                .score(&g("a b"))
                .is_some()
        );
        assert!(Query::parse("owner:bob").score(&g("a")).is_none());
        assert!(
            Query::parse("owner:bob OR title:a")
                .score(&g("a"))
                .is_some()
        );
        assert!(Query::parse("NOT title:a").score(&g("a")).is_none());
        assert!(
            Query::parse("(title:zzz OR owner:admin)")
                .score(&g("a"))
                .is_some()
        );
        assert!(Query::parse("crew").score(&g("Field Crew")).is_some());
        assert!(
            Query::parse_exact(r#"title:"field crew""#)
                .score(&g("Field Crew"))
                .is_some()
        );
        assert!(
            Query::parse_exact("title:crew")
                .score(&g("Field Crew"))
                .is_none()
        );
    }

    #[test]
    fn paging() {
        let p = Page::from_params(None, None, 10);
        assert_eq!(p.window(25), (0..10, 11));
        let p = Page::from_params(Some("21"), Some("10"), 10);
        assert_eq!(p.window(25), (20..25, -1));
        assert_eq!(Page::from_params(None, Some("1000"), 10).num, 100);
        assert_eq!(
            Page::from_params(Some("30"), None, 10).window(25),
            (25..25, -1)
        );
    }
}
