//! Free local ports for the local backend (containers get theirs from Docker).

use super::{BootError, StackError};
use std::net::{Ipv4Addr, TcpListener};

/// `n` distinct ports that were free a moment ago. The kernel hands out ephemeral ports in
/// rotation, so the window in which another process takes one is small; a service that
/// loses the race fails to bind, and the boot reports [`BootError::PortInUse`].
pub(crate) fn free_ports(n: usize) -> Result<Vec<u16>, StackError> {
    // Hold all listeners until every port is chosen, so the n ports are distinct.
    let listeners = (0..n)
        .map(|_| TcpListener::bind((Ipv4Addr::LOCALHOST, 0)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| no_free_ports(n, e))?;
    listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect::<Result<_, _>>()
        .map_err(|e| no_free_ports(n, e))
}

/// `n` distinct free ports below 32768. Temporal stores membership ports in a PostgreSQL
/// `smallint`, and the kernel's ephemeral ports start at 32768, so these are probed from a
/// random point of 10000..32768 instead.
pub(crate) fn free_low_ports(n: usize) -> Result<Vec<u16>, StackError> {
    const LOW: u16 = 10_000;
    const HIGH: u16 = 32_768;
    let span = u32::from(HIGH - LOW);
    let start = (uuid::Uuid::new_v4().as_u128() % u128::from(span)) as u32;
    let mut listeners = Vec::with_capacity(n);
    for offset in 0..span {
        let port = LOW + ((start + offset) % span) as u16;
        if let Ok(l) = TcpListener::bind((Ipv4Addr::LOCALHOST, port)) {
            listeners.push(l);
            if listeners.len() == n {
                return Ok(listeners
                    .iter()
                    .filter_map(|l| l.local_addr().ok().map(|a| a.port()))
                    .collect());
            }
        }
    }
    Err(no_free_ports(
        n,
        format!("fewer than {n} are free in {LOW}..{HIGH}"),
    ))
}

/// Fails with [`BootError::PortInUse`] when something already listens on `port`.
pub(crate) fn ensure_free(port: u16, service: &str) -> Result<(), StackError> {
    match TcpListener::bind((Ipv4Addr::LOCALHOST, port)) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            Err(StackError::Boot(BootError::PortInUse {
                port,
                service: service.into(),
            }))
        }
        Err(e) => Err(no_free_ports(
            1,
            crate::error::context(format!("port {port}"), e),
        )),
    }
}

fn no_free_ports(wanted: usize, source: impl Into<crate::error::BoxError>) -> StackError {
    BootError::NoFreePorts {
        wanted,
        source: source.into(),
    }
    .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_distinct_and_a_taken_port_is_reported() {
        let ports = free_ports(5).unwrap();
        let mut sorted = ports.clone();
        sorted.dedup();
        assert_eq!(sorted.len(), 5);
        let taken = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = taken.local_addr().unwrap().port();
        let err = ensure_free(port, "PostgreSQL").unwrap_err();
        assert!(
            err.to_string()
                .contains(&format!("port {port} is already in use")),
            "{err}"
        );
    }

    #[test]
    fn low_ports_fit_a_smallint() {
        let ports = free_low_ports(9).unwrap();
        assert_eq!(ports.len(), 9);
        assert!(
            ports.iter().all(|p| (10_000..32_768).contains(p)),
            "{ports:?}"
        );
    }
}
