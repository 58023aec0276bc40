//! The one library behind every Dashboard SaaS Industrial binary.
//!
//! A binary builds a [`router::Router`] from the routes of its group and hands
//! it to [`hosts::run`], which detects whether it runs on AWS Lambda, under
//! mod_fcgid (FastCGI) or as a CGI program. Everything else — configuration,
//! databases, auth, the engines, rendering — lives in the modules below.

pub mod app;
pub mod auth;
pub mod config;
pub mod extract;
pub mod health;
pub mod hosts;
pub mod http;
pub mod params;
pub mod router;
pub mod state;
pub mod telemetry;
