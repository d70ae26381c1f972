//! Just enough `multipart/form-data` to read text fields: the Python client switches to
//! multipart when a call carries a file (e.g. a group thumbnail); files are ignored.

/// The text fields of a multipart body (`name` → value); parts with a `filename` are skipped.
pub fn fields(content_type: &str, body: &[u8]) -> Vec<(String, String)> {
    let Some(boundary) = content_type.split(';').find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        k.eq_ignore_ascii_case("boundary")
            .then(|| v.trim_matches('"').to_owned())
    }) else {
        return Vec::new();
    };
    let body = String::from_utf8_lossy(body);
    let delimiter = format!("--{boundary}");
    let mut out = Vec::new();
    for part in body.split(delimiter.as_str()).skip(1) {
        if part.starts_with("--") {
            break;
        }
        let Some((head, value)) = part.split_once("\r\n\r\n") else {
            continue;
        };
        let disposition = head
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("content-disposition"))
            .unwrap_or("");
        if disposition.contains("filename=") {
            continue;
        }
        let Some(name) = disposition.split(';').find_map(|p| {
            let (k, v) = p.trim().split_once('=')?;
            (k == "name").then(|| v.trim_matches('"').to_owned())
        }) else {
            continue;
        };
        let value = value.strip_suffix("\r\n").unwrap_or(value);
        out.push((name, value.to_owned()));
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_text_fields_and_skips_files() {
        let body = "--XX\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nMy Group\r\n\
                    --XX\r\nContent-Disposition: form-data; name=\"thumbnail\"; filename=\"a.png\"\r\n\
                    Content-Type: image/png\r\n\r\n\x01\x02\r\n\
                    --XX\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\njson\r\n--XX--\r\n";
        let fields = super::fields("multipart/form-data; boundary=XX", body.as_bytes());
        assert_eq!(
            fields,
            vec![
                ("title".to_owned(), "My Group".to_owned()),
                ("f".to_owned(), "json".to_owned())
            ]
        );
    }
}
