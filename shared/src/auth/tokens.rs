//! Access tokens (JWT, HS256 pinned) and the opaque secrets around a session:
//! refresh tokens and CSRF tokens, stored only as SHA-256 hashes.
//!
//! Expiry is checked against [`dash_store::Store::now`] (the injectable
//! clock), not inside `jsonwebtoken`, so tests can move time forward.

use base64::Engine;
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::Config;
use dash_store::error::{AppError, AppResult};

/// The only algorithm we sign with and the only one we accept.
pub const ALGORITHM: Algorithm = Algorithm::HS256;

/// Longest bearer token we will even look at.
pub const MAX_TOKEN_LEN: usize = 4096;

/// Tolerated clock skew for `iat` (a token issued by a process whose clock is slightly ahead).
const IAT_SKEW_SECONDS: i64 = 60;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub aud: String,
    /// The user id.
    pub sub: String,
    pub iat: i64,
    pub exp: i64,
    /// The session (refresh-token family) this token belongs to.
    pub sid: String,
    /// The tenant; absent for a superadmin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tid: Option<i64>,
    /// The role when the token was issued (informational: the live role is read from the user row).
    pub role: String,
    pub jti: String,
}

impl AccessClaims {
    pub fn user_id(&self) -> AppResult<i64> {
        self.sub
            .parse::<i64>()
            .ok()
            .filter(|id| *id > 0)
            .ok_or_else(|| invalid_token("the token names no user"))
    }
}

fn invalid_token(message: &str) -> AppError {
    AppError::unauthorized(message.to_string())
}

/// Signs an access token for a session; returns it with its lifetime in seconds.
pub fn issue_access(
    config: &Config,
    now: DateTime<Utc>,
    user_id: i64,
    tenant_id: Option<i64>,
    role: &str,
    session: &str,
) -> AppResult<(String, i64)> {
    let ttl = config.access_token_ttl.as_secs() as i64;
    let claims = AccessClaims {
        iss: config.jwt_issuer.clone(),
        aud: config.jwt_audience.clone(),
        sub: user_id.to_string(),
        iat: now.timestamp(),
        exp: now.timestamp() + ttl,
        sid: session.to_string(),
        tid: tenant_id,
        role: role.to_string(),
        jti: random_hex(12),
    };
    let key = EncodingKey::from_secret(&config.jwt_secret).map_err(AppError::internal)?;
    let token =
        jsonwebtoken::encode(&Header::new(ALGORITHM), &claims, &key).map_err(AppError::internal)?;
    Ok((token, ttl))
}

/// Verifies signature, algorithm, issuer, audience, `iat` and `exp`. Every
/// failure is a 401 that says no more than needed.
pub fn verify_access(config: &Config, token: &str, now: DateTime<Utc>) -> AppResult<AccessClaims> {
    let claims = decode_access(config, token)?;
    check_access_time(&claims, now)?;
    Ok(claims)
}

/// Everything [`verify_access`] checks that does not depend on the clock:
/// algorithm, signature, issuer, audience, the claims' shape and the token's
/// lifetime. The answer depends only on the token and the process's
/// configuration, so a process may keep it for a token it has seen
/// (`AppState::verified_tokens`) and check only the clock again.
pub fn decode_access(config: &Config, token: &str) -> AppResult<AccessClaims> {
    if token.is_empty() || token.len() > MAX_TOKEN_LEN {
        return Err(invalid_token("invalid access token"));
    }
    // Pin the algorithm before anything else looks at the token.
    let header =
        jsonwebtoken::decode_header(token).map_err(|_| invalid_token("invalid access token"))?;
    if header.alg != ALGORITHM {
        return Err(invalid_token("access token algorithm not accepted"));
    }
    let key = DecodingKey::from_secret(&config.jwt_secret).map_err(AppError::internal)?;
    let mut validation = Validation::new(ALGORITHM);
    validation.algorithms = vec![ALGORITHM];
    validation.validate_exp = false; // checked by check_access_time against the injectable clock
    validation.validate_nbf = false;
    validation.leeway = 0;
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    validation.set_issuer(&[config.jwt_issuer.as_str()]);
    validation.set_audience(&[config.jwt_audience.as_str()]);
    let data = jsonwebtoken::decode::<AccessClaims>(token, &key, &validation).map_err(|e| {
        tracing::debug!(error = %e, "access token refused");
        invalid_token("invalid access token")
    })?;
    let claims = data.claims;
    let max_life = config.access_token_ttl.as_secs() as i64 + IAT_SKEW_SECONDS;
    if claims.exp - claims.iat > max_life {
        return Err(invalid_token("invalid access token"));
    }
    if claims.sid.is_empty() || claims.sid.len() > 64 {
        return Err(invalid_token("invalid access token"));
    }
    claims.user_id()?;
    Ok(claims)
}

/// The clock's part of [`verify_access`]: not expired, not issued in the future.
pub fn check_access_time(claims: &AccessClaims, now: DateTime<Utc>) -> AppResult<()> {
    let now = now.timestamp();
    if claims.exp <= now {
        return Err(invalid_token(
            "the access token has expired; refresh it or sign in again",
        ));
    }
    if claims.iat > now + IAT_SKEW_SECONDS {
        return Err(invalid_token("invalid access token"));
    }
    Ok(())
}

/// Signs arbitrary claims with an HMAC algorithm named like a JWT header
/// (`HS256`, `HS384`, `HS512`). Only for tests that prove other algorithms and
/// forged claims are refused; the service itself signs with [`issue_access`].
#[doc(hidden)]
pub fn sign_for_tests(alg: &str, secret: &[u8], claims: &serde_json::Value) -> AppResult<String> {
    let alg: Algorithm = alg.parse().map_err(AppError::internal)?;
    let key = EncodingKey::from_secret(secret).map_err(AppError::internal)?;
    jsonwebtoken::encode(&Header::new(alg), claims, &key).map_err(AppError::internal)
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    rand::rng().fill_bytes(&mut buf);
    buf
}

/// `n` random bytes as lower-case hex.
pub fn random_hex(n: usize) -> String {
    let mut buf = vec![0u8; n];
    rand::rng().fill_bytes(&mut buf);
    hex::encode(buf)
}

/// A new opaque refresh token (256 random bits, URL-safe).
pub fn new_refresh_token() -> String {
    format!(
        "rt_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<32>())
    )
}

/// A new CSRF token (256 random bits, URL-safe).
pub fn new_csrf_token() -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<32>())
}

/// A new session family id (128 random bits as 32 hex characters).
pub fn new_family_id() -> String {
    hex::encode(random_bytes::<16>())
}

/// SHA-256 as 64 lower-case hex characters: how refresh and CSRF tokens are stored.
pub fn sha256_hex(value: &str) -> String {
    hex::encode(Sha256::digest(value.as_bytes()))
}

/// Compares two secrets in time independent of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const SECRET: &str = "0123456789abcdef0123456789abcdef-test";

    fn config() -> Config {
        let map: HashMap<&str, &str> = [
            ("DATABASE_URL", "mysql://root@127.0.0.1:3306"),
            ("JWT_SECRET", SECRET),
        ]
        .into_iter()
        .collect();
        Config::from_lookup(|k| map.get(k).map(|v| v.to_string())).unwrap()
    }

    fn b64(v: &serde_json::Value) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    }

    fn claims_json(cfg: &Config, now: i64) -> serde_json::Value {
        serde_json::json!({
            "iss": cfg.jwt_issuer, "aud": cfg.jwt_audience, "sub": "7", "iat": now,
            "exp": now + 600, "sid": "abc", "tid": 1, "role": "admin", "jti": "x"
        })
    }

    fn sign_with(alg: Algorithm, secret: &[u8], claims: &serde_json::Value) -> String {
        let key = EncodingKey::from_secret(secret).unwrap();
        jsonwebtoken::encode(&Header::new(alg), claims, &key).unwrap()
    }

    #[test]
    fn issue_then_verify() {
        let cfg = config();
        let now = Utc::now();
        let (token, ttl) = issue_access(&cfg, now, 7, Some(1), "admin", "fam").unwrap();
        assert_eq!(ttl, 900);
        let c = verify_access(&cfg, &token, now).unwrap();
        assert_eq!(
            (c.user_id().unwrap(), c.tid, c.sid.as_str()),
            (7, Some(1), "fam")
        );
        // superadmin: no tid
        let (token, _) = issue_access(&cfg, now, 1, None, "superadmin", "f2").unwrap();
        assert_eq!(verify_access(&cfg, &token, now).unwrap().tid, None);
    }

    #[test]
    fn expiry_follows_the_injected_clock() {
        let cfg = config();
        let now = Utc::now();
        let (token, _) = issue_access(&cfg, now, 7, Some(1), "admin", "fam").unwrap();
        assert!(verify_access(&cfg, &token, now + chrono::Duration::seconds(899)).is_ok());
        let e = verify_access(&cfg, &token, now + chrono::Duration::seconds(900)).unwrap_err();
        assert_eq!(e.status(), 401);
        // issued in the future
        assert!(verify_access(&cfg, &token, now - chrono::Duration::seconds(120)).is_err());
    }

    #[test]
    fn a_remembered_token_still_expires() {
        // What a process keeps of a token (decode_access) holds no verdict on
        // time: check_access_time refuses it once the clock passes exp.
        let cfg = config();
        let now = Utc::now();
        let (token, _) = issue_access(&cfg, now, 7, Some(1), "admin", "fam").unwrap();
        let kept = decode_access(&cfg, &token).unwrap();
        assert!(check_access_time(&kept, now + chrono::Duration::seconds(899)).is_ok());
        let e = check_access_time(&kept, now + chrono::Duration::seconds(900)).unwrap_err();
        assert_eq!(e.status(), 401);
        assert!(check_access_time(&kept, now - chrono::Duration::seconds(120)).is_err());
    }

    #[test]
    fn other_algorithms_are_refused() {
        let cfg = config();
        let now = Utc::now().timestamp();
        let claims = claims_json(&cfg, now);
        let t = Utc::now();
        assert!(verify_access(
            &cfg,
            &sign_with(Algorithm::HS256, SECRET.as_bytes(), &claims),
            t
        )
        .is_ok());
        for alg in [Algorithm::HS384, Algorithm::HS512] {
            let token = sign_with(alg, SECRET.as_bytes(), &claims);
            assert_eq!(
                verify_access(&cfg, &token, t).unwrap_err().status(),
                401,
                "{alg:?}"
            );
        }
        // alg none, unsigned
        let none = format!(
            "{}.{}.",
            b64(&serde_json::json!({"alg": "none", "typ": "JWT"})),
            b64(&claims)
        );
        assert_eq!(verify_access(&cfg, &none, t).unwrap_err().status(), 401);
        let none_upper = format!(
            "{}.{}.",
            b64(&serde_json::json!({"alg": "None"})),
            b64(&claims)
        );
        assert!(verify_access(&cfg, &none_upper, t).is_err());
        // RS256 header with an HMAC signature made from the secret (key confusion)
        let hs = sign_with(Algorithm::HS256, SECRET.as_bytes(), &claims);
        let sig = hs.rsplit('.').next().unwrap();
        let rs = format!(
            "{}.{}.{sig}",
            b64(&serde_json::json!({"alg": "RS256", "typ": "JWT"})),
            b64(&claims)
        );
        assert!(verify_access(&cfg, &rs, t).is_err());
    }

    #[test]
    fn wrong_claims_or_secret_are_refused() {
        let cfg = config();
        let now = Utc::now().timestamp();
        let t = Utc::now();
        let mut c = claims_json(&cfg, now);
        c["aud"] = "someone-else".into();
        assert!(
            verify_access(&cfg, &sign_with(Algorithm::HS256, SECRET.as_bytes(), &c), t).is_err()
        );
        let mut c = claims_json(&cfg, now);
        c["iss"] = "evil".into();
        assert!(
            verify_access(&cfg, &sign_with(Algorithm::HS256, SECRET.as_bytes(), &c), t).is_err()
        );
        let mut c = claims_json(&cfg, now);
        c.as_object_mut().unwrap().remove("aud");
        assert!(
            verify_access(&cfg, &sign_with(Algorithm::HS256, SECRET.as_bytes(), &c), t).is_err()
        );
        let mut c = claims_json(&cfg, now);
        c["exp"] = (now - 1).into();
        assert!(
            verify_access(&cfg, &sign_with(Algorithm::HS256, SECRET.as_bytes(), &c), t).is_err()
        );
        let mut c = claims_json(&cfg, now);
        c["exp"] = (now + 365 * 86400).into();
        assert!(
            verify_access(&cfg, &sign_with(Algorithm::HS256, SECRET.as_bytes(), &c), t).is_err()
        );
        let c = claims_json(&cfg, now);
        let other = sign_with(Algorithm::HS256, b"another-secret-another-secret-000", &c);
        assert!(verify_access(&cfg, &other, t).is_err());
    }

    #[test]
    fn tampering_is_detected() {
        let cfg = config();
        let t = Utc::now();
        let (token, _) = issue_access(&cfg, t, 7, Some(1), "viewer", "fam").unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        let mut claims: serde_json::Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(parts[1])
                .unwrap(),
        )
        .unwrap();
        claims["tid"] = 2.into();
        claims["role"] = "superadmin".into();
        let forged = format!("{}.{}.{}", parts[0], b64(&claims), parts[2]);
        assert!(verify_access(&cfg, &forged, t).is_err());
        for junk in ["", "a.b", "a.b.c", "....", &"x".repeat(5000)] {
            assert!(verify_access(&cfg, junk, t).is_err());
        }
    }

    #[test]
    fn secrets_look_random_and_hash() {
        let a = new_refresh_token();
        let b = new_refresh_token();
        assert_ne!(a, b);
        assert!(a.len() > 40);
        assert_eq!(sha256_hex("abc").len(), 64);
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(new_family_id().len(), 32);
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }

    /// The cost of verifying one access token (run with `--ignored --nocapture`).
    #[test]
    #[ignore]
    fn measure_verify_cost() {
        let cfg = config();
        let now = Utc::now();
        let (token, _) = issue_access(&cfg, now, 7, Some(1), "admin", "fam").unwrap();
        let n = 100_000;
        let start = std::time::Instant::now();
        for _ in 0..n {
            verify_access(&cfg, &token, now).unwrap();
        }
        let per = start.elapsed() / n;
        println!("verify_access: {per:?} per token ({n} runs)");
    }
}
