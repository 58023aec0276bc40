//! The tenants a job covers, and running a job's work for each of them a few
//! at a time.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::Semaphore;

use crate::report::{failed, ItemResult};
use dash_store::error::{AppError, AppResult};
use dash_store::tenancy::{self, Tenant};
use shared::state::AppState;

/// Tenants processed at the same time.
const TENANT_CONCURRENCY: usize = 4;

/// The active tenants (or the one asked for, which must exist and be active).
pub async fn tenants_to_run(state: &AppState, only: Option<i64>) -> AppResult<Vec<Tenant>> {
    let ids = dash_store::jobs::active_tenant_ids(state.db(), only).await?;
    if let (Some(id), true) = (only, ids.is_empty()) {
        return Err(AppError::validation(
            "tenant",
            format!("tenant {id} does not exist or is not active"),
        ));
    }
    let mut tenants = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(t) = tenancy::load_tenant(state, id).await? {
            tenants.push(t);
        }
    }
    Ok(tenants)
}

/// Runs `per_tenant` for every tenant, a few at a time; a tenant's failure is
/// its own items' business.
pub async fn for_each_tenant<F, Fut>(
    state: &AppState,
    tenants: Vec<Tenant>,
    per_tenant: F,
) -> Vec<ItemResult>
where
    F: Fn(AppState, Tenant) -> Fut,
    Fut: std::future::Future<Output = Vec<ItemResult>> + Send + 'static,
{
    let permits = Arc::new(Semaphore::new(TENANT_CONCURRENCY));
    let mut set = tokio::task::JoinSet::new();
    for (i, tenant) in tenants.into_iter().enumerate() {
        let tenant_id = tenant.tenant_id;
        let fut = per_tenant(state.clone(), tenant);
        let permits = permits.clone();
        set.spawn(async move {
            let _permit = permits.acquire_owned().await;
            (i, tenant_id, fut.await)
        });
    }
    let mut results: Vec<(usize, Vec<ItemResult>)> = Vec::new();
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok((i, _, items)) => results.push((i, items)),
            Err(e) => {
                tracing::error!(panic = e.is_panic(), "a tenant's job task ended abnormally");
                results.push((
                    usize::MAX,
                    vec![failed(
                        None,
                        None,
                        Instant::now(),
                        &AppError::internal("task ended abnormally"),
                    )],
                ));
            }
        }
    }
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().flat_map(|(_, items)| items).collect()
}
