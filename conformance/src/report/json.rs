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

    fn schema() -> jsonschema::Validator {
        let schema: serde_json::Value =
            serde_json::from_str(include_str!("../../schema/report.schema.json")).unwrap();
        jsonschema::validator_for(&schema).expect("the schema compiles")
    }

    fn errors(validator: &jsonschema::Validator, doc: &serde_json::Value) -> Vec<String> {
        validator.iter_errors(doc).map(|e| format!("{}: {e}", e.instance_path())).collect()
    }

    #[test]
    fn reports_follow_the_documented_schema() {
        let validator = schema();
        let mut info = fixtures::info();
        for note in [None, Some("cgroup2 hidden".to_string())] {
            info.note = note;
            let doc = serde_json::from_str(&super::json(&fixtures::results(), &info)).unwrap();
            assert_eq!(errors(&validator, &doc), Vec::<String>::new());
        }
        // The committed reports of docs/results (cargo xtask peers) too.
        let committed =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/results/json");
        for entry in std::fs::read_dir(committed).into_iter().flatten().flatten() {
            let doc = serde_json::from_slice(&std::fs::read(entry.path()).unwrap()).unwrap();
            assert_eq!(
                errors(&validator, &doc),
                Vec::<String>::new(),
                "{}",
                entry.path().display()
            );
        }
    }

    #[test]
    fn the_schema_refuses_what_a_merge_could_not_read() {
        let validator = schema();
        let mut doc: serde_json::Value =
            serde_json::from_str(&super::json(&fixtures::results(), &fixtures::info())).unwrap();
        doc["results"][0]["outcome"] = "maybe".into();
        doc["litmus"]["host"]["cgroup"] = "v3".into();
        let found = errors(&validator, &doc);
        assert!(found.iter().any(|e| e.starts_with("/results/0/outcome")), "{found:?}");
        assert!(found.iter().any(|e| e.starts_with("/litmus/host/cgroup")), "{found:?}");
    }
}
