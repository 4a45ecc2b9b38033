//! The stdio framing between the client and rmcp. Every line the client
//! sends is looked at before rmcp sees it: a line that is not JSON gets a
//! JSON-RPC parse error (-32700) and a line too long for any request the
//! gateway accepts gets an invalid-request error (-32600), both with a null
//! id, as JSON-RPC 2.0 says, instead of the silence rmcp answers them with.
//! Everything else goes to rmcp unchanged.
//!
//! One writer owns stdout, so rmcp's answers and these errors leave as
//! whole lines, in order, and nothing else can reach the protocol's stream.

use std::io;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader, DuplexStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// The longest line passed on, in bytes. The gateway refuses call bodies
/// over 32 MiB, and an action's input may be up to 24 MiB, which rmcp's
/// own 16 MiB default would drop without a word; a request line carries
/// the body and a few hundred bytes of envelope, so 33 MiB lets through
/// every call the gateway can accept and answers the rest at once.
pub const MAX_LINE_BYTES: usize = 33 * 1024 * 1024;

/// Bytes buffered between the framing and rmcp in each direction.
const PIPE_BYTES: usize = 256 * 1024;

/// Error answers waiting for the writer; a client that floods garbage and
/// never reads makes the reader wait rather than the queue grow.
const QUEUED_ANSWERS: usize = 64;

/// The two ends rmcp serves on, and the tasks that join them to stdio.
/// Each is one end of an in-memory pipe used in one direction; dropping
/// the other end is the end of the stream.
pub struct Framing {
    /// What rmcp reads: the client's lines that may be messages.
    pub input: DuplexStream,
    /// What rmcp writes: its answers, one JSON-RPC message per line.
    pub output: DuplexStream,
    /// Ends when rmcp's output is closed and written out.
    pub writer: JoinHandle<io::Result<()>>,
}

/// Starts the framing over the process's stdin and stdout. `hang_up` is
/// cancelled when stdin ends or fails: the client is gone.
pub fn start<R, W>(stdin: R, stdout: W, hang_up: CancellationToken) -> Framing
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (input, to_rmcp) = tokio::io::duplex(PIPE_BYTES);
    let (from_rmcp, output) = tokio::io::duplex(PIPE_BYTES);
    let (answers, queued) = mpsc::channel(QUEUED_ANSWERS);
    tokio::spawn(async move {
        // An error here means rmcp stopped reading: the session is over.
        let _ = read_client(stdin, to_rmcp, answers).await;
        hang_up.cancel();
    });
    let writer = tokio::spawn(write_out(from_rmcp, queued, stdout));
    Framing {
        input,
        output,
        writer,
    }
}

/// What one read from the client gave.
enum Line {
    /// A whole line in the buffer: its newline included, or the last line
    /// of the input without one (rmcp parses that too).
    Complete,
    /// A line over [`MAX_LINE_BYTES`], read and thrown away.
    TooLong,
    /// The end of input.
    End,
}

/// Reads the client's lines until stdin ends, passing messages to rmcp
/// and sending an error answer for each line that cannot be one.
async fn read_client<R: AsyncRead + Unpin>(
    stdin: R,
    mut to_rmcp: DuplexStream,
    answers: mpsc::Sender<Vec<u8>>,
) -> io::Result<()> {
    let mut stdin = BufReader::with_capacity(PIPE_BYTES, stdin);
    let mut line = Vec::new();
    loop {
        line.clear();
        let answer = match read_line(&mut stdin, &mut line).await? {
            Line::End => return Ok(()),
            Line::TooLong => error_line(-32600, "Invalid Request: the message is too long"),
            Line::Complete => {
                let message = line.trim_ascii_end();
                let message = message.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(message);
                if message.is_empty() {
                    continue;
                }
                if serde_json::from_slice::<serde::de::IgnoredAny>(message).is_ok() {
                    // rmcp's own parser does not skip a byte-order mark.
                    to_rmcp.write_all(message).await?;
                    to_rmcp.write_all(b"\n").await?;
                    continue;
                }
                error_line(-32700, "Parse error: the line is not a JSON value")
            }
        };
        tracing::debug!("answered an unusable line from the client");
        if answers.send(answer).await.is_err() {
            return Ok(());
        }
    }
}

/// Reads one line into `line` without holding more than
/// [`MAX_LINE_BYTES`] of it, line ending aside.
async fn read_line<R: AsyncRead + Unpin>(
    stdin: &mut BufReader<R>,
    line: &mut Vec<u8>,
) -> io::Result<Line> {
    // Bytes of the line read so far, kept or not.
    let mut length = 0usize;
    loop {
        let available = stdin.fill_buf().await?;
        if available.is_empty() {
            return Ok(match length {
                0 => Line::End,
                _ => judge(line, length),
            });
        }
        let (chunk, complete) = match newline_at(available) {
            Some(at) => (&available[..=at], true),
            None => (available, false),
        };
        let used = chunk.len();
        length = length.saturating_add(used);
        // Room for the longest line and a CRLF; past that it is too long.
        if length <= MAX_LINE_BYTES + 2 {
            line.extend_from_slice(chunk);
        }
        stdin.consume(used);
        if complete {
            return Ok(judge(line, length));
        }
    }
}

/// Whether a line of `length` bytes, of which `line` holds the start, is
/// within [`MAX_LINE_BYTES`] once its line ending is set aside.
fn judge(line: &[u8], length: usize) -> Line {
    if length > MAX_LINE_BYTES + 2 {
        return Line::TooLong;
    }
    let content = line.strip_suffix(b"\n").unwrap_or(line);
    let content = content.strip_suffix(b"\r").unwrap_or(content);
    if content.len() > MAX_LINE_BYTES {
        Line::TooLong
    } else {
        Line::Complete
    }
}

fn newline_at(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == b'\n')
}

/// A JSON-RPC error answer with a null id, newline included.
fn error_line(code: i32, message: &str) -> Vec<u8> {
    let answer = serde_json::json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": {"code": code, "message": message},
    });
    let mut line = answer.to_string().into_bytes();
    line.push(b'\n');
    line
}

/// Writes rmcp's lines and the framing's own answers to stdout, each
/// whole, until rmcp closes its output.
async fn write_out<W: AsyncWrite + Unpin>(
    from_rmcp: DuplexStream,
    mut queued: mpsc::Receiver<Vec<u8>>,
    mut stdout: W,
) -> io::Result<()> {
    let mut from_rmcp = BufReader::with_capacity(PIPE_BYTES, from_rmcp);
    // `read_until` keeps what it read in `line` when the other branch wins,
    // so a line is never split.
    let mut line = Vec::new();
    loop {
        tokio::select! {
            read = from_rmcp.read_until(b'\n', &mut line) => {
                if read? == 0 {
                    break;
                }
                if line.ends_with(b"\n") {
                    stdout.write_all(&line).await?;
                    stdout.flush().await?;
                    line.clear();
                }
            }
            Some(answer) = queued.recv() => {
                stdout.write_all(&answer).await?;
                stdout.flush().await?;
            }
        }
    }
    while let Ok(answer) = queued.try_recv() {
        stdout.write_all(&answer).await?;
    }
    stdout.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    /// Runs the framing over `input` and returns what rmcp would read and
    /// what reached stdout, with rmcp echoing nothing.
    async fn frame(input: Vec<u8>) -> (Vec<u8>, Vec<u8>) {
        let (stdout, mut written) = tokio::io::duplex(1 << 20);
        let hang_up = CancellationToken::new();
        let mut framing = start(std::io::Cursor::new(input), stdout, hang_up.clone());
        let mut to_rmcp = Vec::new();
        framing.input.read_to_end(&mut to_rmcp).await.unwrap();
        assert!(hang_up.is_cancelled(), "the end of stdin is a hang-up");
        drop(framing.output);
        framing.writer.await.unwrap().unwrap();
        let mut out = Vec::new();
        written.read_to_end(&mut out).await.unwrap();
        (to_rmcp, out)
    }

    fn answers(out: &[u8]) -> Vec<serde_json::Value> {
        out.split(|&b| b == b'\n')
            .filter(|line| !line.is_empty())
            .map(|line| serde_json::from_slice(line).unwrap())
            .collect()
    }

    #[tokio::test]
    async fn messages_pass_and_garbage_gets_a_parse_error() {
        let input = b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\r\n\
            not json\n\n   \n[[[[\n\xEF\xBB\xBF{\"a\":1}\n{\"unterminated\":"
            .to_vec();
        let (to_rmcp, out) = frame(input).await;
        assert_eq!(
            to_rmcp,
            b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\n{\"a\":1}\n"
        );
        let answers = answers(&out);
        assert_eq!(answers.len(), 3, "one answer per line that is not JSON");
        for answer in answers {
            assert_eq!(answer["error"]["code"], -32700);
            assert_eq!(answer["id"], serde_json::Value::Null);
        }
    }

    #[tokio::test]
    async fn a_line_too_long_is_answered_and_the_next_one_passes() {
        let mut input = format!("{{\"pad\":\"{}\"}}\n", "x".repeat(MAX_LINE_BYTES)).into_bytes();
        input.extend_from_slice(b"{\"after\":true}\n");
        let (to_rmcp, out) = frame(input).await;
        assert_eq!(to_rmcp, b"{\"after\":true}\n");
        let answers = answers(&out);
        assert_eq!(answers.len(), 1);
        assert_eq!(answers[0]["error"]["code"], -32600);
    }

    #[tokio::test]
    async fn a_last_message_without_a_newline_still_passes() {
        let (to_rmcp, out) = frame(b"{\"id\":1}\n{\"id\":2}".to_vec()).await;
        assert_eq!(to_rmcp, b"{\"id\":1}\n{\"id\":2}\n");
        assert!(out.is_empty());
    }

    #[tokio::test]
    async fn one_byte_over_the_limit_is_too_long_with_either_line_ending() {
        let pad = MAX_LINE_BYTES + 1 - "{\"pad\":\"\"}".len();
        for ending in ["\n", "\r\n", ""] {
            let input = format!("{{\"pad\":\"{}\"}}{ending}", "x".repeat(pad)).into_bytes();
            let (to_rmcp, out) = frame(input).await;
            assert!(to_rmcp.is_empty(), "{ending:?}");
            assert_eq!(answers(&out)[0]["error"]["code"], -32600, "{ending:?}");
        }
    }

    #[tokio::test]
    async fn a_line_at_the_limit_passes_whole() {
        let pad = MAX_LINE_BYTES - "{\"pad\":\"\"}".len();
        let input = format!("{{\"pad\":\"{}\"}}\r\n", "x".repeat(pad)).into_bytes();
        let (to_rmcp, out) = frame(input.clone()).await;
        assert_eq!(
            to_rmcp.len(),
            MAX_LINE_BYTES + 1,
            "the line, without its CR"
        );
        assert!(out.is_empty());
    }
}
