//! Signal names as `kill` accepts them: "TERM", "SIGTERM", "sigterm" or "15".

use anyhow::{anyhow, Result};
use nix::sys::signal::Signal;
use std::str::FromStr;

pub fn parse(name: &str) -> Result<Signal> {
    if let Ok(number) = name.parse::<i32>() {
        return Signal::try_from(number)
            .map_err(|_| anyhow!("signal: {number} is not a valid signal number"));
    }
    let upper = name.to_ascii_uppercase();
    let full = if upper.starts_with("SIG") { upper } else { format!("SIG{upper}") };
    Signal::from_str(&full).map_err(|_| anyhow!("signal: unknown signal {name:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers_are_accepted() {
        assert_eq!(parse("TERM").unwrap(), Signal::SIGTERM);
        assert_eq!(parse("SIGKILL").unwrap(), Signal::SIGKILL);
        assert_eq!(parse("usr1").unwrap(), Signal::SIGUSR1);
        assert_eq!(parse("9").unwrap(), Signal::SIGKILL);
    }

    #[test]
    fn unknown_signals_are_named_in_the_error() {
        assert!(parse("SIGBOGUS").unwrap_err().to_string().contains("SIGBOGUS"));
        assert!(parse("99").is_err());
    }
}
