//! Reasons for the demo plant's stops, given as its operators would give
//! them: while each stop runs (docs/downtime.md#a-reason-for-a-running-stop).
//! The demo load writes, for most incidents of the simulation, the reason
//! waiting for the stop that starts at the last output detection before the
//! incident; `jobs downtime` puts it on that stop when it stores it. So the
//! demo's Pareto has a bar per reason, through the product's own rule.
//!
//! Left without a reason, so the operator view has something to ask: one
//! incident in [`UNJUSTIFIED_ONE_IN`], and every incident of the last
//! [`RECENT_HOURS`] hours; and line [`STOPPED_LINE`] has made nothing for
//! the last [`STOPPED_MINUTES`] minutes, so the demo opens on a running stop.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use mysql_async::prelude::Queryable;
use mysql_async::Conn;

use super::generate::Incident;
use super::naive_in;
use super::plant::DemoLine;
use crate::downtime::running::{self, RunningReason};
use crate::schema::{self, Result, SchemaError};

/// One incident in this many keeps its stop unjustified.
const UNJUSTIFIED_ONE_IN: u64 = 7;
/// Incidents that start this close to the end of the data stay unjustified.
const RECENT_HOURS: i64 = 8;

/// The line the demo leaves stopped, and for how long before the data ends.
pub const STOPPED_LINE: i64 = 2;
pub const STOPPED_MINUTES: i64 = 30;

/// Removes the last [`STOPPED_MINUTES`] of [`STOPPED_LINE`]'s detections.
pub async fn leave_a_line_stopped(
    conn: &mut Conn,
    db_name: &str,
    lines: &[DemoLine],
    data_tz: Tz,
    end: DateTime<Utc>,
) -> Result<()> {
    let Some(line) = lines.iter().find(|l| l.line_id == STOPPED_LINE) else {
        return Ok(());
    };
    let db = schema::quote_ident(db_name)?;
    let table = schema::detection_table(line.code)?;
    let from = end - chrono::Duration::minutes(STOPPED_MINUTES);
    conn.exec_drop(
        format!("DELETE FROM {db}.`{table}` WHERE detected_at >= ?"),
        (naive_in(data_tz, from.timestamp_millis()),),
    )
    .await?;
    Ok(())
}

/// Whether the demo's operators gave this incident's stop a reason.
fn gets_a_reason(seed: u64, index: usize, incident: &Incident, end: DateTime<Utc>) -> bool {
    let recent = end.timestamp_millis() - incident.start_ms < RECENT_HOURS * 3_600_000;
    let skipped = seed
        .wrapping_add(index as u64 * 2_654_435_761)
        .is_multiple_of(UNJUSTIFIED_ONE_IN);
    !recent && !skipped
}

/// Writes the waiting reasons of the incidents' stops; returns how many.
pub async fn queue(
    conn: &mut Conn,
    db_name: &str,
    lines: &[DemoLine],
    incidents: &[Incident],
    data_tz: Tz,
    end: DateTime<Utc>,
    seed: u64,
) -> Result<usize> {
    let db = schema::quote_ident(db_name)?;
    let mut queued = 0;
    for (index, incident) in incidents.iter().enumerate() {
        if !gets_a_reason(seed, index, incident, end) {
            continue;
        }
        let Some(line) = lines.iter().find(|l| l.line_id == incident.line_id) else {
            continue;
        };
        let table = schema::detection_table(line.code)?;
        // The stop starts at the line's last output detection at or before
        // the incident's start (the simulation's last unit may be a reject).
        let since: Option<Option<chrono::NaiveDateTime>> = conn
            .exec_first(
                format!(
                    "SELECT MAX(detected_at) FROM {db}.`{table}` WHERE area_id = ? AND detected_at <= ?"
                ),
                (line.output_area(), naive_in(data_tz, incident.start_ms)),
            )
            .await?;
        let Some(since) = since.flatten() else {
            continue;
        };
        let reason = RunningReason {
            since,
            failure_id: incident.failure_id,
            comment: Some(incident.description.clone()),
            justified_by: None,
            justified_at: naive_in(data_tz, incident.end_ms),
        };
        running::save(conn, db_name, line.line_id, &reason)
            .await
            .map_err(|e| SchemaError::Schema(format!("demo reasons: {e}")))?;
        queued += 1;
    }
    Ok(queued)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn most_incidents_get_a_reason_and_recent_ones_none() {
        let end = DateTime::from_timestamp(1_780_000_000, 0).unwrap();
        let at = |hours_before: i64| Incident {
            line_id: 1,
            failure_id: 4,
            start_ms: end.timestamp_millis() - hours_before * 3_600_000,
            end_ms: end.timestamp_millis() - hours_before * 3_600_000 + 600_000,
            description: "Atasco".into(),
            reported_by: "operador.l1".into(),
        };
        let old = at(48);
        let given = (0..700)
            .filter(|&i| gets_a_reason(42, i, &old, end))
            .count();
        assert_eq!(given, 600, "six in seven");
        assert!((0..50).all(|i| !gets_a_reason(42, i, &at(2), end)));
    }
}
