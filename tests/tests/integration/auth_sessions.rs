//! Sessions through the real `auth` binary (CGI, and FastCGI for the per-process
//! cache): login shape and cookies, refresh rotation and reuse, the session
//! limit, the idle timeout (injected clock), logout, password change, CSRF,
//! lockout, deactivated tenants and users, housekeeping.

use crate::auth_support as support;

use integration_tests::hosts::{bin, write_env_file, FcgiApp, TempDir, TestRequest};
use mysql_async::prelude::Queryable;
use serde_json::json;
use support::*;

fn me(token: &str) -> TestRequest {
    TestRequest::get("/api/v1/auth/me").bearer(token)
}

fn refresh_body(token: &str) -> TestRequest {
    TestRequest::post_json("/api/v1/auth/refresh", &json!({ "refresh_token": token }))
}

fn login_req(username: &str, password: &str) -> TestRequest {
    TestRequest::post_json(
        "/api/v1/auth/login",
        &json!({ "username": username, "password": password }),
    )
}

#[tokio::test]
async fn login_answers_tokens_cookies_and_the_user() {
    let w = world(&[]).await;
    let resp = w.auth(&login_req("demo.admin", PASSWORD));
    assert_eq!(resp.status, 200, "{}", resp.text());
    let body = resp.json();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert!(body["access_token"]
        .as_str()
        .is_some_and(|t| t.split('.').count() == 3));
    assert!(body["refresh_token"].as_str().is_some_and(|t| t.len() > 40));
    assert_eq!(body["user"]["username"], "demo.admin");
    assert_eq!(body["user"]["role"], "admin");
    assert_eq!(body["user"]["tenant_id"], w.demo);
    assert_eq!(body["user"]["tenant"]["company_name"], DEMO);
    assert!(body["user"]["effective_permissions"]
        .as_array()
        .is_some_and(|p| p.iter().any(|x| x == "users.manage")));
    let text = resp.text();
    assert!(
        !text.contains("argon2") && !text.contains("\"password\""),
        "{text}"
    );
    assert!(resp.header("content-security-policy").is_some());

    let s = Session::from_login(&resp);
    let cookie = |name: &str| {
        s.cookies
            .iter()
            .find(|c| c.starts_with(&format!("{name}=")))
            .unwrap_or_else(|| panic!("no {name} cookie in {:?}", s.cookies))
            .clone()
    };
    for name in ["dash_access", "dash_refresh"] {
        let c = cookie(name);
        assert!(
            c.contains("HttpOnly") && c.contains("SameSite=Strict") && c.contains("Path=/"),
            "{c}"
        );
        assert!(!c.contains("Secure"), "plain HTTP: no Secure ({c})");
    }
    let csrf = cookie("dash_csrf");
    assert!(
        !csrf.contains("HttpOnly") && csrf.contains("SameSite=Strict"),
        "{csrf}"
    );
    assert!(csrf.starts_with(&format!("dash_csrf={}", s.csrf)));

    // Behind HTTPS the cookies are Secure (COOKIE_SECURE=auto).
    let https = w.auth(&login_req("demo.admin", PASSWORD).header("X-Forwarded-Proto", "https"));
    assert_eq!(https.status, 200);
    let https_cookies: Vec<&String> = https
        .headers
        .iter()
        .filter(|(k, _)| k == "set-cookie")
        .map(|(_, v)| v)
        .collect();
    assert!(
        https_cookies.iter().all(|c| c.contains("; Secure")),
        "{https_cookies:?}"
    );
    assert!(https.header("strict-transport-security").is_some());

    // The token and the cookie both identify the user.
    let by_bearer = w.auth(&me(&s.access));
    assert_eq!(by_bearer.status, 200, "{}", by_bearer.text());
    assert_eq!(by_bearer.json()["data"]["username"], "demo.admin");
    let by_cookie =
        w.auth(&TestRequest::get("/api/v1/auth/me").header("Cookie", &s.cookie_header()));
    assert_eq!(by_cookie.status, 200, "{}", by_cookie.text());
    let users_me = w.auth(&TestRequest::get("/api/v1/users/me").bearer(&s.access));
    assert_eq!(users_me.json()["data"]["user_id"], w.user_id("demo.admin"));

    // Stored hashed: the row holds SHA-256 of the refresh and CSRF tokens, never the tokens.
    let mut g = w.global().await;
    let row: Option<(String, String, i64)> = g
        .exec_first(
            "SELECT refresh_token_hash, csrf_token_hash, success FROM user_login WHERE refresh_token_hash = ?",
            (shared::auth::tokens::sha256_hex(&s.refresh),),
        )
        .await
        .unwrap();
    let (rh, ch, ok) = row.expect("session row keyed by the refresh hash");
    assert_eq!(ok, 1);
    assert_eq!(rh.len(), 64);
    assert_eq!(ch, shared::auth::tokens::sha256_hex(&s.csrf));
    let leaked: i64 = g
        .exec_first(
            "SELECT COUNT(*) FROM user_login WHERE refresh_token_hash = ?",
            (&s.refresh,),
        )
        .await
        .unwrap()
        .unwrap_or(0);
    assert_eq!(leaked, 0);
    assert!(
        w.count("SELECT COUNT(*) FROM audit_log WHERE action = 'auth.login'")
            .await
            >= 2
    );
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_whole_family() {
    let w = world(&[]).await;
    let s1 = w.login("demo.manager");
    let r2 = w.auth(&refresh_body(&s1.refresh));
    assert_eq!(r2.status, 200, "{}", r2.text());
    let s2 = Session::from_login(&r2);
    assert_ne!(s2.refresh, s1.refresh, "rotated");
    assert_eq!(r2.json()["user"]["username"], "demo.manager");
    let r3 = w.auth(&refresh_body(&s2.refresh));
    assert_eq!(r3.status, 200, "{}", r3.text());
    let s3 = Session::from_login(&r3);
    assert_eq!(w.auth(&me(&s3.access)).status, 200);

    // Presenting the first (rotated) token again: 401, and the whole family dies.
    let reuse = w.auth(&refresh_body(&s1.refresh));
    let body = assert_error(&reuse, 401, "reuse");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("already used"),
        "{body}"
    );
    assert_error(
        &w.auth(&refresh_body(&s3.refresh)),
        401,
        "newest token of a revoked family",
    );
    assert_error(
        &w.auth(&me(&s3.access)),
        401,
        "access token of a revoked family",
    );
    assert_eq!(
        w.count("SELECT COUNT(*) FROM audit_log WHERE action = 'auth.refresh_reuse'")
            .await,
        1
    );
    let mut g = w.global().await;
    let reasons: Vec<String> = g
        .exec(
            "SELECT revoked_reason FROM user_login WHERE user_id = ? AND success = 1 ORDER BY session_id",
            (w.user_id("demo.manager"),),
        )
        .await
        .unwrap();
    assert_eq!(reasons, vec!["rotated", "rotated", "refresh_reuse"]);

    // A made-up token is simply invalid; an empty request says what to send.
    assert_error(
        &w.auth(&refresh_body("rt_not-a-real-token")),
        401,
        "unknown",
    );
    assert_error(
        &w.auth(&TestRequest::post_json("/api/v1/auth/refresh", &json!({}))),
        401,
        "none",
    );
    // Other sessions of the user are untouched by the reuse.
    let other = w.login("demo.manager");
    assert_eq!(w.auth(&refresh_body(&other.refresh)).status, 200);
}

#[tokio::test]
async fn cookie_requests_need_the_csrf_token_of_their_session() {
    let w = world(&[]).await;
    let s = w.login("demo.admin");
    let other = w.login("demo.admin");
    let cookie = s.cookie_header();

    // Reads need no CSRF token.
    assert_eq!(
        w.auth(&TestRequest::get("/api/v1/users").header("Cookie", &cookie))
            .status,
        200
    );

    let body = json!({"username": "csrf.user", "password": "Csrf-Password-1", "role": "viewer"});
    let create = || json_request("POST", "/api/v1/users", &body).header("Cookie", &cookie);
    assert_error(&w.auth(&create()), 403, "cookie POST without X-CSRF-Token");
    assert_error(
        &w.auth(&create().header("X-CSRF-Token", "guess")),
        403,
        "wrong token",
    );
    // Double-submit with another session's token (header = its own cookie) is refused too.
    let forged_cookie = format!("dash_access={}; dash_csrf={}", s.access, other.csrf);
    let forged = json_request("POST", "/api/v1/users", &body)
        .header("Cookie", &forged_cookie)
        .header("X-CSRF-Token", &other.csrf);
    assert_error(&w.auth(&forged), 403, "CSRF token of another session");
    let ok = w.auth(&create().header("X-CSRF-Token", &s.csrf));
    assert_eq!(ok.status, 201, "{}", ok.text());
    // Bearer clients need no CSRF token.
    let bearer = json_request(
        "POST",
        "/api/v1/users",
        &json!({"username": "bearer.user", "password": "Bearer-Password-1", "role": "viewer"}),
    )
    .bearer(&s.access);
    assert_eq!(w.auth(&bearer).status, 201);

    // Refresh by cookie: CSRF required, and the CSRF token stays the session's.
    let by_cookie = TestRequest {
        method: "POST".into(),
        uri: "/api/v1/auth/refresh".into(),
        headers: vec![("Cookie".into(), cookie.clone())],
        body: Vec::new(),
    };
    assert_error(&w.auth(&by_cookie), 403, "cookie refresh without CSRF");
    let refreshed = w.auth(&by_cookie.clone().header("X-CSRF-Token", &s.csrf));
    assert_eq!(refreshed.status, 200, "{}", refreshed.text());
    assert_eq!(refreshed.json()["csrf_token"], s.csrf.as_str());
    assert!(refreshed.headers.iter().any(|(k, v)| k == "set-cookie"
        && v.starts_with("dash_refresh=")
        && v.contains("HttpOnly")));
}

#[tokio::test]
async fn a_fourth_session_revokes_the_oldest() {
    let w = world(&[]).await;
    let sessions: Vec<Session> = (0..4).map(|_| w.login("demo.operator")).collect();
    assert_error(&w.auth(&me(&sessions[0].access)), 401, "oldest session");
    assert_error(
        &w.auth(&refresh_body(&sessions[0].refresh)),
        401,
        "oldest refresh",
    );
    for s in &sessions[1..] {
        assert_eq!(w.auth(&me(&s.access)).status, 200);
    }
    let live = w
        .count(&format!(
            "SELECT COUNT(*) FROM user_login WHERE user_id = {} AND success = 1 AND revoked_at IS NULL",
            w.user_id("demo.operator")
        ))
        .await;
    assert_eq!(live, 3);
    assert_eq!(
        w.count("SELECT COUNT(*) FROM user_login WHERE revoked_reason = 'session_limit'")
            .await,
        1
    );
    // Rotation does not count as a new session.
    let r = w.auth(&refresh_body(&sessions[3].refresh));
    assert_eq!(r.status, 200);
    assert_eq!(w.auth(&me(&sessions[1].access)).status, 200);
}

#[tokio::test]
async fn an_idle_session_ends_after_30_minutes() {
    let w = world(&[]).await;
    let min = 60;

    // Refreshing counts as activity: 20 min, then 29 min later, then 31 min later.
    let s = w.login("demo.viewer");
    let r = w.auth_at(20 * min, &refresh_body(&s.refresh));
    assert_eq!(r.status, 200, "{}", r.text());
    let s2 = Session::from_login(&r);
    let r = w.auth_at(49 * min, &refresh_body(&s2.refresh));
    assert_eq!(r.status, 200, "29 idle minutes are fine: {}", r.text());
    let s3 = Session::from_login(&r);
    let r = w.auth_at(80 * min, &refresh_body(&s3.refresh));
    let body = assert_error(&r, 401, "31 idle minutes");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("inactivity"),
        "{body}"
    );

    // Any authenticated request counts as activity, not only refreshes.
    let t = w.login("demo.other");
    assert_eq!(w.auth_at(14 * min, &me(&t.access)).status, 200);
    let r = w.auth_at(43 * min, &refresh_body(&t.refresh));
    assert_eq!(
        r.status,
        200,
        "active at 14 min, so alive at 43: {}",
        r.text()
    );
    let u = w.login("demo.operator");
    assert_error(
        &w.auth_at(31 * min, &refresh_body(&u.refresh)),
        401,
        "never used for 31 min",
    );

    // The access token itself expires after 15 minutes.
    let v = w.login("demo.admin");
    assert_eq!(w.auth_at(14 * min, &me(&v.access)).status, 200);
    assert_error(
        &w.auth_at(15 * min + 1, &me(&v.access)),
        401,
        "expired access token",
    );
}

#[tokio::test]
async fn logout_revokes_the_session() {
    let w = world(&[]).await;
    let s = w.login("demo.manager");
    let out = w.auth(&TestRequest::post_json("/api/v1/auth/logout", &json!({})).bearer(&s.access));
    assert_eq!(out.status, 200, "{}", out.text());
    assert_eq!(out.json()["data"]["logged_out"], true);
    let cleared: Vec<&String> = out
        .headers
        .iter()
        .filter(|(k, _)| k == "set-cookie")
        .map(|(_, v)| v)
        .collect();
    assert_eq!(cleared.len(), 3);
    assert!(
        cleared.iter().all(|c| c.contains("Max-Age=0")),
        "{cleared:?}"
    );
    assert_error(&w.auth(&me(&s.access)), 401, "access token after logout");
    assert_error(
        &w.auth(&refresh_body(&s.refresh)),
        401,
        "refresh token after logout",
    );

    // With the access token expired, the refresh token still ends the session.
    let t = w.login("demo.manager");
    let out = w.auth_at(
        16 * 60,
        &TestRequest::post_json(
            "/api/v1/auth/logout",
            &json!({ "refresh_token": t.refresh }),
        ),
    );
    assert_eq!(out.status, 200, "{}", out.text());
    assert_error(
        &w.auth_at(16 * 60, &refresh_body(&t.refresh)),
        401,
        "refresh after logout",
    );
    // Nothing to log out: 401.
    assert_error(
        &w.auth(&TestRequest::post_json("/api/v1/auth/logout", &json!({}))),
        401,
        "anonymous",
    );
    assert_eq!(
        w.count("SELECT COUNT(*) FROM audit_log WHERE action = 'auth.logout'")
            .await,
        2
    );
}

#[tokio::test]
async fn changing_the_password_revokes_the_other_sessions() {
    let w = world(&[]).await;
    let a = w.login("demo.operator");
    let b = w.login("demo.operator");
    let change = |token: &str, current: &str, new: &str, path: &str| {
        json_request(
            "POST",
            path,
            &json!({ "current_password": current, "new_password": new }),
        )
        .bearer(token)
    };
    let wrong = w.auth(&change(
        &a.access,
        "not-it-at-all",
        "Brand-New-Pass-1",
        "/api/v1/auth/change-password",
    ));
    assert_eq!(
        assert_error(&wrong, 422, "wrong current")["error"]["field"],
        "current_password"
    );
    let short = w.auth(&change(
        &a.access,
        PASSWORD,
        "short",
        "/api/v1/auth/change-password",
    ));
    assert_eq!(
        assert_error(&short, 422, "too short")["error"]["field"],
        "new_password"
    );
    let same = w.auth(&change(
        &a.access,
        PASSWORD,
        PASSWORD,
        "/api/v1/auth/change-password",
    ));
    assert_eq!(
        assert_error(&same, 422, "unchanged")["error"]["field"],
        "new_password"
    );
    let long = w.auth(&change(
        &a.access,
        PASSWORD,
        &"x".repeat(257),
        "/api/v1/auth/change-password",
    ));
    assert_eq!(
        assert_error(&long, 422, "too long")["error"]["field"],
        "new_password"
    );

    let ok = w.auth(&change(
        &a.access,
        PASSWORD,
        "Brand-New-Pass-1",
        "/api/v1/auth/change-password",
    ));
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(ok.json()["data"]["other_sessions_revoked"], 1);
    assert_eq!(
        w.auth(&me(&a.access)).status,
        200,
        "the session that changed it stays"
    );
    assert_error(&w.auth(&me(&b.access)), 401, "other session");
    assert_error(
        &w.auth(&refresh_body(&b.refresh)),
        401,
        "other session's refresh",
    );
    assert_error(
        &w.auth(&login_req("demo.operator", PASSWORD)),
        401,
        "old password",
    );
    let fresh = w.auth(&login_req("demo.operator", "Brand-New-Pass-1"));
    assert_eq!(fresh.status, 200);
    // The /users/me alias does the same.
    let back = w.auth(&change(
        &a.access,
        "Brand-New-Pass-1",
        "Another-Pass-22",
        "/api/v1/users/me/change-password",
    ));
    assert_eq!(back.status, 200, "{}", back.text());
    assert_eq!(back.json()["data"]["other_sessions_revoked"], 1);
    assert_eq!(
        w.count("SELECT COUNT(*) FROM audit_log WHERE action = 'auth.password_change'")
            .await,
        2
    );
}

#[tokio::test]
async fn repeated_failures_lock_the_account_for_15_minutes() {
    let w = world(&[]).await;
    // Every failure, the locking one included, answers like an unknown name
    // (tests/auth_enumeration.rs): one message that states the lockout rule.
    let refused = "invalid username or password; after 5 failed attempts an account is \
                   locked for 15 minutes";
    for i in 1..=5 {
        let r = w.auth(&login_req("demo.viewer", "wrong-password"));
        let body = assert_error(&r, 401, &format!("failure {i}"));
        assert_eq!(body["error"]["message"], refused);
        assert_eq!(r.header("retry-after"), None);
    }
    // Locked: even the right password is refused.
    let right = w.auth(&login_req("demo.viewer", PASSWORD));
    assert_error(&right, 401, "right password while locked");
    let later = w.auth_at(10 * 60, &login_req("demo.viewer", PASSWORD));
    assert_error(&later, 401, "still locked at 10 min");
    // After 15 minutes it opens again, and a success resets the counter.
    let open = w.auth_at(15 * 60 + 5, &login_req("demo.viewer", PASSWORD));
    assert_eq!(open.status, 200, "{}", open.text());
    let once_more = w.auth_at(15 * 60 + 10, &login_req("demo.viewer", "wrong-password"));
    assert_error(&once_more, 401, "counter reset after success");

    // Unknown users get the same answer as wrong passwords.
    let unknown = w.auth(&login_req("no.such.user", PASSWORD));
    assert_eq!(
        assert_error(&unknown, 401, "unknown user")["error"]["message"],
        refused
    );
    assert_eq!(
        w.count("SELECT COUNT(*) FROM audit_log WHERE action = 'auth.lockout'")
            .await,
        1
    );
    assert!(
        w.count("SELECT COUNT(*) FROM audit_log WHERE action = 'auth.login_failed'")
            .await
            >= 8
    );
    assert!(
        w.count(
            "SELECT COUNT(*) FROM user_login WHERE success = 0 AND failure_reason = 'bad_password'"
        )
        .await
            >= 6
    );
}

#[tokio::test]
async fn deactivated_tenants_and_users_are_refused_even_with_live_tokens() {
    let w = world(&[]).await;
    let root = w.login("root.op");
    let admin = w.login("demo.admin");
    let viewer = w.login("demo.viewer");
    let second = w.login("second.viewer");

    let off = w.auth(
        &TestRequest::post_json(
            &format!("/api/v1/tenants/{}/deactivate", w.demo),
            &json!({}),
        )
        .bearer(&root.access),
    );
    assert_eq!(off.status, 200, "{}", off.text());
    assert_eq!(off.json()["data"]["is_active"], false);
    assert_error(
        &w.auth(&me(&admin.access)),
        401,
        "admin of a deactivated tenant",
    );
    assert_error(
        &w.production(&TestRequest::get("/api/v1/production/lines").bearer(&viewer.access)),
        401,
        "production for a deactivated tenant",
    );
    assert_error(
        &w.auth(&refresh_body(&viewer.refresh)),
        401,
        "refresh for a deactivated tenant",
    );
    let login = w.auth(&login_req("demo.viewer", PASSWORD));
    assert!(
        assert_error(&login, 403, "login to a deactivated tenant")["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("deactivated")
    );
    assert_eq!(
        w.auth(&me(&second.access)).status,
        200,
        "other tenants are unaffected"
    );

    let on = w.auth(
        &TestRequest::post_json(&format!("/api/v1/tenants/{}/activate", w.demo), &json!({}))
            .bearer(&root.access),
    );
    assert_eq!(on.status, 200);
    assert_eq!(
        w.auth(&me(&admin.access)).status,
        200,
        "a reactivated tenant's sessions work again"
    );

    // A deactivated user: live tokens refused, login refused.
    let put = json_request(
        "PUT",
        &format!("/api/v1/users/{}", w.user_id("demo.viewer")),
        &json!({ "is_active": false }),
    )
    .bearer(&admin.access);
    let r = w.auth(&put);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_error(&w.auth(&me(&viewer.access)), 401, "deactivated user");
    assert_error(
        &w.auth(&login_req("demo.viewer", PASSWORD)),
        403,
        "deactivated user login",
    );
    assert_eq!(
        w.count("SELECT COUNT(*) FROM audit_log WHERE action = 'tenant.deactivate'")
            .await,
        1
    );
}

#[tokio::test]
async fn a_fastcgi_process_applies_logout_and_deactivation_at_once() {
    let w = world(&[]).await;
    let dir = TempDir::new("auth-fcgi");
    let env_file = write_env_file(dir.path(), &w.env);
    let app = FcgiApp::start(&bin("auth"), &env_file);
    let login = app.request(&login_req("demo.manager", PASSWORD));
    assert_eq!(login.status, 200, "{}", login.text());
    let s = Session::from_login(&login);
    for _ in 0..3 {
        assert_eq!(app.request(&me(&s.access)).status, 200, "cached session");
    }
    let out =
        app.request(&TestRequest::post_json("/api/v1/auth/logout", &json!({})).bearer(&s.access));
    assert_eq!(out.status, 200);
    assert_error(
        &app.request(&me(&s.access)),
        401,
        "same process right after logout",
    );

    let admin = Session::from_login(&app.request(&login_req("demo.admin", PASSWORD)));
    let t = Session::from_login(&app.request(&login_req("demo.operator", PASSWORD)));
    assert_eq!(app.request(&me(&t.access)).status, 200);
    let put = json_request(
        "PUT",
        &format!("/api/v1/users/{}", w.user_id("demo.operator")),
        &json!({ "is_active": false }),
    )
    .bearer(&admin.access);
    assert_eq!(app.request(&put).status, 200);
    assert_error(
        &app.request(&me(&t.access)),
        401,
        "deactivated in the same process",
    );
}

#[tokio::test]
async fn housekeeping_clears_counters_and_expired_sessions() {
    let w = world(&[]).await;
    let s = w.login("demo.viewer");
    assert_eq!(w.auth(&me(&s.access)).status, 200);
    assert!(
        w.count("SELECT COUNT(*) FROM rate_limit").await >= 1,
        "the login's address"
    );
    assert_eq!(w.count("SELECT COUNT(*) FROM user_request_rate").await, 1);

    let config = shared::config::Config::from_lookup(|k| {
        w.env.iter().find(|(ek, _)| ek == k).map(|(_, v)| v.clone())
    })
    .expect("config");
    let db = dash_store::db::Db::new(&config.db, 2).expect("db");
    let now = chrono::Utc::now();
    let first = shared::auth::housekeeping(&db, now)
        .await
        .expect("housekeeping now");
    assert_eq!(first.rate_limit_rows_deleted, 0, "fresh counters stay");
    assert_eq!(first.sessions_expired, 0);

    let later = now + chrono::Duration::days(8);
    let report = shared::auth::housekeeping(&db, later)
        .await
        .expect("housekeeping later");
    assert!(report.rate_limit_rows_deleted >= 2, "{report:?}");
    assert_eq!(report.sessions_expired, 1, "{report:?}");
    assert!(report.refresh_hashes_cleared >= 1, "{report:?}");
    assert_eq!(w.count("SELECT COUNT(*) FROM rate_limit").await, 0);
    assert_eq!(w.count("SELECT COUNT(*) FROM user_request_rate").await, 0);
    assert_eq!(
        w.count("SELECT COUNT(*) FROM user_login WHERE refresh_token_hash IS NOT NULL")
            .await,
        0
    );
    assert_eq!(
        w.count("SELECT COUNT(*) FROM user_login WHERE success = 1")
            .await,
        1,
        "history kept"
    );
    let again = shared::auth::housekeeping(&db, later)
        .await
        .expect("idempotent");
    assert_eq!(again, shared::auth::HousekeepingReport::default());
    db.disconnect().await;
}
