//! Owns: the TOML configuration. Never: holds secrets (those come from the environment).
