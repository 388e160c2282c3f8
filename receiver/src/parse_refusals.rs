//! hyper's own refusals with the receiver's typed error body.
//!
//! A request whose header hyper cannot take (over [`MAX_HEADER_BYTES`] or [`MAX_HEADERS`]:
//! 431; a request line or field that is not HTTP/1.1: 400) is answered by hyper itself,
//! before any handler runs, with an empty body, and hyper has no hook to change that answer.
//! Every other refusal of the receiver carries `{"error": {"code", "message"}}`, so a client
//! would be told nothing of what to fix. [`TypedParseRefusals`] wraps a connection and puts
//! the typed body into that one answer.
//!
//! hyper's answer is a fixed head, `HTTP/1.1 <status> <reason>` with exactly the fields
//! `connection: close`, `content-length: 0` and `date`, written whole in one write (the wrapper
//! says it takes no vectored writes, so hyper flattens what it writes) and followed by the end
//! of the connection. The receiver's handlers never answer a 400 or 431 without a body, so a
//! write that is exactly such a head can only be hyper's: it is replaced by the same answer
//! with the typed body, and every other byte passes through untouched.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::http_conn::{MAX_HEADER_BYTES, MAX_HEADERS};

/// A connection whose automatic refusals by hyper carry the typed error body.
pub struct TypedParseRefusals<I> {
    inner: I,
    /// The typed answer being written in place of hyper's, and how much of it went out.
    replacement: Vec<u8>,
    sent: usize,
    /// How many bytes of hyper's write the replacement stands for (reported once it is out).
    replaced: usize,
}

impl<I> TypedParseRefusals<I> {
    pub fn new(inner: I) -> Self {
        Self {
            inner,
            replacement: Vec::new(),
            sent: 0,
            replaced: 0,
        }
    }
}

/// The typed answer for hyper's automatic answer `head`, if it is one.
fn typed_answer(head: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(head).ok()?.strip_suffix("\r\n\r\n")?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next()?;
    let (code, message) = match status_line {
        "HTTP/1.1 431 Request Header Fields Too Large" => (
            "header_too_large",
            format!(
                "the request's header is over {MAX_HEADER_BYTES} bytes or {MAX_HEADERS} fields; send only the headers the API documents"
            ),
        ),
        "HTTP/1.1 400 Bad Request" => (
            "malformed_request",
            "the request line or a header field is not HTTP/1.1 (RFC 9112)".to_owned(),
        ),
        _ => return None,
    };
    let mut fields: Vec<&str> = lines.collect();
    fields.sort_unstable();
    let date = match fields.as_slice() {
        ["connection: close", "content-length: 0", date] if date.starts_with("date: ") => date,
        _ => return None,
    };
    let body = serde_json::json!({"error": {"code": code, "message": message}}).to_string();
    Some(
        format!(
            "{status_line}\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{date}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    )
}

impl<I: AsyncWrite + Unpin> TypedParseRefusals<I> {
    /// Writes out the rest of the replacement; `Ready(Ok(()))` once none is left.
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.sent < self.replacement.len() {
            let n =
                ready!(Pin::new(&mut self.inner).poll_write(cx, &self.replacement[self.sent..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.sent += n;
        }
        Poll::Ready(Ok(()))
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for TypedParseRefusals<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for TypedParseRefusals<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.replacement.is_empty() {
            match typed_answer(buf) {
                Some(answer) => {
                    (this.replacement, this.sent, this.replaced) = (answer, 0, buf.len())
                }
                None => return Pin::new(&mut this.inner).poll_write(cx, buf),
            }
        }
        if this.replaced > 0 {
            ready!(this.drain(cx))?;
            // hyper's head counts as written once the typed answer is; hyper closes next.
            return Poll::Ready(Ok(std::mem::take(&mut this.replaced)));
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.drain(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.drain(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    const HEAD_431: &[u8] = b"HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\ncontent-length: 0\r\ndate: Mon, 07 Dec 2026 17:20:15 GMT\r\n\r\n";

    #[test]
    fn only_hypers_empty_refusals_are_replaced() {
        let typed = String::from_utf8(typed_answer(HEAD_431).expect("replaced")).expect("text");
        let (head, body) = typed.split_once("\r\n\r\n").expect("head and body");
        assert!(head.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
        assert!(head.contains("content-type: application/json"));
        assert!(head.contains(&format!("content-length: {}", body.len())));
        assert!(head.ends_with("date: Mon, 07 Dec 2026 17:20:15 GMT"));
        let json: serde_json::Value = serde_json::from_str(body).expect("JSON");
        assert_eq!(json["error"]["code"], "header_too_large");
        let bad = b"HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        assert!(typed_answer(bad).is_some());
        // A handler's answers, with a body or other fields, and anything else pass through.
        for other in [
            &b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 2\r\ndate: x\r\n\r\n{}"[..],
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\ndate: x\r\n\r\n",
            b"HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\ncontent-length: 0\r\ndate: x\r\nx: y\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 0\r\ndate: x\r\n\r\n",
            b"{\"records\": []}",
            &HEAD_431[..HEAD_431.len() - 1],
        ] {
            assert!(typed_answer(other).is_none(), "{}", String::from_utf8_lossy(other));
        }
    }

    #[tokio::test]
    async fn the_typed_answer_goes_out_whole_through_a_narrow_pipe() {
        // A pipe that takes 7 bytes at a time: the replacement is written over many calls.
        let (near, mut far) = tokio::io::duplex(7);
        let mut wrapped = TypedParseRefusals::new(near);
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            far.read_to_end(&mut got).await.expect("reads");
            got
        });
        wrapped.write_all(HEAD_431).await.expect("writes");
        wrapped.shutdown().await.expect("closes");
        drop(wrapped);
        let got = String::from_utf8(reader.await.expect("reader")).expect("text");
        assert_eq!(got.as_bytes(), typed_answer(HEAD_431).expect("typed"));
        // Other bytes pass through as they are.
        let (near, mut far) = tokio::io::duplex(64);
        let mut wrapped = TypedParseRefusals::new(near);
        wrapped
            .write_all(b"HTTP/1.1 200 OK\r\n")
            .await
            .expect("writes");
        drop(wrapped);
        let mut got = Vec::new();
        far.read_to_end(&mut got).await.expect("reads");
        assert_eq!(got, b"HTTP/1.1 200 OK\r\n");
    }
}
