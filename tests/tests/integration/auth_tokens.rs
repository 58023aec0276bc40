//! Access tokens through the real binaries: forged, foreign, expired and
//! tampered tokens are 401 on every function; plus the measured cost of a
//! login and of verifying a token.

use crate::auth_support as support;

use std::time::{Duration, Instant};

use base64::Engine;
use integration_tests::hosts::{bin, run_cgi, TestRequest};
use integration_tests::testdb::TEST_JWT_SECRET;
use serde_json::{json, Value};
use support::*;

fn b64(v: &Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
}

fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("payload");
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .expect("base64"),
    )
    .expect("claims")
}

fn sign(alg: &str, secret: &[u8], claims: &Value) -> String {
    shared::auth::tokens::sign_for_tests(alg, secret, claims).expect("sign")
}

#[tokio::test]
async fn forged_foreign_expired_and_tampered_tokens_are_401() {
    let w = world(&[]).await;
    let s = w.login("demo.admin");
    let good = claims_of(&s.access);
    let secret = TEST_JWT_SECRET.as_bytes();
    let now = chrono::Utc::now().timestamp();
    let with = |key: &str, value: Value| {
        let mut c = good.clone();
        c[key] = value;
        c
    };
    let header_b64 = s.access.split('.').next().expect("header").to_string();
    let signature = s.access.rsplit('.').next().expect("sig").to_string();

    let mut without_aud = good.clone();
    without_aud.as_object_mut().expect("object").remove("aud");
    let cases: Vec<(&str, String)> = vec![
        (
            "alg none",
            format!(
                "{}.{}.",
                b64(&json!({"alg": "none", "typ": "JWT"})),
                b64(&good)
            ),
        ),
        (
            "alg none with the original signature",
            format!(
                "{}.{}.{signature}",
                b64(&json!({"alg": "none", "typ": "JWT"})),
                b64(&good)
            ),
        ),
        ("HS512 with the right secret", sign("HS512", secret, &good)),
        ("HS384 with the right secret", sign("HS384", secret, &good)),
        (
            "RS256 header (key confusion)",
            format!(
                "{}.{}.{signature}",
                b64(&json!({"alg": "RS256", "typ": "JWT"})),
                b64(&good)
            ),
        ),
        (
            "wrong audience",
            sign("HS256", secret, &with("aud", json!("another-api"))),
        ),
        (
            "wrong issuer",
            sign("HS256", secret, &with("iss", json!("evil-issuer"))),
        ),
        ("no audience", sign("HS256", secret, &without_aud)),
        (
            "expired",
            sign("HS256", secret, &with("exp", json!(now - 5))),
        ),
        (
            "expired long ago",
            sign("HS256", secret, &{
                let mut c = with("iat", json!(now - 7200));
                c["exp"] = json!(now - 6300);
                c
            }),
        ),
        (
            "issued in the future",
            sign("HS256", secret, &with("iat", json!(now + 3600))),
        ),
        (
            "lifetime too long",
            sign("HS256", secret, &with("exp", json!(now + 86_400 * 30))),
        ),
        (
            "tampered payload (role)",
            format!(
                "{header_b64}.{}.{signature}",
                b64(&with("role", json!("superadmin")))
            ),
        ),
        (
            "tampered payload (tenant)",
            format!(
                "{header_b64}.{}.{signature}",
                b64(&with("tid", json!(w.second)))
            ),
        ),
        (
            "tampered payload (user)",
            format!(
                "{header_b64}.{}.{signature}",
                b64(&with("sub", json!(w.user_id("root.op").to_string())))
            ),
        ),
        ("signature removed", format!("{header_b64}.{}.", b64(&good))),
        (
            "other secret",
            sign("HS256", b"some-other-secret-that-is-long-enough", &good),
        ),
        (
            "valid signature, other session",
            sign(
                "HS256",
                secret,
                &with("sid", json!("00000000000000000000000000000000")),
            ),
        ),
        (
            "valid signature, other tenant",
            sign("HS256", secret, &with("tid", json!(w.second))),
        ),
        ("garbage", "not-a-token".into()),
        ("huge", "a".repeat(8000)),
    ];

    // The untouched token works (the control).
    let control = w.auth(&TestRequest::get("/api/v1/auth/me").bearer(&s.access));
    assert_eq!(control.status, 200, "{}", control.text());

    for (what, token) in &cases {
        let r = w.auth(&TestRequest::get("/api/v1/auth/me").bearer(token));
        let body = assert_error(&r, 401, what);
        assert_eq!(body["error"]["code"], "unauthorized", "{what}");
        assert_eq!(r.header("www-authenticate"), Some("Bearer"), "{what}");
        let p = w.production(&TestRequest::get("/api/v1/production/lines").bearer(token));
        assert_error(&p, 401, &format!("production: {what}"));
        assert_no_demo_data(&p, what);
    }

    // Malformed Authorization headers.
    for header in [
        "Bearer",
        "Bearer ",
        "Basic ZGVtbzpkZW1v",
        "Token abc",
        "bearer",
    ] {
        let r = w.auth(&TestRequest::get("/api/v1/auth/me").header("Authorization", header));
        assert_error(&r, 401, header);
    }
    // An expired token is refused even by a process whose clock is behind (injected).
    let late = w.auth_at(
        16 * 60,
        &TestRequest::get("/api/v1/auth/me").bearer(&s.access),
    );
    assert_error(&late, 401, "15-minute expiry");
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Measures and prints what a login and a token check cost (docs/operations.md#performance-targets style:
/// reported, loosely bounded). Run with `--nocapture` to see the figures.
#[tokio::test]
async fn measure_login_latency_and_token_verification() {
    let w = world(&[]).await;
    let env = w.env.clone();
    let login = TestRequest::post_json(
        "/api/v1/auth/login",
        &json!({"username": "demo.viewer", "password": PASSWORD}),
    );

    let mut logins = Vec::new();
    let mut token = String::new();
    for _ in 0..7 {
        let t = Instant::now();
        let r = run_cgi(&bin("auth"), &env, &login);
        logins.push(t.elapsed());
        assert_eq!(r.status, 200, "{}", r.text());
        token = r.json()["access_token"]
            .as_str()
            .expect("token")
            .to_string();
    }
    let mut wrong = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let r = run_cgi(
            &bin("auth"),
            &env,
            &TestRequest::post_json(
                "/api/v1/auth/login",
                &json!({"username": "nobody.here", "password": "x"}),
            ),
        );
        wrong.push(t.elapsed());
        assert_eq!(r.status, 401);
    }
    let mut mes = Vec::new();
    for _ in 0..15 {
        let t = Instant::now();
        let r = run_cgi(
            &bin("auth"),
            &env,
            &TestRequest::get("/api/v1/auth/me").bearer(&token),
        );
        mes.push(t.elapsed());
        assert_eq!(r.status, 200);
    }
    let mut health = Vec::new();
    for _ in 0..15 {
        let t = Instant::now();
        let r = run_cgi(&bin("auth"), &env, &TestRequest::get("/api/v1/auth/health"));
        health.push(t.elapsed());
        assert_eq!(r.status, 200);
    }

    // The pure cost of verifying one token, in process.
    let config = shared::config::Config::from_lookup(|k| {
        env.iter().find(|(ek, _)| ek == k).map(|(_, v)| v.clone())
    })
    .expect("config");
    let now = chrono::Utc::now();
    let n = 20_000u32;
    let t = Instant::now();
    for _ in 0..n {
        shared::auth::tokens::verify_access(&config, &token, now).expect("verify");
    }
    let verify = t.elapsed() / n;
    let t = Instant::now();
    let hashes = 3u32;
    for _ in 0..hashes {
        let _ = dash_store::password::verify(PASSWORD, "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$wV2Y0xGQ3sE3QrR7v3qUQm8nH5p0a0y5mGkqg1VZ8cA");
    }
    let argon = t.elapsed() / hashes;

    eprintln!(
        "MEASURED login (CGI, end to end) median {:?} [all {:?}]; failed login (unknown user) median {:?}; \
         argon2id verify {:?}; GET /auth/me (CGI: start + JWT + session + rate limit) median {:?}; \
         GET /auth/health (CGI baseline) median {:?}; JWT verify in process {:?} per token",
        median(logins.clone()),
        logins,
        median(wrong.clone()),
        argon,
        median(mes.clone()),
        median(health.clone()),
        verify
    );
    assert!(median(logins) < Duration::from_secs(3));
    assert!(
        verify < Duration::from_millis(1),
        "verifying a token must be cheap: {verify:?}"
    );
}
