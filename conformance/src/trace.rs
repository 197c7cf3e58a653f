//! Traceability: every normative statement of the runtime-spec documents
//! that bind a Linux runtime, mapped to the catalogue requirement whose
//! cases check it, or to the reason no case can.
//!
//! The statements are read from the spec's own text (vendored, unchanged,
//! in `conformance/spec/`): a statement is a sentence holding an RFC 2119
//! keyword of the MUST or SHOULD class, named by its document, the anchor
//! of its section and its ordinal there. The mapping is
//! `conformance/spec/<version>.trace`, written by hand, one line per
//! statement or run of statements:
//!
//! ```text
//! config.md#configRoot 7 | config.root.path-exists | root.path names an existing directory
//! config.md#configRoot 1-3,5,9 | n/a: Windows containers | rules for other platforms
//! ```
//!
//! The middle column is catalogue IDs (comma-separated) or a reason, which
//! starts with its kind: `n/a` (another platform or another party's
//! obligation), `author` (a rule on whoever writes the config, which
//! binds the runtime only through config.valid-values), `informative`
//! (no behaviour to observe), `untestable` (a behaviour no black box can
//! observe), `host` (needs hardware or a kernel feature litmus hosts do
//! not have) or `pending` (a black box could check it; no case does yet).
//! A catalogue requirement that no case cites has a line of its own,
//! `? ID | KIND: REASON`. A unit test fails when a statement has no line,
//! a line names no statement, an ID is not in the catalogue, or a
//! requirement has neither a case nor a reason.

use crate::case::Case;
use crate::catalogue::{Level, CATALOGUE};
use std::collections::BTreeMap;

/// The spec release the trace covers.
pub const TRACED_VERSION: &str = "v1.3.0";

/// The documents that bind a Linux runtime (config-windows.md and the
/// other platforms' documents do not), with their text.
const DOCUMENTS: &[(&str, &str)] = &[
    ("runtime.md", include_str!("../spec/v1.3.0/runtime.md")),
    ("runtime-linux.md", include_str!("../spec/v1.3.0/runtime-linux.md")),
    ("config.md", include_str!("../spec/v1.3.0/config.md")),
    ("config-linux.md", include_str!("../spec/v1.3.0/config-linux.md")),
    ("features.md", include_str!("../spec/v1.3.0/features.md")),
    ("features-linux.md", include_str!("../spec/v1.3.0/features-linux.md")),
    ("glossary.md", include_str!("../spec/v1.3.0/glossary.md")),
];

const TRACE: &str = include_str!("../spec/v1.3.0.trace");

/// The option strings of config.md's "Linux mount options" table, read
/// from the vendored text, with their level (MUST, SHOULD, MAY).
pub fn linux_mount_options() -> Vec<(String, String)> {
    let config = DOCUMENTS.iter().find(|(name, _)| *name == "config.md").expect("vendored").1;
    config
        .lines()
        .skip_while(|l| !l.contains("name=\"configLinuxMountOptions\""))
        .take_while(|l| !l.starts_with("[^1]"))
        .filter_map(|l| {
            let mut cells = l.split('|').map(str::trim);
            let name = cells.next()?.strip_prefix('`')?.split('`').next()?.trim().to_string();
            let level = cells.next()?.to_string();
            Some((name, level))
        })
        .collect()
}

/// The keywords, longest first so that "MUST NOT" is not read as "MUST".
const KEYWORDS: &[(&str, Class)] = &[
    ("NOT RECOMMENDED", Class::Should),
    ("SHOULD NOT", Class::Should),
    ("MUST NOT", Class::Must),
    ("SHALL NOT", Class::Must),
    ("RECOMMENDED", Class::Should),
    ("REQUIRED", Class::Must),
    ("SHOULD", Class::Should),
    ("SHALL", Class::Must),
    ("MUST", Class::Must),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Class {
    Must,
    Should,
}

impl std::fmt::Display for Class {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Class::Must => "MUST",
            Class::Should => "SHOULD",
        })
    }
}

/// One normative sentence of the spec.
#[derive(Clone, Debug)]
pub struct Statement {
    pub document: &'static str,
    pub anchor: String,
    /// 1-based, among the statements of its section.
    pub ordinal: usize,
    /// The first keyword in the sentence.
    pub keyword: &'static str,
    pub class: Class,
    pub text: String,
}

impl Statement {
    pub fn place(&self) -> String {
        format!("{}#{} {}", self.document, self.anchor, self.ordinal)
    }
}

/// What a statement maps to.
#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    Requirements(Vec<String>),
    Reason(String),
}

/// One line of the trace file.
#[derive(Clone, Debug)]
pub struct TraceLine {
    pub section: String,
    pub ordinals: Vec<usize>,
    pub target: Target,
    pub paraphrase: String,
    pub line: usize,
}

/// The reason kinds a trace line may give.
pub const REASON_KINDS: &[&str] =
    &["n/a", "author", "informative", "untestable", "host", "pending"];

/// Every normative statement of the traced documents, in document order.
pub fn statements() -> Vec<Statement> {
    DOCUMENTS.iter().flat_map(|(name, text)| statements_of(name, text)).collect()
}

fn statements_of(document: &'static str, text: &str) -> Vec<Statement> {
    let mut out = Vec::new();
    let mut section = String::new();
    let mut count: BTreeMap<String, usize> = BTreeMap::new();
    let mut in_code = false;
    for line in text.lines() {
        if line.starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        if let Some(heading) = line.strip_prefix('#') {
            section = anchor(heading.trim_start_matches('#'));
            continue;
        }
        for sentence in sentences(line.trim()) {
            let Some((keyword, class)) = first_keyword(sentence) else {
                continue;
            };
            let ordinal = count.entry(section.clone()).or_default();
            *ordinal += 1;
            out.push(Statement {
                document,
                anchor: section.clone(),
                ordinal: *ordinal,
                keyword,
                class,
                text: sentence.to_string(),
            });
        }
    }
    out
}

/// A heading's anchor: its `<a name="...">` where it has one (the spec's
/// stable names), else GitHub's slug of the heading text.
fn anchor(heading: &str) -> String {
    if let Some(start) = heading.find("<a name=\"") {
        let rest = &heading[start + 9..];
        return rest[..rest.find('"').unwrap_or(rest.len())].to_string();
    }
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == '-' || *c == ' ' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// Splits a line where a sentence ends: `.`, `!` or `?`, whitespace, then
/// a capital, `*`, a backtick or `[`.
fn sentences(line: &str) -> Vec<&str> {
    let bytes = line.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        if matches!(bytes[i], b'.' | b'!' | b'?') {
            let mut j = i + 1;
            while j < bytes.len() && bytes[j].is_ascii_whitespace() {
                j += 1;
            }
            let next_starts = j < bytes.len()
                && (bytes[j].is_ascii_uppercase() || matches!(bytes[j], b'*' | b'`' | b'['));
            if j > i + 1 && next_starts {
                out.push(line[start..=i].trim());
                start = j;
                i = j;
                continue;
            }
        }
        i += 1;
    }
    out.push(line[start..].trim());
    out.retain(|s| !s.is_empty());
    out
}

/// The sentence's first keyword (as a whole word), if any.
fn first_keyword(sentence: &str) -> Option<(&'static str, Class)> {
    let bytes = sentence.as_bytes();
    let mut best: Option<(usize, &'static str, Class)> = None;
    for (keyword, class) in KEYWORDS {
        let mut from = 0;
        while let Some(found) = sentence[from..].find(keyword) {
            let at = from + found;
            let end = at + keyword.len();
            let before = at == 0 || !bytes[at - 1].is_ascii_alphanumeric();
            let after = end == bytes.len() || !bytes[end].is_ascii_alphanumeric();
            if before && after {
                if best.is_none_or(|(b, _, _)| at < b) {
                    best = Some((at, keyword, *class));
                }
                break;
            }
            from = end;
        }
    }
    best.map(|(_, k, c)| (k, c))
}

/// The trace file's lines (comments and blank lines skipped).
pub fn trace_lines() -> Result<Vec<TraceLine>, String> {
    parse_trace(TRACE)
}

fn parse_trace(text: &str) -> Result<Vec<TraceLine>, String> {
    let mut out = Vec::new();
    for (number, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with("//") || line.starts_with('?') {
            continue;
        }
        let bad = |why: &str| format!("trace line {}: {why}: {raw}", number + 1);
        let parts: Vec<&str> = line.splitn(3, '|').map(str::trim).collect();
        let [head, target, paraphrase] = parts[..] else {
            return Err(bad("want `SECTION ORDINALS | TARGET | PARAPHRASE`"));
        };
        let (section, ordinals) = head.rsplit_once(' ').ok_or_else(|| bad("no ordinals"))?;
        let ordinals = parse_ordinals(ordinals).ok_or_else(|| bad("bad ordinals"))?;
        let target = match target.split_once(':') {
            Some((kind, reason)) if REASON_KINDS.contains(&kind) => {
                Target::Reason(format!("{kind}: {}", reason.trim()))
            }
            _ => Target::Requirements(target.split(',').map(|id| id.trim().to_string()).collect()),
        };
        if paraphrase.is_empty() {
            return Err(bad("no paraphrase"));
        }
        out.push(TraceLine {
            section: section.trim().to_string(),
            ordinals,
            target,
            paraphrase: paraphrase.to_string(),
            line: number + 1,
        });
    }
    Ok(out)
}

/// The `? ID | KIND: REASON` lines: why a catalogue requirement has no
/// case.
pub fn unchecked_reasons() -> Result<BTreeMap<String, String>, String> {
    parse_unchecked(TRACE)
}

fn parse_unchecked(text: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for (number, raw) in text.lines().enumerate() {
        let Some(rest) = raw.trim().strip_prefix('?') else {
            continue;
        };
        let bad = |why: &str| format!("trace line {}: {why}: {raw}", number + 1);
        let (id, reason) = rest.split_once('|').ok_or_else(|| bad("want `? ID | KIND: REASON`"))?;
        let kind = reason.split(':').next().unwrap_or_default().trim();
        if !REASON_KINDS.contains(&kind) || !reason.contains(':') {
            return Err(bad("the reason starts with its kind"));
        }
        out.insert(id.trim().to_string(), reason.trim().to_string());
    }
    Ok(out)
}

/// "1-3,5" → [1, 2, 3, 5].
fn parse_ordinals(text: &str) -> Option<Vec<usize>> {
    let mut out = Vec::new();
    for part in text.split(',') {
        match part.split_once('-') {
            Some((a, b)) => out.extend(a.parse::<usize>().ok()?..=b.parse::<usize>().ok()?),
            None => out.push(part.parse().ok()?),
        }
    }
    Some(out)
}

/// A statement with what the trace maps it to.
pub struct Traced {
    pub statement: Statement,
    pub target: Target,
    pub paraphrase: String,
    /// Names of the cases that check it (none for a reason).
    pub cases: Vec<&'static str>,
}

/// Every statement joined with its trace line; an error lists every
/// statement without a line, every line naming no statement, and every
/// unknown ID.
pub fn traced() -> Result<Vec<Traced>, String> {
    let lines = trace_lines()?;
    let mut by_place: BTreeMap<(String, usize), &TraceLine> = BTreeMap::new();
    let mut problems = Vec::new();
    for line in &lines {
        for ordinal in &line.ordinals {
            if by_place.insert((line.section.clone(), *ordinal), line).is_some() {
                problems.push(format!("{} {ordinal}: mapped twice", line.section));
            }
        }
        if let Target::Requirements(ids) = &line.target {
            for id in ids {
                if !CATALOGUE.iter().any(|r| r.id == id) {
                    problems.push(format!("trace line {}: unknown requirement {id}", line.line));
                }
            }
        }
    }
    let cases: Vec<&Case> = crate::cases::all().collect();
    let mut out = Vec::new();
    for statement in statements() {
        let key = (format!("{}#{}", statement.document, statement.anchor), statement.ordinal);
        let Some(line) = by_place.remove(&key) else {
            problems.push(format!("{}: not traced ({})", statement.place(), statement.text));
            continue;
        };
        let covering = match &line.target {
            Target::Requirements(ids) => cases
                .iter()
                .filter(|c| c.requirements.iter().any(|r| ids.iter().any(|id| id == r.id)))
                .map(|c| c.name)
                .collect(),
            Target::Reason(_) => Vec::new(),
        };
        out.push(Traced {
            statement,
            target: line.target.clone(),
            paraphrase: line.paraphrase.clone(),
            cases: covering,
        });
    }
    for ((section, ordinal), line) in by_place {
        problems.push(format!("trace line {}: {section} {ordinal} is no statement", line.line));
    }
    let reasons = unchecked_reasons()?;
    for id in requirements_without_cases() {
        if !reasons.contains_key(id) {
            problems.push(format!("{id}: no case and no `? {id} | KIND: REASON` line"));
        }
    }
    for id in reasons.keys() {
        if !CATALOGUE.iter().any(|r| r.id == id) {
            problems.push(format!("? {id}: not in the catalogue"));
        } else if !requirements_without_cases().contains(&id.as_str()) {
            problems.push(format!("? {id}: has a case now; drop its reason"));
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems.join("\n"))
    }
}

/// Where a statement stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Standing {
    /// A case checks it.
    Checked,
    /// No case can, for a stated reason (another platform, the config
    /// author's rule, no hardware...).
    NotCheckable,
    /// A case could and none does yet.
    Pending,
}

impl Traced {
    pub fn standing(&self, reasons: &BTreeMap<String, String>) -> Standing {
        if !self.cases.is_empty() {
            return Standing::Checked;
        }
        let pending = |reason: &str| reason.starts_with("pending:");
        let any_pending = match &self.target {
            Target::Reason(reason) => pending(reason),
            Target::Requirements(ids) => {
                ids.iter().any(|id| reasons.get(id).is_none_or(|r| pending(r)))
            }
        };
        if any_pending {
            Standing::Pending
        } else {
            Standing::NotCheckable
        }
    }
}

/// Coverage figures per class: (class, statements, checked by a case, not
/// checkable for a stated reason, pending).
pub fn coverage(
    traced: &[Traced],
    reasons: &BTreeMap<String, String>,
) -> Vec<(Class, usize, usize, usize, usize)> {
    [Class::Must, Class::Should]
        .into_iter()
        .map(|class| {
            let of: Vec<Standing> = traced
                .iter()
                .filter(|t| t.statement.class == class)
                .map(|t| t.standing(reasons))
                .collect();
            let count = |s: Standing| of.iter().filter(|x| **x == s).count();
            let (checked, reasoned) = (count(Standing::Checked), count(Standing::NotCheckable));
            (class, of.len(), checked, reasoned, count(Standing::Pending))
        })
        .collect()
}

/// The trace as `litmus requirements --trace` prints it: one block per
/// statement (only those no case checks with `uncovered_only`), then the
/// figures.
pub fn render(uncovered_only: bool) -> Result<String, String> {
    let traced = traced()?;
    let reasons = unchecked_reasons()?;
    let mut out = String::new();
    for t in &traced {
        if uncovered_only && !t.cases.is_empty() {
            continue;
        }
        let st = &t.statement;
        out += &format!("{} {}: {}\n", st.place(), st.keyword, t.paraphrase);
        match &t.target {
            Target::Reason(reason) => out += &format!("    no case: {reason}\n"),
            Target::Requirements(ids) => {
                out += &format!(
                    "    requirements: {}
",
                    ids.join(", ")
                );
                if t.cases.is_empty() {
                    let why: Vec<&str> =
                        ids.iter().filter_map(|id| reasons.get(id).map(String::as_str)).collect();
                    out += &format!("    no case: {}\n", why.join("; "));
                } else {
                    out += &format!("    cases: {}\n", t.cases.join(", "));
                }
            }
        }
    }
    out += &format!("\nruntime-spec {TRACED_VERSION}, {} normative statements:\n", traced.len());
    for (class, all, checked, reasoned, pending) in coverage(&traced, &reasons) {
        out += &format!(
            "  {class}: {all}: {checked} checked by a case, {reasoned} not checkable (reason \
             given), {pending} pending (checkable, no case yet)\n"
        );
    }
    Ok(out)
}

/// Catalogue entries of the spec's own levels that no case checks.
pub fn requirements_without_cases() -> Vec<&'static str> {
    let cases: Vec<&Case> = crate::cases::all().collect();
    CATALOGUE
        .iter()
        .filter(|r| matches!(r.level, Level::Must | Level::Should | Level::May))
        .filter(|r| !cases.iter().any(|c| c.requirements.iter().any(|q| q.id == r.id)))
        .map(|r| r.id)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mount_option_table_is_read_whole() {
        let options = linux_mount_options();
        assert_eq!(options.len(), 61, "{options:?}");
        assert!(options.contains(&("rrelatime".to_string(), "SHOULD".to_string())));
        assert!(options.contains(&("idmap".to_string(), "SHOULD".to_string())));
        assert!(options.contains(&("tmpcopyup".to_string(), "MAY".to_string())));
    }

    #[test]
    fn sentences_split_where_one_ends_and_the_next_begins() {
        assert_eq!(
            sentences("It MUST run. It SHOULD stop, e.g. `x`. then no split"),
            vec!["It MUST run.", "It SHOULD stop, e.g.", "`x`. then no split"]
        );
    }

    #[test]
    fn the_first_whole_keyword_decides_the_class() {
        assert_eq!(first_keyword("x MUST NOT y SHOULD"), Some(("MUST NOT", Class::Must)));
        assert_eq!(
            first_keyword("(int, OPTIONAL, NOT RECOMMENDED)"),
            Some(("NOT RECOMMENDED", Class::Should))
        );
        assert_eq!(first_keyword("MUSTARD and REQUIREDNESS"), None);
        assert_eq!(first_keyword("field (string, REQUIRED) is"), Some(("REQUIRED", Class::Must)));
    }

    #[test]
    fn anchors_are_the_spec_names_or_the_slug() {
        assert_eq!(anchor(r#" <a name="configRoot" />Root"#), "configRoot");
        assert_eq!(anchor(" Cgroup Ownership"), "cgroup-ownership");
    }

    #[test]
    fn unchecked_lines_name_a_requirement_and_a_kind() {
        let reasons = parse_unchecked("? linux.net-devices | pending: no case\nx | y").unwrap();
        assert_eq!(reasons["linux.net-devices"], "pending: no case");
        assert!(parse_unchecked("? linux.net-devices | no kind").is_err());
    }

    #[test]
    fn the_rendered_trace_lists_statements_and_figures() {
        let all = render(false).unwrap();
        assert!(all.contains("runtime.md#runtimeCreate 2 MUST: create with an id in use"), "{all}");
        assert!(all.contains("cases: duplicate_id_is_rejected"), "{all}");
        assert!(all.contains("normative statements:"), "{all}");
        let uncovered = render(true).unwrap();
        assert!(!uncovered.contains("runtime.md#runtimeCreate 2 MUST"), "{uncovered}");
        assert!(uncovered.contains("config.md#configRoot 1 REQUIRED"), "{uncovered}");
    }

    #[test]
    fn ordinals_take_ranges_and_lists() {
        assert_eq!(parse_ordinals("1-3,5"), Some(vec![1, 2, 3, 5]));
        assert_eq!(parse_ordinals("x"), None);
    }

    #[test]
    fn a_trace_line_is_a_requirement_list_or_a_reason() {
        let lines = parse_trace(
            "// comment\nconfig.md#configRoot 7 | config.root.path-exists | exists\n\
             config.md#configRoot 1-2 | n/a: Windows | other platforms\n",
        )
        .unwrap();
        assert_eq!(lines[0].target, Target::Requirements(vec!["config.root.path-exists".into()]));
        assert_eq!(lines[1].target, Target::Reason("n/a: Windows".into()));
        assert_eq!(lines[1].ordinals, vec![1, 2]);
        assert!(parse_trace("config.md#x 1 | a").is_err());
        assert!(parse_trace("config.md#x 1 | a |").is_err());
    }

    #[test]
    fn the_spec_documents_hold_the_counted_statements() {
        let all = statements();
        let must = all.iter().filter(|s| s.class == Class::Must).count();
        let should = all.iter().filter(|s| s.class == Class::Should).count();
        // Counted on the v1.3.0 tag: a change of the documents or of the
        // splitting shows here first.
        assert_eq!((all.len(), must, should), (378, 317, 61));
    }

    #[test]
    fn every_statement_of_the_spec_is_traced() {
        if let Err(problems) = traced() {
            panic!("the trace of {TRACED_VERSION} is incomplete:\n{problems}");
        }
    }
}
