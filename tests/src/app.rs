//! The in-process app builder: every function's router over one fresh test
//! database, called without a process, a socket or a host in between (the host
//! tests run the real binaries). A request goes through the same dispatch as in
//! production (`shared::app::App::handle`): routing, the query rule, limits,
//! error rendering.

use std::sync::Arc;

use anyhow::{Context, Result};
use dash_store::schema::{self, NewUser};
use dash_store::HostKind;
use serde_json::Value;
use shared::app::App;
use shared::config::Config;
use shared::http::Request;
use shared::router::Router;
use shared::state::AppState;

use crate::testdb::TestDb;

/// One answer, with the body read as JSON when it is JSON.
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
    pub headers: ::http::HeaderMap,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// A response header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// The routers of the six HTTP functions, in the order of
/// [`crate::hosts::HTTP_GROUPS`].
pub fn http_routers() -> Vec<Router> {
    vec![
        auth::router(),
        production::router(),
        data::router(),
        downtime::router(),
        metrics::router(),
        dashboard::router(),
    ]
}

pub struct TestApp {
    pub db: TestDb,
    pub state: AppState,
    apps: Vec<Arc<App>>,
}

impl TestApp {
    /// These functions over `db`; `extra_env` adds or overrides settings.
    pub fn new(db: TestDb, routers: Vec<Router>, extra_env: &[(&str, &str)]) -> Result<Self> {
        let mut env = db.env();
        env.retain(|(k, _)| !extra_env.iter().any(|(ek, _)| ek == k));
        env.extend(
            extra_env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        let config =
            Config::from_lookup(|k| env.iter().find(|(ek, _)| ek == k).map(|(_, v)| v.clone()))
                .context("test config")?;
        let state = AppState::new("tests", HostKind::FastCgi, config).context("state")?;
        let apps = routers
            .into_iter()
            .map(|r| App::new(r, Ok(state.clone())))
            .collect();
        Ok(TestApp { db, state, apps })
    }

    /// Adds a user with `password` (to a tenant, or a superadmin with `None`)
    /// and returns its access token.
    pub async fn user_token(
        &self,
        tenant_id: Option<i64>,
        username: &str,
        role: &str,
        password: &str,
    ) -> Result<String> {
        let mut conn = self.db.global_conn().await?;
        schema::create_user(
            &mut conn,
            &NewUser {
                tenant_id,
                username: username.into(),
                password: password.into(),
                role: role.into(),
                email: None,
                password_min_length: 8,
                if_not_exists: false,
            },
        )
        .await?;
        let login = self
            .call(
                "POST",
                "/api/v1/auth/login",
                None,
                Some(serde_json::json!({"username": username, "password": password})),
            )
            .await;
        anyhow::ensure!(
            login.status == 200,
            "login: {} {}",
            login.status,
            login.text()
        );
        login.json()["access_token"]
            .as_str()
            .map(str::to_string)
            .context("access_token")
    }

    /// Calls `path_and_query` on the function whose router has that path (the
    /// first function when none has: its 404).
    pub async fn call(
        &self,
        method: &str,
        path_and_query: &str,
        bearer: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        self.call_with_headers(method, path_and_query, bearer, body, &[])
            .await
    }

    /// [`call`](Self::call) with extra request headers (`If-None-Match`,
    /// `HX-Request`, `Cookie`, …).
    pub async fn call_with_headers(
        &self,
        method: &str,
        path_and_query: &str,
        bearer: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let path = path_and_query.split('?').next().unwrap_or("");
        let method_value: ::http::Method = method.parse().expect("method");
        let app = self
            .apps
            .iter()
            .find(|app| {
                !matches!(
                    app.router().find(&method_value, path),
                    Err(dash_store::AppError::NotFound)
                )
            })
            .unwrap_or(&self.apps[0]);
        let mut req = request(method, path_and_query, bearer, body.as_ref());
        for (name, value) in headers {
            let name: ::http::header::HeaderName = name.parse().expect("header name");
            req.headers
                .insert(name, value.parse().expect("header value"));
        }
        let resp = app.handle(req).await;
        Answer {
            status: resp.status().as_u16(),
            headers: resp.headers().clone(),
            body: resp.body().to_vec(),
        }
    }
}

fn request(
    method: &str,
    path_and_query: &str,
    bearer: Option<&str>,
    body: Option<&Value>,
) -> Request {
    let (path, query) = path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""));
    let mut req = Request::new(method.parse().expect("method"), path);
    req.query = query.to_string();
    req.remote_addr = Some("127.0.0.1".into());
    if let Some(token) = bearer {
        req.headers.insert(
            ::http::header::AUTHORIZATION,
            format!("Bearer {token}").parse().expect("header"),
        );
    }
    if let Some(body) = body {
        req.headers.insert(
            ::http::header::CONTENT_TYPE,
            "application/json".parse().expect("header"),
        );
        req.body = serde_json::to_vec(body).expect("json").into();
    }
    req
}
