//! The `jobs` function: scheduled work (incremental downtime, partition
//! maintenance, housekeeping) on AWS Lambda (EventBridge) or from cron.

fn main() -> std::process::ExitCode {
    jobs::main()
}
