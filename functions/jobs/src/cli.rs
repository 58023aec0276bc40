//! The command line (cron on cPanel), parsed with clap like `dashctl`.

use std::ffi::OsString;
use std::process::ExitCode;

use clap::Parser;

use crate::{build_state, run_job, Job};
use dash_store::HostKind;

#[derive(Debug, Parser)]
#[command(
    name = "jobs",
    about = "Scheduled work of Dashboard SaaS Industrial",
    override_usage = "jobs downtime [--tenant ID] [--line ID] [--from TIME]\n       \
                      jobs partitions [--tenant ID] [--months N]\n       \
                      jobs housekeeping",
    after_help = "Configuration comes from the environment or an env file (DASHBOARD_ENV_FILE, \
        .env beside the binary, or .env in the working directory): DATABASE_URL, DB_GLOBAL_NAME, \
        CLIENT_DB_URL, JWT_SECRET.\n\n\
        Exit status: 0 when every unit of work succeeded (or was busy / had nothing to do), \
        1 when any failed, 2 for a usage or configuration error.\n\n\
        Cron line (cPanel), every 15 minutes:\n    \
        */15 * * * * /home/USER/dashboard/jobs downtime >> /home/USER/logs/jobs.log 2>&1"
)]
struct Cli {
    /// Print the summary as JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    job: Job,
}

/// An id option: a positive whole number.
pub fn positive_id(s: &str) -> Result<i64, String> {
    s.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("must be a positive whole number, got {s:?}"))
}

/// A time option: ISO 8601, checked here and read in each plant's zone when
/// the job runs.
pub fn instant_text(s: &str) -> Result<String, String> {
    if s.trim().is_empty() {
        return Err("needs a time".into());
    }
    dash_core::timeutil::parse_instant(s, chrono_tz::UTC, "from").map_err(|e| e.to_string())?;
    Ok(s.to_string())
}

/// Runs the job the arguments (program name first) name; the exit status
/// says how it went.
pub fn main<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        // Help (0) on stdout, a usage error (2) on stderr.
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    let state = match build_state(HostKind::Cli) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("jobs: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    let rt = match shared::hosts::runtime(HostKind::Cli) {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("jobs: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let summary = rt.block_on(async {
        let summary = run_job(&state, &cli.job).await;
        state.db().clone().disconnect().await;
        summary
    });
    if cli.json {
        match serde_json::to_string_pretty(&summary) {
            Ok(text) => println!("{text}"),
            Err(e) => eprintln!("jobs: {e}"),
        }
    } else {
        print!("{}", summary.to_text());
    }
    if summary.is_success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DowntimeArgs, DEFAULT_PARTITION_MONTHS};

    fn parse(line: &str) -> Result<(Job, bool), clap::error::ErrorKind> {
        Cli::try_parse_from(std::iter::once("jobs").chain(line.split_whitespace()))
            .map(|c| (c.job, c.json))
            .map_err(|e| e.kind())
    }

    #[test]
    fn command_lines() {
        use clap::error::ErrorKind;
        assert_eq!(
            parse("downtime"),
            Ok((Job::Downtime(DowntimeArgs::default()), false))
        );
        assert_eq!(
            parse("downtime --tenant 3 --line=4 --from 2026-04-01T06:00 --json"),
            Ok((
                Job::Downtime(DowntimeArgs {
                    tenant: Some(3),
                    line: Some(4),
                    from: Some("2026-04-01T06:00".into())
                }),
                true
            ))
        );
        assert_eq!(
            parse("partitions --months 6"),
            Ok((
                Job::Partitions {
                    tenant: None,
                    months: 6
                },
                false
            ))
        );
        assert_eq!(
            parse("partitions"),
            Ok((
                Job::Partitions {
                    tenant: None,
                    months: DEFAULT_PARTITION_MONTHS
                },
                false
            ))
        );
        assert_eq!(parse("housekeeping --help"), Err(ErrorKind::DisplayHelp));
        assert_eq!(parse("help"), Err(ErrorKind::DisplayHelp));
        for bad in [
            "downtime --tenant x",
            "downtime --tenant -1",
            "downtime --tenant 0",
            "downtime --from yesterday",
            "downtime --bogus",
            "downtime --months 2",
            "partitions --months 0",
            "partitions --line 1",
            "housekeeping --tenant 1",
            "explode",
            "",
        ] {
            let kind = parse(bad).expect_err(bad);
            assert_ne!(kind, ErrorKind::DisplayHelp, "{bad}");
        }
    }

    #[test]
    fn the_usage_names_every_job() {
        let help = Cli::try_parse_from(["jobs", "--help"])
            .unwrap_err()
            .to_string();
        assert!(help.contains("jobs downtime [--tenant ID] [--line ID] [--from TIME]"));
        assert!(help.contains("jobs partitions [--tenant ID] [--months N]"));
        assert!(help.contains("*/15 * * * *"));
    }
}
