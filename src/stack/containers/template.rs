//! PostgreSQL data with Temporal's schema already applied, kept as a local image: a cold
//! containers stack starts PostgreSQL from it instead of running initdb (1.7-1.9 s) and the
//! schema step (1.1 s). The first boot for a pair of images makes it (a `docker commit` of its
//! PostgreSQL container, paused, right after the schema step: about 0.5 s once).
//!
//! It serves official images too: the data lives outside the official image's declared volume
//! (whose contents a commit would not keep), in a folder both images honour through `PGDATA`.
//! The template carries no password: each stack sets its own through the container's local
//! socket (trusted inside the container, as in the official image) before anyone logs in.
//! Templates are keyed by the image IDs of PostgreSQL and of the schema step, so a new image
//! of either makes a new template; older templates of the same PostgreSQL image are removed.

use super::{split_image, Plan};
use crate::conninfo::PgConnInfo;
use crate::error::{context, BoxError};
use crate::secret::Secret;
use crate::stack::labels::{ROOT_LABEL, STACK_LABEL};
use crate::stack::setup_steps::{schema_script, DB_USER};
use crate::stack::{DockerError, StackError};
use futures::StreamExt;
use std::collections::HashMap;
use testcontainers::bollard::exec::{CreateExecOptions, StartExecResults};
use testcontainers::bollard::models::ContainerConfig;
use testcontainers::bollard::query_parameters::{
    CommitContainerOptions, ListImagesOptions, RemoveImageOptions,
};
use testcontainers::bollard::Docker;

/// The repository of template images (tag: the key).
const REPOSITORY: &str = "temporal-harness/postgres-template";
/// Label of a template image: the PostgreSQL image it was made from.
const TEMPLATE_OF: &str = "io.temporal-harness.template-of";
/// Where a stack's PostgreSQL keeps its data: outside the official image's volume
/// (`/var/lib/postgresql/data`, declared `VOLUME`), so that a commit keeps it.
pub(super) const PGDATA: &str = "/var/lib/postgresql/harness";
/// Bumped when what a template holds changes in a way the image IDs do not show.
const FORMAT: u32 = 1;

/// The template image for one boot's images.
#[derive(Debug, Clone)]
pub(super) struct Template {
    /// `repository:tag`.
    pub(super) image: String,
    /// The PostgreSQL image it is (or will be) made from.
    base: String,
}

impl Template {
    /// The template for `plan`'s PostgreSQL and schema images, whether it exists yet or not;
    /// none when either image is not here yet (official images not pulled: the boot pulls
    /// them, and a later boot makes the template).
    pub(super) async fn for_plan(docker: &Docker, plan: &Plan) -> Option<Template> {
        let postgres = docker.inspect_image(&plan.postgres).await.ok()?.id?;
        let schema = docker.inspect_image(&plan.schema).await.ok()?.id?;
        let identity = format!("{FORMAT}|{postgres}|{schema}|{}", schema_script());
        Some(Template {
            image: format!(
                "{REPOSITORY}:{:016x}",
                crate::stack::fnv1a(identity.as_bytes())
            ),
            base: plan.postgres.clone(),
        })
    }

    /// Whether the image exists.
    pub(super) async fn exists(&self, docker: &Docker) -> bool {
        docker.inspect_image(&self.image).await.is_ok()
    }

    /// The image's name and tag, for a container request.
    pub(super) fn name_and_tag(&self) -> (String, String) {
        split_image(&self.image)
    }

    /// Sets the password of the template's user in `container` (started from the template)
    /// to `password`, through psql on the container's local socket. The password travels in
    /// the exec's environment, never in a command line, and psql quotes it.
    pub(super) async fn set_password(
        &self,
        docker: &Docker,
        container: &str,
        password: &Secret,
    ) -> Result<(), StackError> {
        let failed = |why: String| self.unusable(why);
        let script = format!(
            "echo \"ALTER ROLE {DB_USER} PASSWORD :'pw'\" | \
             psql -X -q -v ON_ERROR_STOP=1 -v pw=\"$TH_PASSWORD\" -U {DB_USER} -d postgres"
        );
        let exec = docker
            .create_exec(
                container,
                CreateExecOptions {
                    cmd: Some(vec!["sh".to_string(), "-c".to_string(), script]),
                    env: Some(vec![format!("TH_PASSWORD={}", password.expose())]),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| failed(format!("docker exec: {e}")))?;
        let mut said = String::new();
        if let StartExecResults::Attached { mut output, .. } = docker
            .start_exec(&exec.id, None)
            .await
            .map_err(|e| failed(format!("docker exec: {e}")))?
        {
            while let Some(Ok(chunk)) = output.next().await {
                said.push_str(&chunk.to_string());
            }
        }
        let code = docker
            .inspect_exec(&exec.id)
            .await
            .map_err(|e| failed(format!("docker exec: {e}")))?
            .exit_code;
        match code {
            Some(0) => Ok(()),
            code => Err(failed(format!(
                "setting the stack's password exited with {code:?}: {}",
                crate::secret::scrub(said.trim(), password)
            ))),
        }
    }

    /// Makes this template from the stack's PostgreSQL `container`, whose schema step just
    /// finished and which nothing else uses yet. Then removes older templates of the same
    /// PostgreSQL image (those a running stack still uses stay).
    pub(super) async fn save(
        &self,
        docker: &Docker,
        container: &str,
        admin: &PgConnInfo,
    ) -> Result<(), BoxError> {
        let mut conn =
            crate::stack::postgres::connect_once(admin, std::time::Duration::from_secs(10)).await?;
        let data: String = sqlx::query_scalar("SHOW data_directory")
            .fetch_one(&mut conn)
            .await?;
        if data != PGDATA {
            return Err(format!(
                "{} keeps its data in {data}, not in PGDATA ({PGDATA}), where a commit keeps it",
                self.base
            )
            .into());
        }
        // Everything on disk before the snapshot: a start from it has nothing to recover.
        sqlx::query("CHECKPOINT").execute(&mut conn).await?;
        drop(conn);
        let (repo, tag) = self.name_and_tag();
        // The container's labels and environment would be merged into the image: the stack
        // labels are blanked (each container sets its own) and so is the password.
        let labels = HashMap::from([
            (STACK_LABEL.to_string(), String::new()),
            (ROOT_LABEL.to_string(), String::new()),
            (TEMPLATE_OF.to_string(), self.base.clone()),
        ]);
        docker
            .commit_container(
                CommitContainerOptions {
                    container: Some(container.to_string()),
                    repo: Some(repo),
                    tag: Some(tag),
                    comment: Some("temporal-harness: PostgreSQL with Temporal's schema".into()),
                    pause: true,
                    ..Default::default()
                },
                ContainerConfig {
                    env: Some(vec!["POSTGRES_PASSWORD=".to_string()]),
                    labels: Some(labels),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| context("docker commit", e))?;
        self.remove_older(docker).await;
        Ok(())
    }

    /// Removes the other templates of this template's PostgreSQL image, untagged ones too (two
    /// first boots racing both commit; the later takes the tag). One still in use by a
    /// container is refused by Docker and goes at a later boot.
    async fn remove_older(&self, docker: &Docker) {
        let Some(current) = docker
            .inspect_image(&self.image)
            .await
            .ok()
            .and_then(|i| i.id)
        else {
            return;
        };
        let filters = HashMap::from([(
            "label".to_string(),
            vec![format!("{TEMPLATE_OF}={}", self.base)],
        )]);
        let images = docker
            .list_images(Some(ListImagesOptions {
                filters: Some(filters),
                ..Default::default()
            }))
            .await
            .unwrap_or_default();
        for image in images.iter().filter(|i| i.id != current) {
            let _ = docker
                .remove_image(&image.id, None::<RemoveImageOptions>, None)
                .await;
        }
    }

    /// The error of a boot from this template, with the fix.
    pub(super) fn unusable(&self, why: String) -> StackError {
        StackError::Docker(DockerError::TemplateUnusable {
            image: self.image.clone(),
            source: why.into(),
        })
    }
}
