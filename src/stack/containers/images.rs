//! Which images a boot uses: official or the locally built ones (`images = auto`), and an
//! image the user named used or the boot fails naming it.

use crate::config::{Flavor, ImageRole, ImageSource, StackConfig};
use crate::stack::StackError;
use crate::versions::Versions;
use testcontainers::bollard::Docker;

/// The images one boot uses.
pub(super) struct Plan {
    pub(super) postgres: String,
    pub(super) server: String,
    pub(super) schema: String,
    pub(super) dev: String,
    pub(super) ui: String,
}

pub(super) async fn plan(config: &StackConfig, docker: &Docker) -> Result<Plan, StackError> {
    let official = &config.official_images;
    let v = Versions::pinned();
    let local = Plan {
        postgres: v.local_postgres_image.clone(),
        server: v.local_temporal_server_image.clone(),
        // The local server image carries temporal-sql-tool and a shell for the schema step.
        schema: v.local_temporal_server_image.clone(),
        dev: v.local_temporal_dev_image.clone(),
        ui: v.local_temporal_ui_image.clone(),
    };
    let official = Plan {
        postgres: official.postgres.clone(),
        server: official.server.clone(),
        schema: official.admin_tools.clone(),
        dev: official.dev.clone(),
        ui: official.ui.clone(),
    };
    let needed = |p: &Plan| -> Vec<String> {
        match config.flavor {
            Flavor::Dev => vec![p.dev.clone()],
            Flavor::Postgres if config.ui_enabled() => vec![
                p.postgres.clone(),
                p.server.clone(),
                p.schema.clone(),
                p.ui.clone(),
            ],
            Flavor::Postgres => vec![p.postgres.clone(), p.server.clone(), p.schema.clone()],
        }
    };
    let mut chosen = match config.images {
        ImageSource::Official => official,
        ImageSource::Local => local,
        ImageSource::Auto => {
            let official_present = all_present(docker, &needed(&official)).await;
            if !official_present && all_present(docker, &needed(&local)).await {
                eprintln!(
                    "temporal-harness: using the locally built images (official images absent; \
                     set TEMPORAL_HARNESS_IMAGES=official to pull them)"
                );
                local
            } else {
                official
            }
        }
    };
    // An image the user named is used whatever the source: pulled if absent, or the boot
    // fails naming it. Never swapped for a default.
    let images = &config.official_images;
    for (role, slot) in [
        (ImageRole::Postgres, &mut chosen.postgres),
        (ImageRole::Server, &mut chosen.server),
        (ImageRole::AdminTools, &mut chosen.schema),
        (ImageRole::Dev, &mut chosen.dev),
        (ImageRole::Ui, &mut chosen.ui),
    ] {
        if images.is_named(role) {
            *slot = images.get(role).to_string();
        }
    }
    Ok(chosen)
}

pub(super) async fn all_present(docker: &Docker, images: &[String]) -> bool {
    for image in images {
        if docker.inspect_image(image).await.is_err() {
            return false;
        }
    }
    true
}
