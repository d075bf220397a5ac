//! `avatar`: a command-line client for Picsart's AI Avatar API, with a built-in
//! sandbox of that API. The binary (`main.rs`) is a thin shell over this crate.

pub mod api;
pub mod cli;
pub mod commands;
pub mod credentials;
pub mod download;
pub mod durable;
pub mod exit;
pub mod manifest;
pub mod photos;
pub mod poll;
pub mod printer;
pub mod progress;
pub mod sandbox;
pub mod settings;
pub mod state;
