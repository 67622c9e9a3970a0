//! The isolated-mode protocol: how `accord-server` and an `accord-policy-runner` process talk
//! over the runner's standard input and output (docs/plugin-abi.md, "Isolated mode").
//!
//! Guarantee: every message is one frame — a 4-byte little-endian length, then that many bytes —
//! and a frame longer than [`MAX_FRAME`] is a protocol error, never an allocation. The bodies:
//! - server → runner, a call: `u64` call id (little-endian, from 1), `u64` electorate id (0: the
//!   request carries its members), then the encoded `accord.v1.DecisionRequest` (without
//!   members when it names an electorate);
//! - server → runner, an electorate (ABI 1.1, see `accord_policy_sdk::electorate`): call id
//!   [`HELLO_ID`], the electorate's id, then its encoded `members` entries. No reply: the runner
//!   keeps the last [`KEPT_ELECTORATES`] and answers a call naming one it does not hold with
//!   status 5 (UNKNOWN_ELECTORATE), after which the server sends it again;
//! - runner → server: `u64` call id, `i32` status (the ABI's codes: 0 OK, 1–4 errors), then the
//!   encoded `accord.v1.DecisionResponse` (status 0) or a UTF-8 message.
//!
//! The runner's first frame is its hello, with call id [`HELLO_ID`]: status 0, then the protocol
//! version (`u32`) and the encoded `accord.v1.PolicyDescriptor` once the library has loaded and
//! passed its self-test; or status [`HELLO_REFUSED`] and the loader's message, after which the
//! runner exits. Replies may come in any order: calls are pipelined by id.
#![forbid(unsafe_code)]

use std::io::{self, Read, Write};

/// The version of this protocol; a server refuses a runner that says another.
pub const PROTOCOL_VERSION: u32 = 2;
/// How many electorates a runner keeps.
pub const KEPT_ELECTORATES: usize = 8;
/// The call id of the runner's hello frame; calls are numbered from 1.
pub const HELLO_ID: u64 = 0;
/// The hello's status when the library was refused (the payload says why).
pub const HELLO_REFUSED: i32 = -1;
/// The largest frame either side accepts (64 MiB).
pub const MAX_FRAME: usize = 64 << 20;
/// The length of a call id and a status: the head of every reply body.
pub const REPLY_HEAD: usize = 12;

/// A frame that breaks the protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameError(pub String);

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "policy runner protocol error: {}", self.0)
    }
}

impl std::error::Error for FrameError {}

/// One reply (or the hello) from a runner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The call it answers ([`HELLO_ID`] for the hello).
    pub id: u64,
    /// The ABI status code (or [`HELLO_REFUSED`]).
    pub status: i32,
    /// The answer's bytes or a UTF-8 message.
    pub payload: Vec<u8>,
}

fn frame(parts: &[&[u8]]) -> Vec<u8> {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let mut out = Vec::with_capacity(4 + len);
    out.extend_from_slice(&(len as u32).to_le_bytes());
    for part in parts {
        out.extend_from_slice(part);
    }
    out
}

/// A whole call frame (length prefix included); `electorate` 0 when the request has its
/// members.
pub fn request_frame(id: u64, electorate: u64, request: &[u8]) -> Vec<u8> {
    frame(&[&id.to_le_bytes(), &electorate.to_le_bytes(), request])
}

/// A whole electorate frame: the electorate's id and its encoded `members` entries.
pub fn electorate_frame(electorate: u64, members_field: &[u8]) -> Vec<u8> {
    frame(&[
        &HELLO_ID.to_le_bytes(),
        &electorate.to_le_bytes(),
        members_field,
    ])
}

/// A whole reply frame (length prefix included).
pub fn reply_frame(id: u64, status: i32, payload: &[u8]) -> Vec<u8> {
    frame(&[&id.to_le_bytes(), &status.to_le_bytes(), payload])
}

/// The hello frame of a runner whose library loaded: the protocol version and the descriptor.
pub fn hello_frame(descriptor: &[u8]) -> Vec<u8> {
    frame(&[
        &HELLO_ID.to_le_bytes(),
        &0i32.to_le_bytes(),
        &PROTOCOL_VERSION.to_le_bytes(),
        descriptor,
    ])
}

/// The length a frame header announces, checked against [`MAX_FRAME`].
pub fn frame_len(header: [u8; 4]) -> Result<usize, FrameError> {
    let len = u32::from_le_bytes(header) as usize;
    if len > MAX_FRAME {
        return Err(FrameError(format!(
            "a frame of {len} bytes is over the {MAX_FRAME}-byte limit"
        )));
    }
    Ok(len)
}

/// What the server sent: a call or an electorate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Incoming<'a> {
    /// A call: its id, the electorate it names (0: none) and the request bytes.
    Call {
        /// The call id (from 1).
        id: u64,
        /// The electorate the request names, 0 when it carries its members.
        electorate: u64,
        /// The encoded request.
        request: &'a [u8],
    },
    /// An electorate to keep: its id and encoded `members` entries.
    Electorate {
        /// The electorate's id (never 0).
        id: u64,
        /// The encoded `members` entries.
        members_field: &'a [u8],
    },
}

/// Splits a body from the server into a call or an electorate.
pub fn parse_request(body: &[u8]) -> Result<Incoming<'_>, FrameError> {
    if body.len() < 16 {
        return Err(FrameError(format!(
            "a request body of {} bytes has no call id and electorate id",
            body.len()
        )));
    }
    let id = u64::from_le_bytes(body[..8].try_into().expect("8 bytes"));
    let electorate = u64::from_le_bytes(body[8..16].try_into().expect("8 bytes"));
    let rest = &body[16..];
    if id == HELLO_ID {
        if electorate == 0 {
            return Err(FrameError(
                "an electorate frame with electorate id 0".into(),
            ));
        }
        return Ok(Incoming::Electorate {
            id: electorate,
            members_field: rest,
        });
    }
    Ok(Incoming::Call {
        id,
        electorate,
        request: rest,
    })
}

/// Splits a reply body into call id, status and payload.
pub fn parse_reply(mut body: Vec<u8>) -> Result<Reply, FrameError> {
    if body.len() < REPLY_HEAD {
        return Err(FrameError(format!(
            "a reply body of {} bytes has no call id and status",
            body.len()
        )));
    }
    let id = u64::from_le_bytes(body[..8].try_into().expect("8 bytes"));
    let status = i32::from_le_bytes(body[8..12].try_into().expect("4 bytes"));
    body.drain(..REPLY_HEAD);
    Ok(Reply {
        id,
        status,
        payload: body,
    })
}

/// Splits a successful hello's payload into the protocol version and the descriptor bytes.
pub fn parse_hello(payload: &[u8]) -> Result<(u32, &[u8]), FrameError> {
    if payload.len() < 4 {
        return Err(FrameError("the hello has no protocol version".into()));
    }
    let (version, descriptor) = payload.split_at(4);
    Ok((
        u32::from_le_bytes(version.try_into().expect("4 bytes")),
        descriptor,
    ))
}

/// Reads one frame body; `None` at a clean end of input (before a header).
pub fn read_frame(input: &mut impl Read) -> io::Result<Option<Vec<u8>>> {
    let mut header = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        match input.read(&mut header[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let len = frame_len(header).map_err(io::Error::other)?;
    let mut body = vec![0u8; len];
    input.read_exact(&mut body)?;
    Ok(Some(body))
}

/// Writes a whole frame and flushes.
pub fn write_frame(output: &mut impl Write, frame: &[u8]) -> io::Result<()> {
    output.write_all(frame)?;
    output.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let request = request_frame(7, 3, b"abc");
        let mut input = &request[..];
        let body = read_frame(&mut input).unwrap().unwrap();
        assert_eq!(
            parse_request(&body).unwrap(),
            Incoming::Call {
                id: 7,
                electorate: 3,
                request: &b"abc"[..]
            }
        );
        assert_eq!(read_frame(&mut input).unwrap(), None, "clean end");

        let electorate = electorate_frame(3, b"members");
        let body = read_frame(&mut &electorate[..]).unwrap().unwrap();
        assert_eq!(
            parse_request(&body).unwrap(),
            Incoming::Electorate {
                id: 3,
                members_field: &b"members"[..]
            }
        );
        let zero = electorate_frame(0, b"members");
        let body = read_frame(&mut &zero[..]).unwrap().unwrap();
        assert!(parse_request(&body).is_err());

        let reply = reply_frame(9, 2, b"bad parameter");
        let body = read_frame(&mut &reply[..]).unwrap().unwrap();
        assert_eq!(
            parse_reply(body).unwrap(),
            Reply {
                id: 9,
                status: 2,
                payload: b"bad parameter".to_vec()
            }
        );

        let hello = hello_frame(b"descriptor");
        let body = read_frame(&mut &hello[..]).unwrap().unwrap();
        let reply = parse_reply(body).unwrap();
        assert_eq!((reply.id, reply.status), (HELLO_ID, 0));
        assert_eq!(
            parse_hello(&reply.payload).unwrap(),
            (PROTOCOL_VERSION, &b"descriptor"[..])
        );
    }

    #[test]
    fn oversized_and_truncated_frames_are_errors() {
        assert!(frame_len(((MAX_FRAME + 1) as u32).to_le_bytes()).is_err());
        let mut truncated = &[5u8, 0, 0, 0, 1, 2][..];
        assert!(read_frame(&mut truncated).is_err());
        let mut half_header = &[5u8, 0][..];
        assert!(read_frame(&mut half_header).is_err());
        assert!(parse_request(&[1, 2, 3]).is_err());
        assert!(parse_request(&[1; 15]).is_err());
        assert!(parse_reply(vec![0; 11]).is_err());
    }
}
