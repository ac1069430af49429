//! `temporal-harness setup`: provisions this machine for the harness, the same way for
//! everyone. It runs `scripts/provision.sh` (embedded here byte for byte, with the image
//! recipes it builds), so a user with only `cargo install`ed the CLI gets what a checkout of
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

/// The provisioning script and every file it reads, by their paths in the repository.
const FILES: &[(&str, &str)] = &[
    (
        "scripts/provision.sh",
        include_str!("../../scripts/provision.sh"),
    ),
    (
        "fixtures/versions.env",
        include_str!("../../fixtures/versions.env"),
    ),
    (
        "fixtures/images/postgres/Dockerfile",
        include_str!("../../fixtures/images/postgres/Dockerfile"),
    ),
    (
        "fixtures/images/postgres/docker-entrypoint.sh",
        include_str!("../../fixtures/images/postgres/docker-entrypoint.sh"),
    ),
    (
        "fixtures/images/temporal-dev/Dockerfile",
        include_str!("../../fixtures/images/temporal-dev/Dockerfile"),
    ),
    (
        "fixtures/images/temporal-server/Dockerfile",
        include_str!("../../fixtures/images/temporal-server/Dockerfile"),
    ),
    (
        "fixtures/images/temporal-server/dynamicconfig.yaml",
        include_str!("../../fixtures/images/temporal-server/dynamicconfig.yaml"),
    ),
    (
        "fixtures/images/temporal-server/entrypoint.sh",
        include_str!("../../fixtures/images/temporal-server/entrypoint.sh"),
    ),
    (
        "fixtures/images/temporal-ui/Dockerfile",
        include_str!("../../fixtures/images/temporal-ui/Dockerfile"),
    ),
    (
        "fixtures/ui-server/go.mod",
        include_str!("../../fixtures/ui-server/go.mod"),
    ),
    (
        "fixtures/ui-server/go.sum",
        include_str!("../../fixtures/ui-server/go.sum"),
    ),
];

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
    for (path, contents) in FILES {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_the_image_recipes_have_is_embedded() {
        // A new file in fixtures/images/ or a Go module folder that setup does not carry
        // would make its build fail for users only.
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let mut on_disk = Vec::new();
        let folders = std::fs::read_dir(root.join("fixtures/images"))
            .unwrap()
            .chain(std::fs::read_dir(root.join("fixtures")).unwrap())
            .map(|e| e.unwrap().path())
            .filter(|p| p.join("go.mod").is_file() || p.parent().unwrap().ends_with("images"));
        for recipe in folders {
            for file in std::fs::read_dir(recipe).unwrap() {
                let path = file.unwrap().path();
                on_disk.push(path.strip_prefix(root).unwrap().display().to_string());
            }
        }
        for path in on_disk {
            assert!(
                FILES.iter().any(|(p, _)| *p == path),
                "{path} is not embedded"
            );
        }
    }
}
