//! Scripted connections: the stand-in reads one request by hand and then
//! answers with raw bytes, pauses, a reset or silence, to produce the
//! transport faults a real HTTP server would never make on purpose
//! (delayed headers, a body that stalls, a Content-Length that lies, a
//! connection reset after the request was read).

use std::time::{Duration, Instant};

use http::HeaderMap;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::Seen;

/// One step of a scripted answer.
#[derive(Clone, Debug)]
pub enum Step {
    /// Send these bytes as they are.
    Write(Vec<u8>),
    /// Wait before the next step.
    Sleep(Duration),
    /// Abort the connection with a TCP reset.
    Reset,
    /// Send nothing more and wait until the client closes the connection.
    Hold,
}

impl Step {
    /// A complete HTTP/1.1 response head with a JSON content type.
    pub fn head(status: u16, content_length: usize) -> Step {
        Step::Write(
            format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n\
                 content-length: {content_length}\r\n\r\n"
            )
            .into_bytes(),
        )
    }

    pub fn text(text: &str) -> Step {
        Step::Write(text.as_bytes().to_vec())
    }

    pub fn sleep_ms(ms: u64) -> Step {
        Step::Sleep(Duration::from_millis(ms))
    }
}

/// Reads one request from `stream`, hands it to `record` at once, then
/// plays `steps`. Returns when the client closed the connection, if it
/// did while a step was writing or holding.
pub async fn play(
    mut stream: TcpStream,
    steps: &[Step],
    record: impl FnOnce(Seen),
) -> Option<Instant> {
    record(read_request(&mut stream).await?);
    for step in steps {
        match step {
            Step::Write(bytes) => {
                // A write fails once the client has closed the connection.
                if stream.write_all(bytes).await.is_err() || stream.flush().await.is_err() {
                    return Some(Instant::now());
                }
            }
            Step::Sleep(pause) => tokio::time::sleep(*pause).await,
            Step::Reset => {
                // A zero linger turns the close into a reset.
                let _ = stream.set_zero_linger();
                return None;
            }
            Step::Hold => {
                let mut sink = [0u8; 1024];
                loop {
                    match stream.read(&mut sink).await {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {}
                    }
                }
                return Some(Instant::now());
            }
        }
    }
    None
}

/// Reads the head and a Content-Length body of one request.
async fn read_request(stream: &mut TcpStream) -> Option<Seen> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = find(&buffer, b"\r\n\r\n") {
            break at;
        }
        let n = stream.read(&mut chunk).await.ok().filter(|n| *n > 0)?;
        buffer.extend_from_slice(&chunk[..n]);
    };

    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split(' ');
    let method = request_line.next()?.to_owned();
    let path = request_line.next()?.to_owned();
    let mut headers = HeaderMap::new();
    for line in lines {
        if let Some((name, value)) = line.split_once(':')
            && let (Ok(name), Ok(value)) = (
                http::HeaderName::from_bytes(name.trim().as_bytes()),
                http::HeaderValue::from_str(value.trim()),
            )
        {
            headers.append(name, value);
        }
    }

    let length = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = buffer[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await.ok().filter(|n| *n > 0)?;
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Seen {
        method,
        path,
        headers,
        body,
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}
