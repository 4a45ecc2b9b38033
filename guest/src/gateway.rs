//! The gateway client: one HTTP request over wasi:http under one deadline
//! that covers connecting, the response headers and the whole body, with
//! the body capped at 8 MiB.
//!
//! It uses the raw `wasip2` outgoing handler rather than an async client
//! because that reports the host's error codes exactly, and the codes
//! decide whether a mutation may have reached the gateway.

use aipermission_core::args::{GatewayRequest, Method};
use aipermission_core::outcome::{Failure, MAX_RESPONSE_BYTES};
use wasip2::clocks::monotonic_clock;
use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    ErrorCode, Fields, FutureIncomingResponse, IncomingResponse, Method as HttpMethod,
    OutgoingBody, OutgoingRequest, RequestOptions, Scheme,
};
use wasip2::io::poll::{self, Pollable};
use wasip2::io::streams::{InputStream, OutputStream, StreamError};

/// Bytes asked for per body read.
const READ_CHUNK: u64 = 64 * 1024;

/// A complete answer from the gateway.
pub struct Answer {
    pub status: u16,
    pub retry_after: Option<String>,
    pub body: Vec<u8>,
}

/// The point in monotonic time at which the request gives up.
struct Deadline {
    at: monotonic_clock::Instant,
    ms: u32,
}

impl Deadline {
    fn timer(&self) -> Pollable {
        monotonic_clock::subscribe_instant(self.at)
    }

    fn failure(&self) -> Failure {
        Failure::Timeout { ms: self.ms }
    }

    /// The failure a host error code means. Past the deadline, any failure
    /// that may have come after dispatch is the deadline's doing: the host
    /// bounds its own waits a little later than the component does.
    fn classify(&self, code: ErrorCode) -> Failure {
        match classify(code) {
            Failure::Unavailable if monotonic_clock::now() >= self.at => self.failure(),
            failure => failure,
        }
    }

    /// Waits until `ready` is ready or the deadline passes.
    fn wait(&self, ready: &Pollable) -> Result<(), Failure> {
        let timer = self.timer();
        let woken = poll::poll(&[ready, &timer]);
        if woken.contains(&0) {
            Ok(())
        } else {
            Err(self.failure())
        }
    }
}

/// Sends `request` to the gateway at `authority` and reads the whole
/// answer before `timeout_ms` milliseconds have passed. `bearer` is the
/// `Authorization` value when the component holds the token; our host
/// holds it and adds the header itself.
pub fn send(
    authority: &str,
    bearer: Option<&str>,
    request: &GatewayRequest,
    timeout_ms: u32,
) -> Result<Answer, Failure> {
    let budget_ns = u64::from(timeout_ms) * 1_000_000;
    let deadline = Deadline {
        at: monotonic_clock::now().saturating_add(budget_ns),
        ms: timeout_ms,
    };

    let outgoing = build(authority, bearer, request)?;
    // Ask the host to stop waiting at the same deadline; it clamps these too.
    let options = RequestOptions::new();
    for set in [
        RequestOptions::set_connect_timeout,
        RequestOptions::set_first_byte_timeout,
        RequestOptions::set_between_bytes_timeout,
    ] {
        // Refusal only means the host keeps its own bounds.
        let _ = set(&options, Some(budget_ns));
    }

    // The body handle must be taken before the request is handed over.
    let body = match request.body {
        Some(_) => Some(outgoing.body().map_err(|()| Failure::Unavailable)?),
        None => None,
    };
    let future =
        outgoing_handler::handle(outgoing, Some(options)).map_err(|c| deadline.classify(c))?;
    if let (Some(body), Some(bytes)) = (body, &request.body) {
        // A failed write is explained by the response future below (for
        // example a request the host's policy refused), so it is not
        // reported on its own.
        let _ = write_body(body, bytes.as_bytes(), &deadline);
    }

    let response = wait_response(&future, &deadline)?;
    drop(future);
    read_answer(response, &deadline)
}

/// The outgoing request, with only the headers the gateway needs: the
/// host adds `Host`, and `Authorization` unless `bearer` is given.
fn build(
    authority: &str,
    bearer: Option<&str>,
    request: &GatewayRequest,
) -> Result<OutgoingRequest, Failure> {
    let headers = Fields::new();
    if let Some(bearer) = bearer {
        // Checked when the settings were read; nothing has been sent.
        headers
            .append("authorization", bearer.as_bytes())
            .map_err(|_| Failure::NotDispatched { denied: false })?;
    }
    if request.body.is_some() {
        headers
            .append("content-type", b"application/json")
            .map_err(|_| Failure::Unavailable)?;
    }
    let outgoing = OutgoingRequest::new(headers);
    let method = match request.method {
        Method::Get => HttpMethod::Get,
        Method::Post => HttpMethod::Post,
    };
    let set = [
        outgoing.set_method(&method),
        outgoing.set_scheme(Some(&Scheme::Http)),
        outgoing.set_authority(Some(authority)),
        outgoing.set_path_with_query(Some(&request.path)),
    ];
    if set.iter().any(Result::is_err) {
        // Only an unusable origin or path gets here, before anything is sent.
        return Err(Failure::NotDispatched { denied: false });
    }
    Ok(outgoing)
}

fn write_body(body: OutgoingBody, mut bytes: &[u8], deadline: &Deadline) -> Result<(), Failure> {
    let stream = body.write().map_err(|()| Failure::Unavailable)?;
    let written = write_all(&stream, &mut bytes, deadline);
    drop(stream);
    written?;
    OutgoingBody::finish(body, None).map_err(|_| Failure::Unavailable)
}

fn write_all(stream: &OutputStream, bytes: &mut &[u8], deadline: &Deadline) -> Result<(), Failure> {
    let ready = stream.subscribe();
    while !bytes.is_empty() {
        let room = stream.check_write().map_err(|_| Failure::Unavailable)?;
        if room == 0 {
            deadline.wait(&ready)?;
            continue;
        }
        let take = bytes.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        stream
            .write(&bytes[..take])
            .map_err(|_| Failure::Unavailable)?;
        *bytes = &bytes[take..];
    }
    stream.flush().map_err(|_| Failure::Unavailable)?;
    // The flush is done once the stream accepts writes again.
    loop {
        match stream.check_write() {
            Ok(0) => deadline.wait(&ready)?,
            Ok(_) => return Ok(()),
            Err(_) => return Err(Failure::Unavailable),
        }
    }
}

fn wait_response(
    future: &FutureIncomingResponse,
    deadline: &Deadline,
) -> Result<IncomingResponse, Failure> {
    let ready = future.subscribe();
    loop {
        match future.get() {
            Some(Ok(Ok(response))) => return Ok(response),
            Some(Ok(Err(code))) => return Err(deadline.classify(code)),
            // Only possible if the response was already taken.
            Some(Err(())) => return Err(Failure::Unavailable),
            None => deadline.wait(&ready)?,
        }
    }
}

fn read_answer(response: IncomingResponse, deadline: &Deadline) -> Result<Answer, Failure> {
    let status = response.status();
    let retry_after = response
        .headers()
        .get("retry-after")
        .into_iter()
        .next()
        .and_then(|value| String::from_utf8(value).ok());
    let body = response.consume().map_err(|()| Failure::Unavailable)?;
    let stream = body.stream().map_err(|()| Failure::Unavailable)?;
    let bytes = read_all(&stream, deadline);
    drop(stream);
    drop(body);
    Ok(Answer {
        status,
        retry_after,
        body: bytes?,
    })
}

fn read_all(stream: &InputStream, deadline: &Deadline) -> Result<Vec<u8>, Failure> {
    let ready = stream.subscribe();
    let mut body = Vec::new();
    loop {
        match stream.read(READ_CHUNK) {
            Ok(chunk) if chunk.is_empty() => deadline.wait(&ready)?,
            Ok(chunk) => {
                if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                    return Err(Failure::Unavailable);
                }
                body.extend_from_slice(&chunk);
            }
            Err(StreamError::Closed) => return Ok(body),
            Err(StreamError::LastOperationFailed(err)) => {
                let code = wasip2::http::types::http_error_code(&err);
                return Err(code.map_or(Failure::Unavailable, |c| deadline.classify(c)));
            }
        }
    }
}

/// Which failures prove that nothing reached the gateway: the host's
/// policy refused the request, or no connection could be made. Every
/// other failure may have happened after the request was sent.
fn classify(code: ErrorCode) -> Failure {
    match code {
        ErrorCode::HttpRequestDenied => Failure::NotDispatched { denied: true },
        ErrorCode::ConnectionRefused
        | ErrorCode::ConnectionTimeout
        | ErrorCode::DnsError(_)
        | ErrorCode::DnsTimeout
        | ErrorCode::DestinationNotFound
        | ErrorCode::DestinationUnavailable
        | ErrorCode::DestinationIpProhibited
        | ErrorCode::DestinationIpUnroutable => Failure::NotDispatched { denied: false },
        _ => Failure::Unavailable,
    }
}
