//! NDJSON framing over any async reader/writer, with a per-line size limit.

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWrite, AsyncWriteExt};

/// The longest line accepted (1 MiB, not counting the newline).
pub const MAX_LINE: usize = 1024 * 1024;

pub enum Frame {
    Line(Vec<u8>),
    /// A line over the limit, already skipped.
    TooLong,
}

/// Reads lines without ever holding more than `max` bytes of one.
pub struct LineReader<R> {
    inner: R,
    max: usize,
}

impl<R: AsyncBufRead + Unpin> LineReader<R> {
    pub fn new(inner: R, max: usize) -> Self {
        LineReader { inner, max }
    }

    /// The next line without its `\n` (a `\r` before it is dropped too); `None` at end of input.
    pub async fn next(&mut self) -> std::io::Result<Option<Frame>> {
        let mut buf = Vec::new();
        let mut overflow = false;
        loop {
            let available = self.inner.fill_buf().await?;
            if available.is_empty() {
                return Ok(match (buf.is_empty(), overflow) {
                    (_, true) => Some(Frame::TooLong),
                    (true, false) => None,
                    (false, false) => Some(Frame::Line(buf)),
                });
            }
            let (chunk, done) = match available.iter().position(|b| *b == b'\n') {
                Some(i) => (&available[..i], Some(i + 1)),
                None => (available, None),
            };
            if !overflow {
                if buf.len() + chunk.len() > self.max {
                    overflow = true;
                    buf = Vec::new();
                } else {
                    buf.extend_from_slice(chunk);
                }
            }
            let used = done.unwrap_or(available.len());
            self.inner.consume(used);
            if done.is_some() {
                if overflow {
                    return Ok(Some(Frame::TooLong));
                }
                if buf.last() == Some(&b'\r') {
                    buf.pop();
                }
                return Ok(Some(Frame::Line(buf)));
            }
        }
    }
}

/// Writes already-framed lines and flushes them.
pub async fn write_all<W: AsyncWrite + Unpin>(w: &mut W, bytes: &[u8]) -> std::io::Result<()> {
    w.write_all(bytes).await?;
    w.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn frames(input: &[u8], max: usize) -> Vec<Option<Vec<u8>>> {
        let mut r = LineReader::new(tokio::io::BufReader::with_capacity(7, input), max);
        let mut out = vec![];
        while let Some(f) = r.next().await.unwrap() {
            out.push(match f {
                Frame::Line(l) => Some(l),
                Frame::TooLong => None,
            });
        }
        out
    }

    #[tokio::test]
    async fn splits_lines_and_skips_overlong_ones() {
        let out = frames(b"abc\r\n0123456789012\nxy\nlast", 10).await;
        assert_eq!(
            out,
            vec![
                Some(b"abc".to_vec()),
                None,
                Some(b"xy".to_vec()),
                Some(b"last".to_vec())
            ]
        );
    }

    #[tokio::test]
    async fn empty_input_is_the_end() {
        assert!(frames(b"", 10).await.is_empty());
    }
}
