//! JUnit XML (quick-junit): one testsuite per area, requirement IDs and
//! levels as properties so CI dashboards can group by them.

use super::RunInfo;
use crate::runner::{CaseResult, Outcome};
use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};
use std::collections::BTreeMap;

pub fn junit(results: &[CaseResult], info: &RunInfo) -> String {
    let mut report = Report::new("litmus");
    let mut by_area: BTreeMap<&str, Vec<&CaseResult>> = BTreeMap::new();
    for r in results {
        by_area.entry(r.area).or_default().push(r);
    }
    for (area, cases) in by_area {
        let mut suite = TestSuite::new(area);
        suite.add_property(Property::new("runtime", info.runtime.as_str()));
        suite.add_property(Property::new("spec_version", info.spec_version.as_str()));
        for r in cases {
            let status = match &r.outcome {
                Outcome::Pass => TestCaseStatus::success(),
                Outcome::Fail { expected, seen } => {
                    let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    status.set_message(format!("expected {expected}"));
                    status.set_description(format!("expected: {expected}\nseen: {seen}"));
                    status
                }
                Outcome::Skip { reason } => {
                    let mut status = TestCaseStatus::skipped();
                    status.set_message(reason.as_str());
                    status
                }
            };
            let mut case = TestCase::new(r.name, status);
            case.set_classname(format!("litmus.{area}"));
            case.set_time(r.duration);
            case.add_property(Property::new("level", r.level.to_string()));
            for id in &r.requirements {
                case.add_property(Property::new("requirement", *id));
            }
            suite.add_test_case(case);
        }
        report.add_test_suite(suite);
    }
    report.to_string().unwrap_or_else(|e| format!("<!-- junit serialization failed: {e} -->"))
}

#[cfg(test)]
mod tests {
    use super::super::fixtures;

    #[test]
    fn junit_snapshot() {
        insta::assert_snapshot!(super::junit(&fixtures::results(), &fixtures::info()));
    }
}
