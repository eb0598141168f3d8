//! Opening a session: the TCP connection (or a stream through the jump
//! hosts, [`super::hops`]), the handshake, then the host key check
//! ([`super::host_key`]) and the login ([`super::auth`]).

use std::io;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use ssh2::{MethodType, Session};

use super::hops::{Chain, HopReport};
use super::sock::Sock;
use super::{Conn, auth, host_key};
use crate::known_hosts;
use crate::{SshConfig, SshError};

/// Milliseconds for libssh2's timeouts.
fn millis(d: Duration) -> u32 {
    u32::try_from(d.as_millis()).unwrap_or(u32::MAX).max(1)
}

/// A TCP connection to `config`'s host and port.
pub(super) fn tcp(config: &SshConfig) -> Result<Sock, SshError> {
    let connect_error = |source: io::Error| SshError::Connect {
        host: config.host.clone(),
        port: config.port,
        source,
    };
    let addrs: Vec<SocketAddr> = (config.host.as_str(), config.port)
        .to_socket_addrs()
        .map_err(connect_error)?
        .collect();
    let mut last = io::Error::new(io::ErrorKind::NotFound, "the host name has no address");
    for addr in &addrs {
        match TcpStream::connect_timeout(addr, config.connect_timeout) {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                return Ok(Sock::Tcp(s));
            }
            Err(e) => last = e,
        }
    }
    Err(connect_error(last))
}

/// A session on `stream`: handshake, host key check, login; blocking,
/// with the connection timeout.
pub(super) fn open_session(config: &SshConfig, stream: Sock) -> Result<Session, SshError> {
    config.validate()?;
    let user = config.user_name()?;
    let target = config.target();
    let session_error = |what: &str, cause: ssh2::Error| SshError::Session {
        target: target.clone(),
        what: what.to_owned(),
        source: Some(Box::new(cause.into())),
    };
    let mut session = Session::new().map_err(|e| session_error("cannot start libssh2", e))?;
    session.set_tcp_stream(stream);
    session.set_blocking(true);
    session.set_timeout(millis(config.connect_timeout));

    let known_hosts_path = config.known_hosts_path();
    let known_text = host_key::read_known_hosts(&known_hosts_path)?;
    let name = known_hosts::host_name(&config.host, config.port);
    if let Ok(supported) = session.supported_algs(MethodType::HostKey) {
        let known = known_hosts::known_types(&known_text, &name);
        if let Some(pref) = known_hosts::hostkey_preference(&known, &supported) {
            let _ = session.method_pref(MethodType::HostKey, &pref);
        }
    }
    session
        .handshake()
        .map_err(|e| session_error("SSH handshake failed", e))?;
    host_key::check(&session, config, &known_hosts_path, &known_text, &name)?;
    auth::authenticate(&session, config, &user, &target)?;
    Ok(session)
}

/// Opens a session: TCP (through the jump hosts of `chain`), handshake,
/// host key check, login.
pub(crate) fn connect(
    config: &SshConfig,
    chain: &Chain,
    generation: u64,
    mut report: Option<&mut Vec<HopReport>>,
) -> Result<Conn, SshError> {
    config.validate()?;
    let stream = if chain.is_empty() {
        tcp(config)?
    } else {
        chain.forward_to(&config.host, config.port, report.as_deref_mut())?
    };
    let socket = Arc::new(stream.try_clone().map_err(SshError::Io)?);
    let session = match open_session(config, stream) {
        Ok(session) => session,
        Err(e) => {
            if let Some(r) = report {
                r.push(HopReport {
                    name: config.name(),
                    outcome: Err(core_types::text::error_chain(&e)),
                });
            }
            return Err(e);
        }
    };
    if let Some(r) = report {
        r.push(HopReport {
            name: config.name(),
            outcome: Ok(format!(
                "connected to {}:{}{}, host key known, logged in",
                config.host,
                config.port,
                if chain.is_empty() {
                    ""
                } else {
                    " through the jump hosts"
                }
            )),
        });
    }
    session.set_blocking(false);
    session.set_timeout(millis(config.timeout));
    Ok(Conn {
        session,
        socket,
        sftp: None,
        generation,
    })
}
