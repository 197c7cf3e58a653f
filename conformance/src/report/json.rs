//! JSON: the run description, the summary and every result, for tools.

use super::{RunInfo, Summary};
use crate::runner::CaseResult;

pub fn json(results: &[CaseResult], info: &RunInfo) -> String {
    let doc = serde_json::json!({
        "litmus": info,
        "summary": Summary::of(results),
        "results": results,
    });
    serde_json::to_string_pretty(&doc).expect("results serialize")
}

#[cfg(test)]
mod tests {
    use super::super::fixtures;

    #[test]
    fn json_snapshot() {
        insta::assert_snapshot!(super::json(&fixtures::results(), &fixtures::info()));
    }
}
