//! `--log` and `--log-format`, written as runc writes them: engines (conmon,
//! containerd's shim) read the last `error` line of the JSON log to tell
//! their users why the runtime failed.
//!
//! json: `{"level":"error","msg":"...","time":"2026-11-23T12:00:00.000000000Z"}`
//! text: `time="..." level=error msg="..."`

use crate::cli::LogFormat;
use anyhow::{Context, Result};
use std::fmt::Write as _;
use std::path::Path;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

struct RuncFormat(LogFormat);

#[derive(Default)]
struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.push_str(value);
        } else {
            let _ = write!(self.0, " {}={value}", field.name());
        }
    }
}

impl<S, N> FormatEvent<S, N> for RuncFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        let mut message = Message::default();
        event.record(&mut message);
        let level = match *event.metadata().level() {
            Level::ERROR => "error",
            Level::WARN => "warning",
            Level::INFO => "info",
            Level::DEBUG => "debug",
            Level::TRACE => "trace",
        };
        let time = crate::container::now_rfc3339();
        match self.0 {
            LogFormat::Json => {
                let line = serde_json::json!({ "level": level, "msg": message.0, "time": time });
                writeln!(writer, "{line}")
            }
            LogFormat::Text => writeln!(writer, "time={time:?} level={level} msg={:?}", message.0),
        }
    }
}

/// Sends log events to `log` (appending) or to stderr.
pub fn init(log: Option<&Path>, format: LogFormat, debug: bool) -> Result<()> {
    let level = if debug { Level::DEBUG } else { Level::WARN };
    let builder = tracing_subscriber::fmt().with_max_level(level).event_format(RuncFormat(format));
    match log {
        Some(path) => {
            // O_APPEND + close-on-exec (std's default): the container never holds it.
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("--log {}", path.display()))?;
            builder.with_writer(std::sync::Mutex::new(file)).init();
        }
        None => builder.with_writer(std::io::stderr).init(),
    }
    Ok(())
}
