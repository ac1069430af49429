//! `temporal-harness`: boot a Temporal + PostgreSQL stack for development (`up`/`down`).

mod cli;

fn main() {
    std::process::exit(cli::run());
}
