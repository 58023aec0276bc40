//! A tenant's database is its own (docs/operations.md#tenants): creating or
//! updating a tenant through the API to a client database another tenant
//! uses — the same (`db_host`, `db_port`, `db_name`), a missing host or port
//! being the default server's (`CLIENT_DB_URL`) and a missing name
//! `dashboard_client_<id>` — is a 409 that names the field and the other
//! tenant; the same name on another server, or a change that leaves the
//! database as it is, is accepted.

use dash_store::tenancy::DbServer;
use integration_tests::app::{http_routers, Answer, TestApp};
use integration_tests::testdb::TestDb;
use serde_json::{json, Value};

const PASSWORD: &str = "Tenant-Dbs-Pass-42";

/// The 409 of a database in use: field and the tenant named.
fn assert_in_use(a: &Answer, field: &str, owner: i64, owner_name: &str, what: &str) {
    let body = a.json();
    assert_eq!(a.status, 409, "{what}: {}", a.text());
    assert_eq!(body["error"]["code"], "conflict", "{what}: {body}");
    assert_eq!(body["error"]["field"], field, "{what}: {body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(&format!("already used by tenant {owner} ({owner_name})")),
        "{what}: {message}"
    );
}

fn data(a: &Answer, status: u16, what: &str) -> Value {
    assert_eq!(a.status, status, "{what}: {}", a.text());
    a.json()["data"].clone()
}

struct Fixture {
    app: TestApp,
    root: String,
    /// The default server of client databases (`CLIENT_DB_URL`).
    server: DbServer,
}

async fn fixture() -> Fixture {
    let db = TestDb::new()
        .await
        .expect("db")
        .with_empty_tenant("Seeded Plant", "Europe/Madrid")
        .await
        .expect("tenant");
    let app = TestApp::new(db, http_routers(), &[]).expect("app");
    let root = app
        .user_token(None, "dbs.root", "superadmin", PASSWORD)
        .await
        .expect("superadmin");
    let url = app.state.config().db.client_db_url.clone();
    let server = DbServer::from_url(&url).expect("CLIENT_DB_URL");
    Fixture { app, root, server }
}

impl Fixture {
    /// "Owner Plant" on `db_name` of the default server: its id.
    async fn owner(&self, db_name: &str) -> i64 {
        let owner = data(
            &self
                .create("Owner Plant", json!({"db_name": db_name}))
                .await,
            201,
            "owner",
        );
        owner["tenant_id"].as_i64().expect("id")
    }

    async fn create(&self, name: &str, config: Value) -> Answer {
        let mut config = config;
        config["timezone"] = json!("UTC");
        self.app
            .call(
                "POST",
                "/api/v1/tenants",
                Some(&self.root),
                Some(json!({"company_name": name, "config": config})),
            )
            .await
    }

    async fn update(&self, id: i64, body: Value) -> Answer {
        self.app
            .call(
                "PUT",
                &format!("/api/v1/tenants/{id}"),
                Some(&self.root),
                Some(body),
            )
            .await
    }

    async fn exists(&self, name: &str) -> bool {
        let q: String = name.replace(' ', "%20");
        let a = self
            .app
            .call(
                "GET",
                &format!("/api/v1/tenants?q={q}"),
                Some(&self.root),
                None,
            )
            .await;
        data(&a, 200, "list")
            .as_array()
            .is_some_and(|ts| ts.iter().any(|t| t["company_name"] == name))
    }
}

#[tokio::test]
async fn a_new_tenant_cannot_take_a_database_in_use() {
    let f = fixture().await;
    let shared_db = f.app.db.db_name("shared");

    let owner_id = f.owner(&shared_db).await;

    // Same name on the default server.
    let same = f.create("Same Plant", json!({"db_name": shared_db})).await;
    assert_in_use(
        &same,
        "config.db_name",
        owner_id,
        "Owner Plant",
        "same name",
    );
    assert!(
        !f.exists("Same Plant").await,
        "a refused tenant is not kept"
    );

    // Same name with the default server's host and port written out (the
    // host in another case).
    let explicit = f
        .create(
            "Explicit Plant",
            json!({"db_name": shared_db, "db_host": f.server.host.to_ascii_uppercase(),
                   "db_port": f.server.port}),
        )
        .await;
    assert_in_use(
        &explicit,
        "config.db_name",
        owner_id,
        "Owner Plant",
        "explicit default server",
    );

    // The default name of another tenant counts too.
    let implicit = data(
        &f.create("Implicit Plant", json!({})).await,
        201,
        "implicit",
    );
    let implicit_id = implicit["tenant_id"].as_i64().expect("id");
    let default_name = format!("dashboard_client_{implicit_id}");
    assert_eq!(implicit["config"]["db_name"], default_name.as_str());
    let taken = f
        .create("Taker Plant", json!({"db_name": default_name}))
        .await;
    assert_in_use(
        &taken,
        "config.db_name",
        implicit_id,
        "Implicit Plant",
        "default name",
    );

    // The same name on another server is another database.
    let elsewhere = data(
        &f.create(
            "Elsewhere Plant",
            json!({"db_name": shared_db, "db_host": "db2.example.internal"}),
        )
        .await,
        201,
        "another host",
    );
    assert_eq!(elsewhere["config"]["db_host"], "db2.example.internal");
    let other_port = data(
        &f.create(
            "Other Port Plant",
            json!({"db_name": shared_db, "db_host": f.server.host, "db_port": f.server.port + 1}),
        )
        .await,
        201,
        "another port",
    );
    assert_eq!(other_port["config"]["db_port"], f.server.port + 1);
    // And a name refused once is free for a tenant on its own database.
    data(
        &f.create("Same Plant", json!({"db_name": f.app.db.db_name("own")}))
            .await,
        201,
        "own database",
    );
}

#[tokio::test]
async fn an_update_cannot_move_a_tenant_onto_a_database_in_use() {
    let f = fixture().await;
    let shared_db = f.app.db.db_name("shared");
    let owner_id = f.owner(&shared_db).await;
    let mover = data(
        &f.create(
            "Mover Plant",
            json!({"db_name": shared_db, "db_host": "db2.example.internal"}),
        )
        .await,
        201,
        "mover",
    );
    let mover_id = mover["tenant_id"].as_i64().expect("id");

    // Its own config without its database: accepted.
    let themed = data(
        &f.update(
            mover_id,
            json!({"company_name": "Mover Plant SA", "config": {"theme": "light"}}),
        )
        .await,
        200,
        "theme",
    );
    assert_eq!(themed["config"]["theme"], "light");

    // Onto the owner's server: the name clashes there.
    let moved = f
        .update(mover_id, json!({"config": {"db_host": null}}))
        .await;
    assert_in_use(
        &moved,
        "config.db_host",
        owner_id,
        "Owner Plant",
        "host removed",
    );
    let moved = f
        .update(
            mover_id,
            json!({"config": {"db_host": f.server.host, "db_port": f.server.port}}),
        )
        .await;
    assert_in_use(
        &moved,
        "config.db_host",
        owner_id,
        "Owner Plant",
        "explicit default server",
    );

    // Another name on the default server: the owner's name is refused, a
    // free one accepted.
    let other = data(
        &f.create("Other Plant", json!({"db_name": f.app.db.db_name("other")}))
            .await,
        201,
        "other",
    );
    let other_id = other["tenant_id"].as_i64().expect("id");
    let renamed = f
        .update(other_id, json!({"config": {"db_name": shared_db}}))
        .await;
    assert_in_use(
        &renamed,
        "config.db_name",
        owner_id,
        "Owner Plant",
        "name of the owner",
    );
    let current = data(
        &f.app
            .call(
                "GET",
                &format!("/api/v1/tenants/{other_id}"),
                Some(&f.root),
                None,
            )
            .await,
        200,
        "other after the refusal",
    );
    assert_eq!(
        current["config"]["db_name"],
        f.app.db.db_name("other").as_str(),
        "a refused update changes nothing"
    );
    data(
        &f.update(
            other_id,
            json!({"config": {"db_name": f.app.db.db_name("renamed")}}),
        )
        .await,
        200,
        "free name",
    );

    // The owner may write out its own location (the same database): accepted.
    let owner_explicit = data(
        &f.update(
            owner_id,
            json!({"config": {"db_host": f.server.host, "db_port": f.server.port,
                              "db_name": shared_db}}),
        )
        .await,
        200,
        "owner spells out its own server",
    );
    assert_eq!(owner_explicit["config"]["db_host"], f.server.host.as_str());
    // And a change of its theme still passes now that the mover's refusals
    // left it alone.
    data(
        &f.update(owner_id, json!({"config": {"theme": "light"}}))
            .await,
        200,
        "owner theme",
    );
}
