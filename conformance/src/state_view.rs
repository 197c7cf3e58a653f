//! What a runtime's `state` says, read as untrusted text.

use anyhow::{anyhow, Context, Result};

/// The fields of a state document that cases look at, plus the whole
/// document: what `state` prints and what hooks get on stdin.
#[derive(Debug)]
pub struct StateView {
    pub oci_version: String,
    pub id: String,
    pub status: String,
    /// 0 when absent (a stopped container need not have one).
    pub pid: i32,
    pub bundle: String,
    pub json: serde_json::Value,
}

impl StateView {
    /// Reads a state document written by the runtime under test: untrusted
    /// text, so anything that is not a JSON object with string fields of
    /// the right types is an error naming the field, never a panic.
    pub fn parse(text: &str) -> Result<StateView> {
        let json: serde_json::Value = serde_json::from_str(text)
            .with_context(|| format!("not JSON: {:?}", truncated(text, 200)))?;
        if !json.is_object() {
            return Err(anyhow!("not a JSON object: {}", truncated(text, 200)));
        }
        let string = |field: &str| -> Result<String> {
            match &json[field] {
                serde_json::Value::Null => Ok(String::new()),
                serde_json::Value::String(s) => Ok(s.clone()),
                other => Err(anyhow!("{field} is not a string: {other}")),
            }
        };
        let pid = match &json["pid"] {
            serde_json::Value::Null => 0,
            value => value
                .as_i64()
                .and_then(|p| i32::try_from(p).ok())
                .ok_or_else(|| anyhow!("pid is not a process ID: {value}"))?,
        };
        Ok(StateView {
            oci_version: string("ociVersion")?,
            id: string("id")?,
            status: string("status")?,
            pid,
            bundle: string("bundle")?,
            json,
        })
    }
}

fn truncated(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((at, _)) => &text[..at],
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::StateView;

    #[test]
    fn state_documents_are_read_field_by_field() {
        let state = StateView::parse(
            r#"{"ociVersion":"1.2.0","id":"c1","status":"created","pid":42,"bundle":"/b"}"#,
        )
        .unwrap();
        assert_eq!(
            (
                state.oci_version.as_str(),
                state.id.as_str(),
                state.status.as_str(),
                state.pid,
                state.bundle.as_str()
            ),
            ("1.2.0", "c1", "created", 42, "/b")
        );
        assert_eq!(StateView::parse(r#"{"id":"c"}"#).unwrap().pid, 0);
    }

    #[test]
    fn bad_state_documents_name_the_field() {
        let err = |text| format!("{:#}", StateView::parse(text).unwrap_err());
        assert!(err(r#"{"pid":"12"}"#).contains("pid"));
        assert!(err(r#"{"pid":99999999999}"#).contains("pid"));
        assert!(err(r#"{"id":7}"#).contains("id is not a string"));
        assert!(err("[1]").contains("not a JSON object"));
        assert!(err("nope").contains("not JSON"));
    }
}
