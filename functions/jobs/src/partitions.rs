//! `jobs partitions`: the next months' partitions of every line's detection
//! table; a table partitioned some other way (or not at all) is the plant
//! DBA's and is skipped. Data is never dropped.

use std::time::Instant;

use serde_json::json;

use crate::report::{
    failed, job_run_finish, job_run_start, log_item, record_failed, ItemResult, ItemStatus,
    JobSummary,
};
use crate::tenants::{for_each_tenant, tenants_to_run};
use dash_store::db::DbLocation;
use dash_store::downtime::store::schema_err;
use dash_store::error::AppResult;
use dash_store::schema::{self, ClientLine, SchemaError};
use dash_store::tenancy::Tenant;
use shared::state::AppState;

/// Runs the partitions job: `months` ahead, every tenant or only `tenant`.
pub async fn run(state: &AppState, tenant: Option<i64>, months: u32) -> JobSummary {
    let started_at = state.now();
    let started = Instant::now();
    let tenants = match tenants_to_run(state, tenant).await {
        Ok(t) => t,
        Err(e) => {
            let item = failed(tenant, None, started, &e);
            record_failed(state, "partitions", &item).await;
            return JobSummary::new("partitions", started_at, started, vec![item]);
        }
    };
    let items = for_each_tenant(state, tenants, move |state, tenant| async move {
        partitions_for_tenant(&state, &tenant, months).await
    })
    .await;
    JobSummary::new("partitions", started_at, started, items)
}

async fn partitions_for_tenant(state: &AppState, tenant: &Tenant, months: u32) -> Vec<ItemResult> {
    let started = Instant::now();
    let tid = Some(tenant.tenant_id);
    let location = tenant.db_location();
    let lines = match async {
        let mut conn = state.db().client(&location).await?;
        schema::client_lines(&mut conn, &location.db_name)
            .await
            .map_err(schema_err)
    }
    .await
    {
        Ok(l) => l,
        Err(e) => {
            let item = failed(tid, None, started, &e);
            record_failed(state, "partitions", &item).await;
            return vec![item];
        }
    };
    let mut items = Vec::with_capacity(lines.len());
    for line in lines {
        let started = Instant::now();
        let run_id = job_run_start(state, "partitions", tid, Some(line.line_id)).await;
        let item = partitions_for_line(state, &location, &line, months, started)
            .await
            .unwrap_or_else(|e| failed(tid, Some(line.line_id), started, &e));
        let item = ItemResult {
            tenant_id: tid,
            ..item
        };
        log_item("partitions", &item);
        job_run_finish(state, run_id, &item).await;
        items.push(item);
    }
    items
}

async fn partitions_for_line(
    state: &AppState,
    location: &DbLocation,
    line: &ClientLine,
    months: u32,
    started: Instant,
) -> AppResult<ItemResult> {
    let skipped = |reason: String| ItemResult {
        tenant_id: None,
        line_id: Some(line.line_id),
        status: ItemStatus::Skipped,
        rows: 0,
        duration_ms: started.elapsed().as_millis() as u64,
        detail: json!({ "reason": reason }),
        warnings: Vec::new(),
    };
    let Some(code) = line.line_code.as_deref() else {
        return Ok(skipped(format!(
            "line {} has no usable line code",
            line.line_id
        )));
    };
    let table = schema::detection_table(code).map_err(schema_err)?;
    let mut conn = state.db().client(location).await?;
    if !schema::table_exists(&mut conn, &location.db_name, &table)
        .await
        .map_err(schema_err)?
    {
        return Ok(skipped(format!("{table} does not exist")));
    }
    match schema::ensure_partitions(&mut conn, &location.db_name, &table, months).await {
        Ok(added) => Ok(ItemResult {
            tenant_id: None,
            line_id: Some(line.line_id),
            status: ItemStatus::Ok,
            rows: added.len() as u64,
            duration_ms: started.elapsed().as_millis() as u64,
            detail: json!({ "table": table, "added": added }),
            warnings: Vec::new(),
        }),
        // Not partitioned by month, or partitioned some other way: the plant's
        // DBA maintains it; nothing to do here.
        Err(SchemaError::Schema(reason)) => Ok(skipped(reason)),
        Err(e) => Err(schema_err(e)),
    }
}
