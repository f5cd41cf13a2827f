//! Signing through `ssh-agent` (`SSH_AUTH_SOCK`): the key stays in the agent — a hardware
//! token, or an agent forwarded from an operator's machine — and never touches the disk.
//!
//! The two requests mediasan needs of the agent protocol (draft-miller-ssh-agent): the list of
//! identities, and a signature over some bytes. Written here rather than taken from a crate:
//! the maintained Rust agent crates are asynchronous (tokio) servers and clients, and these two
//! blocking request/answer pairs are some sixty lines.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;

use ssh_encoding::{Decode, Encode};
use ssh_key::public::KeyData;

use crate::error::{Error, Result};

const FAILURE: u8 = 5;
const REQUEST_IDENTITIES: u8 = 11;
const IDENTITIES_ANSWER: u8 = 12;
const SIGN_REQUEST: u8 = 13;
const SIGN_RESPONSE: u8 = 14;
/// The longest answer read from an agent.
const MAX_ANSWER: u32 = 256 * 1024;

fn failed(socket: &Path, what: String) -> Error {
    Error::Usage(format!("ssh-agent at {}: {what}", socket.display()))
}

/// One request and its answer: (type, payload).
fn ask(socket: &Path, kind: u8, payload: &[u8]) -> Result<(u8, Vec<u8>)> {
    let io = |e: std::io::Error| failed(socket, e.to_string());
    let mut s = UnixStream::connect(socket).map_err(io)?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(60)))
        .map_err(io)?;
    let len =
        u32::try_from(payload.len() + 1).map_err(|_| failed(socket, "request too long".into()))?;
    let mut msg = len.to_be_bytes().to_vec();
    msg.push(kind);
    msg.extend_from_slice(payload);
    s.write_all(&msg).map_err(io)?;
    let mut len = [0u8; 4];
    s.read_exact(&mut len).map_err(io)?;
    let len = u32::from_be_bytes(len);
    if len == 0 || len > MAX_ANSWER {
        return Err(failed(socket, format!("an answer of {len} bytes")));
    }
    let mut body = vec![0u8; len as usize];
    s.read_exact(&mut body).map_err(io)?;
    Ok((body[0], body[1..].to_vec()))
}

/// The public keys the agent holds.
///
/// # Errors
/// [`Error::Usage`] when the agent cannot be reached or answers something else.
pub fn identities(socket: &Path) -> Result<Vec<KeyData>> {
    let (kind, body) = ask(socket, REQUEST_IDENTITIES, &[])?;
    if kind != IDENTITIES_ANSWER {
        return Err(failed(socket, format!("answered {kind} to a list of keys")));
    }
    let bad = |e: ssh_encoding::Error| failed(socket, format!("its list of keys: {e}"));
    let mut r = &body[..];
    let n = u32::decode(&mut r).map_err(bad)?;
    let mut keys = Vec::new();
    for _ in 0..n {
        let blob = Vec::<u8>::decode(&mut r).map_err(bad)?;
        let _comment = String::decode(&mut r).map_err(bad)?;
        // Keys of a type mediasan does not read (or certificates) are passed over.
        if let Ok(k) = KeyData::decode(&mut &blob[..]) {
            keys.push(k);
        }
    }
    Ok(keys)
}

/// The agent's signature of `data` with `key`.
///
/// # Errors
/// [`Error::Usage`] when the agent refuses (it does not hold the key, a token wants a touch
/// that did not come) or cannot be reached.
pub fn sign(socket: &Path, key: &KeyData, data: &[u8]) -> Result<ssh_key::Signature> {
    let enc = |e: ssh_encoding::Error| failed(socket, format!("cannot encode the request: {e}"));
    let mut payload = Vec::new();
    key.encode_prefixed(&mut payload).map_err(enc)?;
    data.encode(&mut payload).map_err(enc)?;
    0u32.encode(&mut payload).map_err(enc)?;
    let (kind, body) = ask(socket, SIGN_REQUEST, &payload)?;
    match kind {
        SIGN_RESPONSE => {
            let mut r = &body[..];
            let sig = Vec::<u8>::decode(&mut r)
                .map_err(|e| failed(socket, format!("its signature: {e}")))?;
            ssh_key::Signature::decode(&mut &sig[..])
                .map_err(|e| failed(socket, format!("its signature: {e}")))
        }
        FAILURE => Err(failed(
            socket,
            "refused to sign (does it hold the key? ssh-add -l lists what it holds)".into(),
        )),
        other => Err(failed(
            socket,
            format!("answered {other} to a signing request"),
        )),
    }
}
