//! The databases: migrations, the append-only audit log, tenants and users,
//! client verification and provisioning, partitions, line codes, demo data.
//! Needs a MariaDB/MySQL server (TEST_DATABASE_URL, default root@127.0.0.1:3306).

use chrono::{DateTime, Utc};
use dash_store::demo::{self, DemoOptions, DemoSize};
use dash_store::schema::{self, CheckStatus, NewTenant, NewUser, SchemaError};
use integration_tests::testdb::TestDb;
use mysql_async::prelude::Queryable;
use mysql_async::Conn;

type R = anyhow::Result<()>;

async fn count(conn: &mut Conn, sql: &str) -> i64 {
    conn.query_first::<i64, _>(sql).await.unwrap().unwrap_or(0)
}

#[tokio::test]
async fn migrations_are_idempotent_and_guarded() -> R {
    let db = TestDb::new().await?;
    let mut g = db.global_conn().await?;
    assert_eq!(
        schema::migrate(&mut g).await?,
        Vec::<u32>::new(),
        "second run applies nothing"
    );
    assert_eq!(schema::migrate(&mut g).await?, Vec::<u32>::new());
    let tables: Vec<String> = g
        .exec(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY 1",
            (db.global_name(),),
        )
        .await?;
    for t in [
        "audit_log",
        "dashboard_template",
        "job_run",
        "rate_limit",
        "schema_migrations",
        "tenant",
        "user",
        "user_login",
        "user_query",
        "user_request_rate",
        "widget_catalog",
    ] {
        assert!(tables.iter().any(|x| x == t), "missing {t} in {tables:?}");
    }
    let engines: Vec<(String, String)> = g
        .exec(
            "SELECT TABLE_NAME, ENGINE FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND ENGINE <> 'InnoDB'",
            (db.global_name(),),
        )
        .await?;
    // The per-user request counters are the one table that must not cost a durable commit.
    assert_eq!(
        engines,
        vec![("user_request_rate".to_string(), "MEMORY".to_string())]
    );

    // Editing an applied migration is refused, and nothing is applied.
    g.query_drop("UPDATE schema_migrations SET checksum = REPEAT('0', 64) WHERE version = 1")
        .await?;
    let err = schema::migrate(&mut g).await.unwrap_err();
    assert!(err.to_string().contains("must not change"), "{err}");
    Ok(())
}

#[tokio::test]
async fn audit_log_refuses_update_and_delete() -> R {
    let db = TestDb::new().await?;
    let mut g = db.global_conn().await?;
    schema::audit(
        &mut g,
        None,
        None,
        "test.action",
        "thing",
        Some("1".into()),
        &serde_json::json!({"a": 1}),
        Some("127.0.0.1"),
    )
    .await?;
    let upd = g
        .query_drop("UPDATE audit_log SET action = 'tampered'")
        .await
        .unwrap_err();
    assert!(upd.to_string().contains("append-only"), "{upd}");
    let del = g.query_drop("DELETE FROM audit_log").await.unwrap_err();
    assert!(del.to_string().contains("append-only"), "{del}");
    assert_eq!(
        count(
            &mut g,
            "SELECT COUNT(*) FROM audit_log WHERE action = 'test.action'"
        )
        .await,
        1
    );
    Ok(())
}

#[tokio::test]
async fn tenants_and_users() -> R {
    let db = TestDb::new().await?;
    let mut g = db.global_conn().await?;
    let new = NewTenant {
        company_name: "Conservas Ñandú".into(),
        timezone: "America/Mexico_City".into(),
        language: Some("en".into()),
        db_name: Some(db.db_name("client_x")),
        ..NewTenant::default()
    };
    let t = schema::register_tenant(&mut g, db.server_url(), &new).await?;
    assert!(t.created && t.database_created);
    let row = schema::find_tenant(&mut g, t.tenant_id).await?.unwrap();
    assert_eq!(row.config.timezone.as_deref(), Some("America/Mexico_City"));
    assert_eq!(row.config.data_timezone.as_deref(), Some("UTC"));
    assert_eq!(row.config.language.as_deref(), Some("en"));
    assert_eq!(row.db_location().db_name, db.db_name("client_x"));

    // Same name: refused, or the same id with if_not_exists.
    let err = schema::register_tenant(&mut g, db.server_url(), &new)
        .await
        .unwrap_err();
    assert!(
        matches!(err, SchemaError::Conflict(_)) && err.to_string().contains("--if-not-exists"),
        "{err}"
    );
    let again = schema::register_tenant(
        &mut g,
        db.server_url(),
        &NewTenant {
            if_not_exists: true,
            ..new.clone()
        },
    )
    .await?;
    assert_eq!(
        (again.tenant_id, again.created, again.database_created),
        (t.tenant_id, false, false)
    );

    // Default db name from the id; bad zone and bad db name are named.
    let d = schema::register_tenant(
        &mut g,
        db.server_url(),
        &NewTenant {
            company_name: "Default DB".into(),
            timezone: "UTC".into(),
            ..NewTenant::default()
        },
    )
    .await?;
    assert_eq!(d.db_name, format!("dashboard_client_{}", d.tenant_id));
    let mut s = db.server_conn().await?;
    s.query_drop(format!("DROP DATABASE IF EXISTS `{}`", d.db_name))
        .await?;
    let bad = schema::register_tenant(
        &mut g,
        db.server_url(),
        &NewTenant {
            company_name: "Bad".into(),
            timezone: "Mars/Olympus".into(),
            ..NewTenant::default()
        },
    )
    .await
    .unwrap_err();
    assert!(bad.to_string().contains("--timezone"), "{bad}");
    let bad = schema::register_tenant(
        &mut g,
        db.server_url(),
        &NewTenant {
            company_name: "Bad".into(),
            timezone: "UTC".into(),
            db_name: Some("x`; DROP".into()),
            ..NewTenant::default()
        },
    )
    .await
    .unwrap_err();
    assert!(bad.to_string().contains("--db-name"), "{bad}");

    // Users.
    let user = |tenant_id, username: &str, role: &str| NewUser {
        tenant_id,
        username: username.into(),
        password: "s3cret-password".into(),
        role: role.into(),
        email: Some(format!("{username}@example.com")),
        password_min_length: 8,
        if_not_exists: false,
    };
    let u = schema::create_user(&mut g, &user(Some(t.tenant_id), "ana.admin", "admin")).await?;
    assert!(u.created);
    let phc: String = g
        .exec_first(
            "SELECT password FROM `user` WHERE user_id = ?",
            (u.user_id,),
        )
        .await?
        .unwrap();
    assert!(phc.starts_with("$argon2id$"));
    assert!(dash_store::password::verify("s3cret-password", &phc));
    let dup = schema::create_user(&mut g, &user(Some(t.tenant_id), "ana.admin", "viewer"))
        .await
        .unwrap_err();
    assert!(matches!(dup, SchemaError::Conflict(_)), "{dup}");
    let same = schema::create_user(
        &mut g,
        &NewUser {
            if_not_exists: true,
            ..user(Some(t.tenant_id), "ana.admin", "viewer")
        },
    )
    .await?;
    assert_eq!(
        same,
        schema::CreatedUser {
            user_id: u.user_id,
            created: false
        }
    );
    let role: String = g
        .exec_first("SELECT role FROM `user` WHERE user_id = ?", (u.user_id,))
        .await?
        .unwrap();
    assert_eq!(role, "admin", "if_not_exists changes nothing");

    let root = schema::create_user(&mut g, &user(None, "root", "superadmin")).await?;
    assert!(root.created);
    for (tenant, name, role, needle) in [
        (Some(t.tenant_id), "user1", "superadmin", "--tenant none"),
        (None, "user2", "admin", "--tenant ID"),
        (Some(t.tenant_id), "user3", "emperor", "--role"),
        (Some(999_999), "user4", "viewer", "does not exist"),
        (Some(t.tenant_id), "user 5", "viewer", "--username"),
        (Some(t.tenant_id), "u6", "viewer", "3 to 100"),
    ] {
        let e = schema::create_user(&mut g, &user(tenant, name, role))
            .await
            .unwrap_err();
        assert!(e.to_string().contains(needle), "{name}: {e}");
    }
    let short = schema::create_user(
        &mut g,
        &NewUser {
            password: "short".into(),
            ..user(Some(t.tenant_id), "bob", "viewer")
        },
    )
    .await
    .unwrap_err();
    assert!(short.to_string().contains("at least 8"), "{short}");
    // The database itself refuses a tenant-less non-superadmin.
    let e = g
        .query_drop("INSERT INTO `user` (username, password, role) VALUES ('sneaky', 'x', 'admin')")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("chk_user_tenant_role"), "{e}");

    // Audit rows for each change.
    let audits: Vec<String> = g
        .query("SELECT action FROM audit_log ORDER BY audit_id")
        .await?;
    assert_eq!(audits.iter().filter(|a| *a == "tenant.create").count(), 2);
    assert_eq!(audits.iter().filter(|a| *a == "user.create").count(), 2);

    // Default layouts: one per role even with tenant_id NULL.
    g.query_drop("INSERT INTO dashboard_template (tenant_id, role, layout_config) VALUES (NULL, 'viewer', '{}')").await?;
    let e = g
        .query_drop("INSERT INTO dashboard_template (tenant_id, role, layout_config) VALUES (NULL, 'viewer', '{}')")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("Duplicate"), "{e}");
    g.exec_drop("INSERT INTO dashboard_template (tenant_id, role, layout_config) VALUES (?, 'viewer', '{}')", (t.tenant_id,)).await?;

    // Widget catalog: all 18, twice.
    assert_eq!(schema::seed_widget_catalog(&mut g).await?, 18);
    assert_eq!(schema::seed_widget_catalog(&mut g).await?, 18);
    assert_eq!(
        count(
            &mut g,
            "SELECT COUNT(*) FROM widget_catalog WHERE JSON_VALID(required_params)"
        )
        .await,
        18
    );
    Ok(())
}

#[tokio::test]
async fn verify_client_passes_and_names_what_is_missing() -> R {
    let db = TestDb::new()
        .await?
        .with_demo_tenant("Acme", "Europe/Madrid")
        .await?;
    let t = db.tenant("Acme").clone();
    let mut s = db.server_conn().await?;
    let report = schema::verify_client(&mut s, &t.db_name).await?;
    assert!(report.is_ok(), "{}", report.to_text());
    assert_eq!(report.lines.len(), 3);
    for table in [
        "detection_line_linea_1_envasado",
        "downtime_events_linea_2_etiquetado",
        "detection_line_linea_3_paletizado",
    ] {
        assert!(
            report
                .items
                .iter()
                .any(|i| i.table == table && i.status == CheckStatus::Ok),
            "{table}"
        );
    }
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);

    // Provisioning again creates nothing.
    let again = schema::provision_client(&mut s, &t.db_name, false).await?;
    assert!(again.created.is_empty(), "{:?}", again.created);

    s.query_drop(format!(
        "ALTER TABLE `{}`.area DROP COLUMN area_type",
        t.db_name
    ))
    .await?;
    s.query_drop(format!(
        "DROP TABLE `{}`.downtime_events_linea_3_paletizado",
        t.db_name
    ))
    .await?;
    s.query_drop(format!(
        "ALTER TABLE `{}`.product DROP COLUMN ideal_cycle_time_seconds",
        t.db_name
    ))
    .await?;
    let report = schema::verify_client(&mut s, &t.db_name).await?;
    assert!(!report.is_ok());
    let problems: Vec<String> = report.problems().iter().map(|p| p.target()).collect();
    assert_eq!(
        problems,
        vec!["area.area_type", "downtime_events_linea_3_paletizado"],
        "{}",
        report.to_text()
    );
    let text = report.to_text();
    assert!(text.contains("MISSING  area.area_type"), "{text}");
    assert!(
        text.contains("ABSENT   product.ideal_cycle_time_seconds (optional)"),
        "{text}"
    );
    assert!(text.contains("provision-client"), "{text}");

    // provision-client puts the app-owned table back.
    let fixed = schema::provision_client(&mut s, &t.db_name, false).await?;
    assert_eq!(
        fixed.created,
        vec!["downtime_events_linea_3_paletizado".to_string()]
    );

    // A database that does not exist is reported, not an error.
    let none = schema::verify_client(&mut s, &db.db_name("nothing_here")).await?;
    assert!(!none.is_ok());
    Ok(())
}

#[tokio::test]
async fn provisioning_an_empty_client_database() -> R {
    let db = TestDb::new()
        .await?
        .with_empty_tenant("Empty", "UTC")
        .await?;
    let t = db.tenant("Empty").clone();
    let mut s = db.server_conn().await?;
    let r = schema::provision_client(&mut s, &t.db_name, false).await?;
    assert_eq!(
        r.created,
        vec!["dash_line_state".to_string(), "dash_rollup".to_string()]
    );
    assert!(
        r.warnings.iter().any(|w| w.contains("production_line")),
        "{:?}",
        r.warnings
    );
    let report = schema::verify_client(&mut s, &t.db_name).await?;
    assert!(!report.is_ok());
    assert!(report
        .problems()
        .iter()
        .any(|p| p.target() == "production_line"));

    // The reference schema, then a line added by the "plant": provision creates its tables.
    schema::provision_client(&mut s, &t.db_name, true).await?;
    s.query_drop(format!(
        "INSERT INTO `{}`.production_line (line_id, line_name, is_active) VALUES (1, 'Línea Ñ – Prensa #2', 1)",
        t.db_name
    ))
    .await?;
    let r = schema::provision_client(&mut s, &t.db_name, true).await?;
    assert!(
        r.created
            .contains(&"downtime_events_linea_n_prensa_2".to_string()),
        "{:?}",
        r.created
    );
    assert!(
        r.created
            .contains(&"detection_line_linea_n_prensa_2".to_string()),
        "{:?}",
        r.created
    );
    let report = schema::verify_client(&mut s, &t.db_name).await?;
    assert!(report.is_ok(), "{}", report.to_text());

    // A line whose name gives no code is reported as invalid.
    s.query_drop(format!(
        "INSERT INTO `{}`.production_line (line_id, line_name, is_active) VALUES (2, '—', 1)",
        t.db_name
    ))
    .await?;
    let report = schema::verify_client(&mut s, &t.db_name).await?;
    assert!(
        report
            .problems()
            .iter()
            .any(|p| p.status == CheckStatus::Invalid),
        "{}",
        report.to_text()
    );
    Ok(())
}

#[tokio::test]
async fn partitions_are_added_without_losing_rows() -> R {
    let db = TestDb::new().await?;
    let mut s = db.server_conn().await?;
    let name = db.db_name("parts");
    s.query_drop(format!("CREATE DATABASE `{name}`")).await?;
    let from = Utc::now().date_naive() - chrono::Duration::days(70);
    assert!(schema::create_detection_table(&mut s, &name, "l1", from, 0).await?);
    assert!(
        !schema::create_detection_table(&mut s, &name, "l1", from, 0).await?,
        "second create is a no-op"
    );
    let before = schema::list_partitions(&mut s, &name, "detection_line_l1").await?;
    assert!(before.len() >= 4, "{before:?}");
    assert!(before.last().unwrap().is_maxvalue);

    // Rows in every existing month, next month (pmax now) and far in the future.
    let mut values = Vec::new();
    for (i, p) in before.iter().filter(|p| !p.is_maxvalue).enumerate() {
        let day = p.less_than.unwrap() - chrono::Duration::days(1);
        values.push(format!("({}, '{} 12:00:00.123', 1, 1)", i + 1, day));
    }
    let next_month = Utc::now().date_naive() + chrono::Duration::days(35);
    values.push(format!("(100, '{next_month} 08:00:00', 2, 1)"));
    values.push("(101, '2031-01-01 00:00:00', 2, 1)".to_string());
    s.query_drop(format!(
        "INSERT INTO `{name}`.detection_line_l1 VALUES {}",
        values.join(",")
    ))
    .await?;
    let total = values.len() as i64;

    let added = schema::ensure_partitions(&mut s, &name, "detection_line_l1", 6).await?;
    assert_eq!(added.len(), 6, "{added:?}");
    assert_eq!(
        count(
            &mut s,
            &format!("SELECT COUNT(*) FROM `{name}`.detection_line_l1")
        )
        .await,
        total
    );
    assert_eq!(
        count(
            &mut s,
            &format!("SELECT COUNT(*) FROM `{name}`.detection_line_l1 PARTITION (pmax)")
        )
        .await,
        1,
        "only the 2031 row stays in pmax"
    );
    let after = schema::list_partitions(&mut s, &name, "detection_line_l1").await?;
    assert_eq!(after.len(), before.len() + 6);
    let bounds: Vec<_> = after.iter().filter_map(|p| p.less_than).collect();
    assert!(bounds.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(
        schema::ensure_partitions(&mut s, &name, "detection_line_l1", 6).await?,
        Vec::<String>::new(),
        "idempotent"
    );
    assert_eq!(
        schema::ensure_partitions(&mut s, &name, "detection_line_l1", 2).await?,
        Vec::<String>::new()
    );

    // A table that is not partitioned is refused with the fix; a missing one is named.
    s.query_drop(format!(
        "CREATE TABLE `{name}`.detection_line_flat (detection_id BIGINT, detected_at DATETIME(3))"
    ))
    .await?;
    let e = schema::ensure_partitions(&mut s, &name, "detection_line_flat", 3)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("not partitioned"), "{e}");
    let e = schema::ensure_partitions(&mut s, &name, "detection_line_nope", 3)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("does not exist"), "{e}");
    Ok(())
}

#[test]
fn line_codes_fold_accents() {
    assert_eq!(
        schema::line_code("Línea 1 – Envasado").as_deref(),
        Some("linea_1_envasado")
    );
    assert_eq!(
        schema::line_code("Línea 2 – Etiquetado").as_deref(),
        Some("linea_2_etiquetado")
    );
    assert_eq!(
        schema::line_code("  ÑANDÚ / Größe  ").as_deref(),
        Some("nandu_grosse")
    );
    assert_eq!(schema::line_code("¿?"), None);
    assert!(schema::is_valid_line_code("linea_1_envasado"));
    assert!(!schema::is_valid_line_code("linea-1"));
}

async fn fingerprint(conn: &mut Conn, db: &str) -> Vec<(String, i64, i64)> {
    let mut out = Vec::new();
    for code in [
        "linea_1_envasado",
        "linea_2_etiquetado",
        "linea_3_paletizado",
    ] {
        let (n, sum): (i64, i64) = conn
            .query_first(format!(
                "SELECT COUNT(*), CAST(COALESCE(SUM(area_id * 7 + product_id + UNIX_TIMESTAMP(detected_at) % 1000), 0) AS SIGNED) \
                 FROM `{db}`.detection_line_{code}"
            ))
            .await
            .unwrap()
            .unwrap();
        out.push((code.to_string(), n, sum));
    }
    let incidents: i64 = conn
        .query_first(format!("SELECT COUNT(*) FROM `{db}`.incident"))
        .await
        .unwrap()
        .unwrap();
    out.push(("incident".into(), incidents, 0));
    out
}

#[tokio::test]
async fn demo_data_is_deterministic_by_seed() -> R {
    let end: DateTime<Utc> = "2026-03-20T10:30:00Z".parse()?;
    let opts = |seed| DemoOptions {
        seed,
        size: DemoSize::Small,
        days: 7,
        end: Some(end),
        ..DemoOptions::default()
    };
    let db = TestDb::new()
        .await?
        .with_demo_tenant_opts("A", "Europe/Madrid", opts(11))
        .await?
        .with_demo_tenant_opts("B", "Europe/Madrid", opts(11))
        .await?
        .with_demo_tenant_opts("C", "Europe/Madrid", opts(12))
        .await?;
    let mut s = db.server_conn().await?;
    let a = fingerprint(&mut s, &db.tenant("A").db_name).await;
    let b = fingerprint(&mut s, &db.tenant("B").db_name).await;
    let c = fingerprint(&mut s, &db.tenant("C").db_name).await;
    assert_eq!(a, b, "same seed, same data");
    assert_ne!(a, c, "another seed, other data");
    let report = db.tenant("A").demo.clone().unwrap();
    assert_eq!(report.rows as i64, a[..3].iter().map(|x| x.1).sum::<i64>());
    assert!(report.rows > 20_000, "{report:?}");
    assert!(a.iter().all(|x| x.1 > 0), "{a:?}");

    // Detections respect the window and the partitions hold them.
    let (min, max): (String, String) = s
        .query_first(format!(
            "SELECT CAST(MIN(detected_at) AS CHAR), CAST(MAX(detected_at) AS CHAR) FROM `{}`.detection_line_linea_1_envasado",
            db.tenant("A").db_name
        ))
        .await?
        .unwrap();
    assert!(
        min.as_str() >= "2026-03-13 10:30:00" && max.as_str() < "2026-03-20 10:30:00",
        "{min} .. {max}"
    );

    // Loading again skips; --force reloads the same data.
    let a_db = db.tenant("A").db_name.clone();
    let skipped = demo::load_demo(&mut s, &a_db, &opts(11)).await?;
    assert!(skipped.skipped);
    let forced = demo::load_demo(
        &mut s,
        &a_db,
        &DemoOptions {
            force: true,
            ..opts(11)
        },
    )
    .await?;
    assert!(!forced.skipped);
    assert_eq!(fingerprint(&mut s, &a_db).await, a);

    // The catalogs a dashboard needs are there.
    let mut c = db.client_conn(db.tenant("A").tenant_id).await?;
    assert_eq!(count(&mut c, "SELECT COUNT(*) FROM product").await, 6);
    assert_eq!(
        count(
            &mut c,
            "SELECT COUNT(*) FROM product WHERE ideal_cycle_time_seconds IS NULL"
        )
        .await,
        1
    );
    assert_eq!(count(&mut c, "SELECT COUNT(*) FROM system_config WHERE config_key = 'default_ideal_cycle_time_seconds'").await, 1);
    assert_eq!(
        count(
            &mut c,
            "SELECT COUNT(*) FROM shift WHERE end_time <= start_time"
        )
        .await,
        1,
        "a night shift"
    );
    assert_eq!(
        count(
            &mut c,
            "SELECT COUNT(*) FROM area WHERE area_type = 'reject'"
        )
        .await,
        3
    );
    assert_eq!(
        count(
            &mut c,
            "SELECT COUNT(*) FROM filter WHERE filter_status = 1"
        )
        .await,
        5
    );
    assert!(
        count(
            &mut c,
            "SELECT COUNT(*) FROM failure WHERE failure_category = 'planned'"
        )
        .await
            >= 2
    );
    // Some 2 % of the units are rejects.
    let good = count(
        &mut c,
        "SELECT COUNT(*) FROM detection_line_linea_1_envasado WHERE area_id = 3",
    )
    .await as f64;
    let rejects = count(
        &mut c,
        "SELECT COUNT(*) FROM detection_line_linea_1_envasado WHERE area_id = 4",
    )
    .await as f64;
    let share = rejects / (good + rejects);
    assert!((0.01..0.04).contains(&share), "reject share {share}");

    // Another plant's lines are never overwritten.
    c.query_drop(
        "UPDATE production_line SET line_name = 'Línea de otro cliente' WHERE line_id = 2",
    )
    .await?;
    let e = demo::load_demo(
        &mut s,
        &a_db,
        &DemoOptions {
            force: true,
            ..opts(11)
        },
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("not the demo plant"), "{e}");
    Ok(())
}
