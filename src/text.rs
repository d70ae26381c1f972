//! Text helpers shared by the tool and the simulator, which otherwise import nothing of each
//! other's.

/// Text made safe for an HTML element or a quoted attribute: `&`, `<`, `>`, `"` and `'`
/// become entities.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
