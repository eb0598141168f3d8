//! Development tasks: `cargo xtask codegen [--check]`.

use anyhow::{Result, bail};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("codegen") => Ok(()),
        _ => bail!("usage: cargo xtask codegen [--check]"),
    }
}
