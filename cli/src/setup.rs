//! `temporal-harness setup`: provisions this machine for the harness, the same way for
//! everyone. It runs `scripts/provision.sh` (embedded in the library byte for byte, with the
//! image recipes it builds), so a user with only `cargo install`ed the CLI gets what a checkout of
//! this repository gets: Debian packages, a Docker daemon, the Temporal binaries in the
//! per-user tools folder the harness reads at run time, and the local images.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use temporal_harness::exit_codes;
use temporal_harness::StackConfig;

/// Arguments of `setup`.
#[derive(Debug, clap::Args)]
pub struct SetupArgs {
    /// Only the Debian packages and the tool checks (no Docker daemon, binaries or images).
    #[arg(long)]
    system_only: bool,
}

pub fn run(config: &StackConfig, args: SetupArgs) -> i32 {
    // A private folder (0700, ours): the script is executed from it, so nobody else may
    // write there. Removed when this returns.
    let dir = match tempfile::Builder::new()
        .prefix("temporal-harness-setup-")
        .tempdir()
    {
        Ok(d) => d,
        Err(e) => {
            errln!("error: cannot create a private temporary folder: {e}. Fix: check TMPDIR");
            return exit_codes::CONFIG_ERROR;
        }
    };
    if let Err(e) = unpack(dir.path()) {
        errln!("error: cannot write the provisioning files: {e}. Fix: check TMPDIR");
        return exit_codes::CONFIG_ERROR;
    }
    errln!(
        "temporal-harness: setting up this machine; tools go to {}",
        config.tools_dir.display()
    );
    let mut command = Command::new("bash");
    command
        .arg(dir.path().join("scripts/provision.sh"))
        .env("TEMPORAL_HARNESS_TOOLS_DIR", &config.tools_dir);
    if args.system_only {
        command.arg("--system-only");
    }
    match command.status() {
        Ok(status) if status.success() => exit_codes::SUCCESS,
        Ok(status) => {
            errln!(
                "error: setup failed ({status}); the step, its cause and the fix are printed above"
            );
            exit_codes::CONFIG_ERROR
        }
        Err(e) => {
            errln!("error: cannot run bash: {e}. Fix: install bash");
            exit_codes::CONFIG_ERROR
        }
    }
}

fn unpack(root: &Path) -> std::io::Result<()> {
    for (path, contents) in temporal_harness::__private::provisioning::FILES {
        let file = root.join(path);
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&file, contents)?;
        let mode = if path.ends_with(".sh") { 0o700 } else { 0o600 };
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode))?;
    }
    Ok(())
}
