//! The provisioning script and the files it reads, embedded byte for byte: what
//! `temporal-harness setup` unpacks and runs. They live in this package (the CLI's package
//! holds no file outside its folder, so it takes them from here) because the library reads
//! two of them itself (`fixtures/versions.env`, the server's dynamic config). Plumbing for
//! the CLI, not API.

/// The provisioning script and every file it reads, by their paths in the repository.
pub const FILES: &[(&str, &str)] = &[
    (
        "scripts/provision.sh",
        include_str!("../scripts/provision.sh"),
    ),
    (
        "fixtures/versions.env",
        include_str!("../fixtures/versions.env"),
    ),
    (
        "fixtures/images/postgres/Dockerfile",
        include_str!("../fixtures/images/postgres/Dockerfile"),
    ),
    (
        "fixtures/images/postgres/docker-entrypoint.sh",
        include_str!("../fixtures/images/postgres/docker-entrypoint.sh"),
    ),
    (
        "fixtures/images/temporal-dev/Dockerfile",
        include_str!("../fixtures/images/temporal-dev/Dockerfile"),
    ),
    (
        "fixtures/images/temporal-server/Dockerfile",
        include_str!("../fixtures/images/temporal-server/Dockerfile"),
    ),
    (
        "fixtures/images/temporal-server/dynamicconfig.yaml",
        include_str!("../fixtures/images/temporal-server/dynamicconfig.yaml"),
    ),
    (
        "fixtures/images/temporal-server/entrypoint.sh",
        include_str!("../fixtures/images/temporal-server/entrypoint.sh"),
    ),
    (
        "fixtures/images/temporal-ui/Dockerfile",
        include_str!("../fixtures/images/temporal-ui/Dockerfile"),
    ),
    (
        "fixtures/ui-server/go.mod",
        include_str!("../fixtures/ui-server/go.mod"),
    ),
    (
        "fixtures/ui-server/go.sum",
        include_str!("../fixtures/ui-server/go.sum"),
    ),
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn every_file_the_image_recipes_have_is_embedded() {
        // A new file in fixtures/images/ or a Go module folder that setup does not carry
        // would make its build fail for users only.
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
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
