//! What the guest wrote to its second serial port, between markers:
//! `=== LITMUS BOOTED`, `=== LITMUS SUMMARY BEGIN`, `=== LITMUS JUNIT BEGIN`,
//! `=== LITMUS END rc=N uptime=S`.

#[derive(Debug, Default, PartialEq)]
pub struct GuestResults {
    pub booted_at: Option<f64>,
    pub summary: String,
    pub junit: String,
    pub rc: Option<i32>,
    pub ended_at: Option<f64>,
}

fn field<T: std::str::FromStr>(line: &str, key: &str) -> Option<T> {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key)?.parse().ok())
}

pub fn parse(serial: &str) -> GuestResults {
    let mut results = GuestResults::default();
    let mut section = "";
    for line in serial.lines() {
        let line = line.trim_end_matches('\r');
        if let Some(marker) = line.strip_prefix("=== LITMUS ") {
            if marker.starts_with("BOOTED") {
                results.booted_at = field(marker, "uptime=");
            } else if marker.starts_with("SUMMARY BEGIN") {
                section = "summary";
            } else if marker.starts_with("JUNIT BEGIN") {
                section = "junit";
            } else if marker.starts_with("END") {
                results.rc = field(marker, "rc=");
                results.ended_at = field(marker, "uptime=");
                section = "";
            }
            continue;
        }
        let target = match section {
            "summary" => &mut results.summary,
            "junit" => &mut results.junit,
            _ => continue,
        };
        target.push_str(line);
        target.push('\n');
    }
    results
}

#[cfg(test)]
mod tests {
    #[test]
    fn sections_and_status_are_read() {
        let serial = "noise\n=== LITMUS BOOTED mode=v2 uptime=2.50\n=== LITMUS SUMMARY BEGIN\n\
                      64 passed, 0 failed\n=== LITMUS JUNIT BEGIN\n<testsuites/>\n\
                      === LITMUS END rc=0 uptime=80.25\n";
        let r = super::parse(serial);
        assert_eq!(r.booted_at, Some(2.5));
        assert_eq!(r.summary, "64 passed, 0 failed\n");
        assert_eq!(r.junit, "<testsuites/>\n");
        assert_eq!(r.rc, Some(0));
        assert_eq!(r.ended_at, Some(80.25));
        assert_eq!(super::parse("kernel panic").rc, None);
    }
}
