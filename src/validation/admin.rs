//! The server's AdminService, for the checks of cluster membership and shard ownership.
//!
//! The SDK's protos do not carry the AdminService (it is in the server's internal protos,
//! `proto/internal/temporal/server/api/adminservice/v1/`), so the few messages used are
//! declared here with prost, field numbers as in server 1.32 (stable since 1.17; unknown
//! fields are skipped by prost). The frontend serves the AdminService on its gRPC port, so
//! the same address, TLS and API key reach it.

use crate::error::BoxError;
use crate::stack::{StackError, TemporalTarget};
use std::time::Duration;
use temporalio_client::tonic::{
    self,
    codegen::http::uri::PathAndQuery,
    metadata::MetadataValue,
    transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity},
    Request,
};
use tonic_prost::ProstCodec;

/// `adminservice.v1.DescribeClusterRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct DescribeClusterRequest {
    /// Empty: the cluster answering.
    #[prost(string, tag = "1")]
    pub cluster_name: String,
}

/// `adminservice.v1.DescribeClusterResponse` (the fields validation reads).
#[derive(Clone, PartialEq, prost::Message)]
pub struct DescribeClusterResponse {
    /// The server's version.
    #[prost(string, tag = "2")]
    pub server_version: String,
    /// Who is in the membership rings.
    #[prost(message, optional, tag = "3")]
    pub membership_info: Option<MembershipInfo>,
    /// The cluster's name.
    #[prost(string, tag = "5")]
    pub cluster_name: String,
    /// The configured number of history shards.
    #[prost(int32, tag = "6")]
    pub history_shard_count: i32,
}

/// `cluster.v1.MembershipInfo`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct MembershipInfo {
    /// One ring per service role.
    #[prost(message, repeated, tag = "3")]
    pub rings: Vec<RingInfo>,
}

/// `cluster.v1.RingInfo`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RingInfo {
    /// `frontend`, `history`, `matching`, `worker` (and `internal-frontend` where run).
    #[prost(string, tag = "1")]
    pub role: String,
    /// How many hosts are in the ring.
    #[prost(int32, tag = "2")]
    pub member_count: i32,
    /// The hosts.
    #[prost(message, repeated, tag = "3")]
    pub members: Vec<HostInfo>,
}

/// `cluster.v1.HostInfo`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HostInfo {
    /// The host's membership identity (`ip:port`).
    #[prost(string, tag = "1")]
    pub identity: String,
}

/// `adminservice.v1.DescribeHistoryHostRequest` (by host address).
#[derive(Clone, PartialEq, prost::Message)]
pub struct DescribeHistoryHostRequest {
    /// A history host's `ip:port`.
    #[prost(string, tag = "1")]
    pub host_address: String,
}

/// `adminservice.v1.DescribeHistoryHostResponse` (the fields validation reads).
#[derive(Clone, PartialEq, prost::Message)]
pub struct DescribeHistoryHostResponse {
    /// How many shards the host owns.
    #[prost(int32, tag = "1")]
    pub shards_number: i32,
    /// Which.
    #[prost(int32, repeated, tag = "2")]
    pub shard_ids: Vec<i32>,
    /// The host's address.
    #[prost(string, tag = "5")]
    pub address: String,
}

const SERVICE: &str = "/temporal.server.api.adminservice.v1.AdminService/";

/// A client of the frontend's AdminService.
/// Why an AdminService client could not be made for a target.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AdminError {
    /// The target's address or TLS files cannot be used (the error names which and why).
    #[error(transparent)]
    Target(#[from] StackError),
    /// The transport refused the frontend's address or TLS settings.
    #[error(
        "cannot reach the AdminService at {address}: {source}. Fix: check the frontend address \
         and its TLS settings"
    )]
    Endpoint {
        /// The frontend's address.
        address: String,
        /// What the transport said.
        #[source]
        source: BoxError,
    },
    /// The API key cannot travel in a header.
    #[error(
        "the API key has characters a header cannot carry. Fix: use the key exactly as issued \
         (printable ASCII, no line breaks)"
    )]
    ApiKey,
}

#[derive(Clone)]
pub struct AdminClient {
    channel: Channel,
    api_key: Option<MetadataValue<tonic::metadata::Ascii>>,
}

impl AdminClient {
    /// A lazily connected client of `target` (its TLS files read now, so a bad one fails here).
    pub fn new(target: &TemporalTarget, timeout: Duration) -> Result<AdminClient, AdminError> {
        let url = target.url()?;
        let endpoint_error = |source: BoxError| AdminError::Endpoint {
            address: target.address.clone(),
            source,
        };
        let mut endpoint = Endpoint::from_shared(url.to_string())
            .map_err(|e| endpoint_error(e.into()))?
            .connect_timeout(timeout)
            .timeout(timeout);
        if let Some(pems) = target.tls_pems()? {
            let mut tls = ClientTlsConfig::new().with_native_roots();
            if let Some(ca) = pems.ca {
                tls = tls.ca_certificate(Certificate::from_pem(ca));
            }
            if let Some(name) = pems.server_name {
                tls = tls.domain_name(name);
            }
            if let Some((cert, key)) = pems.client {
                tls = tls.identity(Identity::from_pem(cert, key));
            }
            endpoint = endpoint
                .tls_config(tls)
                .map_err(|e| endpoint_error(e.into()))?;
        }
        let api_key = match &target.api_key {
            Some(key) => Some(
                format!("Bearer {}", key.expose())
                    .parse()
                    .map_err(|_| AdminError::ApiKey)?,
            ),
            None => None,
        };
        Ok(AdminClient {
            channel: endpoint.connect_lazy(),
            api_key,
        })
    }

    async fn call<Q, R>(&self, method: &'static str, request: Q) -> Result<R, tonic::Status>
    where
        Q: prost::Message + Send + Sync + 'static,
        R: prost::Message + Default + Send + Sync + 'static,
    {
        let mut grpc = tonic::client::Grpc::new(self.channel.clone());
        grpc.ready()
            .await
            .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
        let mut request = Request::new(request);
        if let Some(key) = &self.api_key {
            request.metadata_mut().insert("authorization", key.clone());
        }
        let path = PathAndQuery::from_maybe_shared(format!("{SERVICE}{method}"))
            .expect("a valid gRPC path");
        let response = grpc
            .unary(request, path, ProstCodec::<Q, R>::default())
            .await?;
        Ok(response.into_inner())
    }

    /// `DescribeCluster`: version, membership rings, shard count.
    pub async fn describe_cluster(&self) -> Result<DescribeClusterResponse, tonic::Status> {
        self.call("DescribeCluster", DescribeClusterRequest::default())
            .await
    }

    /// `DescribeHistoryHost` of the history host at `address`: the shards it owns.
    pub async fn describe_history_host(
        &self,
        address: &str,
    ) -> Result<DescribeHistoryHostResponse, tonic::Status> {
        self.call(
            "DescribeHistoryHost",
            DescribeHistoryHostRequest {
                host_address: address.into(),
            },
        )
        .await
    }
}
